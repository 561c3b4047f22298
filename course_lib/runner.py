"""Run the course: execute notebooks and record what each one measured.

``python -m course_lib.runner [notebooks ...]`` (what ``make course`` calls) executes every
notebook of ``notebooks/`` in order, in place, at the current budget and ``COURSE_SEED``, and
prints the time and the figures each reported with :func:`report_figures`.

``python -m course_lib.runner --seeds 1,2 notebooks/03_dcgan.ipynb`` executes copies instead
(in ``results/seed-runs/``), so the committed notebook keeps its seed-0 outputs, once per seed.

Every run at the ``cpu`` or ``gpu`` budget is recorded in ``notebooks/figures/<notebook>.json``
(see :mod:`course_lib.figures`), which the lesson's results cell reads to show the other seeds.
The kernels draw text progress bars (``COURSE_PROGRESS=text``), so that a saved notebook shows
each bar's final state, and the notebook's metadata (``course_run``) records the run.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
import time
from pathlib import Path

from . import figures as figures_files
from .config import get_budget, get_seed, minutes_since_setup, results_dir
from .io import write_atomic


def _summary_path(notebook: str) -> Path:
    """Where a kernel leaves its report for the runner (one per seed: runs side by side)."""
    path = results_dir() / "summaries"
    path.mkdir(parents=True, exist_ok=True)
    return path / f"{notebook}-seed{get_seed()}.json"


def _with_other_seeds(notebook: str, figures: dict, checks: dict) -> tuple[dict, dict, dict, str]:
    """This run's figures and checks beside the recorded seeds' (fresh entries at this budget):
    ``(columns, checks per seed, stale seeds, which seeds were recorded)``."""
    budget, seed, threads = get_budget(), get_seed(), figures_files.machine()["threads"]
    fresh, stale = figures_files.fresh_entries(notebook, budget)
    others = [e for e in fresh if e["seed"] != seed]
    columns = {e["seed"]: {k: e["figures"].get(k) for k in figures} | {"(threads of the run)": e["threads"]}
               for e in others}
    columns[seed] = figures | {"(threads of the run)": threads}
    held = {e["seed"]: {k: e.get("checks", {}).get(k) for k in checks} for e in others} | {seed: checks}
    recorded = (", ".join(str(e["seed"]) for e in others) or "none") if figures_files.figures_path(notebook).parent.is_dir() \
        else "none here (the recorded seeds are in notebooks/figures/ of the course's repository)"
    return columns, held, stale, recorded


def show_seeds(notebook: str, figures: dict[str, object], checks: dict[str, bool] | None = None) -> None:
    """Print ``figures`` and ``checks`` of this run beside the same ones on the other recorded
    seeds (e.g. a lesson's targets, before its results cell reports everything)."""
    checks = {name: bool(held) for name, held in (checks or {}).items()}
    columns, held, _, recorded = _with_other_seeds(notebook, figures, checks)
    print(figures_files.seed_table(columns, held, current=get_seed()))
    print(f"other seeds recorded: {recorded}")


def report_figures(notebook: str, figures: dict[str, object], checks: dict[str, bool] | None = None) -> None:
    """The lesson's results cell: print this run's ``figures`` beside those the other recorded
    seeds gave (with the spread of each), how often each of ``checks`` held (a check is a
    reading of the figures, ``{"FID_digits <= 5.0": True, ...}``), where each run happened, and
    the minutes the notebook has run so far; save it all for the runner. Code run after this
    cell cannot move the figures, so the runner's record of the code that ran stops here."""
    figures_files.stop_trace()
    checks = {name: bool(held) for name, held in (checks or {}).items()}
    figures = {name: value.item() if hasattr(value, "item") else value for name, value in figures.items()}
    budget, seed, where = get_budget(), get_seed(), figures_files.machine()
    columns, held, stale, recorded = _with_other_seeds(notebook, figures, checks)
    print(figures_files.seed_table(columns, held, current=seed))
    print(f"\nother seeds recorded at budget {budget}: {recorded}"
          + "".join(f"; seed {s} is stale (its code changed: {', '.join(stale[s][:3])}"
                    f"{', ...' if len(stale[s]) > 3 else ''})" for s in sorted(stale) if s != seed))
    print(f"this run: COURSE_SEED {seed}, budget {budget}, {where['device']}, {where['threads']} thread{'s' if where['threads'] != 1 else ''}, "
          f"torch {where['torch']}, {where['date']}")
    timing = minutes_since_setup(notebook)
    if timing is not None:
        print(f"this notebook ran {timing[0]:.1f} min up to here (expected about {timing[1]:g} min in all)")
    write_atomic(_summary_path(notebook), json.dumps(
        {"budget": budget, "seed": seed, "figures": figures, "checks": checks, "minutes": timing,
         "machine": where, "units": figures_files.traced_code()}, indent=1, default=str))


# ------------------------------------------------------------------ executing notebooks
_CARRIAGE = re.compile(r"[^\n]*\r(?!\n)")


def clean_streams(cell) -> None:
    """Merge a cell's consecutive outputs of the same stream and keep what a terminal shows of
    them: a progress bar redrawn with carriage returns leaves only its last state."""
    merged = []
    for output in cell.get("outputs", []):
        if (output["output_type"] == "stream" and merged and merged[-1]["output_type"] == "stream"
                and merged[-1]["name"] == output["name"]):
            merged[-1]["text"] += output["text"]
        else:
            merged.append(output)
    for output in merged:
        if output["output_type"] == "stream":
            output["text"] = _CARRIAGE.sub("", output["text"].replace("\r\n", "\n"))
    if "outputs" in cell:  # code cells only: a markdown cell with an "outputs" key is invalid nbformat
        cell["outputs"] = merged


@contextlib.contextmanager
def _environment(**values: str | None):
    """Set (or, with None, unset) environment variables for the kernels started inside."""
    old = {k: os.environ.get(k) for k in values}
    for k, v in values.items():
        os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    try:
        yield
    finally:
        for k, v in old.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)


def run_notebook(path: Path, timeout: int = 1800, out: Path | None = None) -> tuple[float, dict]:
    """Execute ``path`` (cwd = its folder) and save the executed notebook to ``out`` (default:
    in place). Returns the seconds it took and what its results cell reported (``{}`` if none).

    The notebook's metadata records the run (``course_run``: budget, seed, seconds, date,
    threads, the code's fingerprint, a digest of all its code cells), and a ``cpu`` or ``gpu``
    run is recorded in its figures file."""
    import nbformat
    from nbclient import NotebookClient

    summary = _summary_path(path.stem)
    summary.unlink(missing_ok=True)
    nb = nbformat.read(path, as_version=4)
    cells = [dict(c) for c in nb.cells]  # the code that runs, read before it runs
    all_cells = figures_files.cells_digest(cells, up_to_results=False)
    start = time.perf_counter()
    with _environment(COURSE_PROGRESS="text", COURSE_TRACE="1", COURSE_FIGURES=str(path.parent.resolve() / "figures")):
        NotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
        seconds = time.perf_counter() - start
        for cell in nb.cells:
            clean_streams(cell)
        report = json.loads(summary.read_text()) if summary.exists() else {}
        if not report:
            print(f"{path.name}: no report_figures({path.stem!r}, ...) ran, so nothing is recorded for it")
        code = figures_files.code_record(report.get("units", {}), cells)
        where = report.get("machine") or figures_files.machine()
        nb.metadata["course_run"] = {"budget": get_budget(), "seed": get_seed(), "seconds": round(seconds, 1),
                                     "date": time.strftime("%Y-%m-%d"), "threads": where["threads"],
                                     "device": where["device"], "torch": where["torch"],
                                     "fingerprint": code["fingerprint"], "code_cells": all_cells}
        nb.metadata.pop("widgets", None)  # text progress bars: no widget state, and none left from an older run
        nbformat.write(nb, out or path)
        if report and get_budget() != "smoke":
            figures_files.record_figures(path.stem, {
                "seed": get_seed(), "budget": get_budget(), "seconds": round(seconds, 1), **where,
                "figures": report["figures"], "checks": report.get("checks", {}), "code": code})
    return seconds, report.get("figures", {})


def _seeds(text: str) -> list[int]:
    """``"1,2"`` -> ``[1, 2]``: non-negative integers, or a clear error."""
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        seeds = [-1]
    if any(s < 0 for s in seeds):
        raise argparse.ArgumentTypeError(f"--seeds takes non-negative integers separated by commas, e.g. 1,2; got {text!r}")
    return seeds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to run (default: every notebooks/*.ipynb in order)")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    parser.add_argument("--seeds", type=_seeds, default=[],
                        help="run copies with these COURSE_SEEDs (e.g. 1,2) instead of the notebooks in place")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads per kernel (e.g. 1 to run two seeds side by side)")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted(Path("notebooks").glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        print("no notebooks found; run from the repository root", file=sys.stderr)
        return 2
    seeds = args.seeds or [None]
    print(f"running {len(paths)} notebook(s) at budget {get_budget()!r}"
          + (f", COURSE_SEED {', '.join(map(str, args.seeds))} into copies" if args.seeds else ""))
    if os.environ.pop("MPLBACKEND", None):  # a non-inline backend would save the notebooks without figures
        print("MPLBACKEND unset for the kernels, so that the saved notebooks keep their figures")
    threads = None if args.threads is None else str(args.threads)
    failed = 0
    for seed in seeds:
        copies = None if seed is None else results_dir() / "seed-runs" / f"seed{seed}"
        settings = ({} if seed is None else {"COURSE_SEED": str(seed)}) | ({} if threads is None else {"OMP_NUM_THREADS": threads})
        with _environment(**settings):
            for path in paths:
                out = None
                if copies is not None:
                    copies.mkdir(parents=True, exist_ok=True)
                    out = copies / path.name
                try:
                    seconds, figures = run_notebook(path, args.timeout, out)
                except Exception as exc:  # report and go on with the next notebook
                    failed += 1
                    last = (str(exc).strip().splitlines() or [""])[-1]
                    print(f"{path.name:<32} FAILED: {type(exc).__name__}: {last}")
                    continue
                shown = ", ".join(f"{k}={figures_files.short(v)}" for k, v in figures.items())
                label = "" if seed is None else f"seed {seed} "
                print(f"{label}{path.name:<32} {seconds:7.1f} s   {shown}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
