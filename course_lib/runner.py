"""Run the course: execute notebooks in place and print one line per notebook.

``python -m course_lib.runner [notebooks ...]`` (what ``make course`` calls) executes every
notebook of ``notebooks/`` in order at the current budget, saving the outputs into the
notebook, and prints the time and the figures each notebook reported with
:func:`report_figures`.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from .config import get_budget, get_seed, minutes_since_setup, results_dir
from .io import write_atomic


def _summary_path(notebook: str) -> Path:
    path = results_dir() / "summaries"
    path.mkdir(parents=True, exist_ok=True)
    return path / f"{notebook}.json"


def report_figures(notebook: str, figures: dict[str, object]) -> None:
    """Print a notebook's headline figures as a small table, and the minutes the notebook has
    run so far against the minutes its setup cell expected; save both for the runner."""
    width = max(len(k) for k in figures) if figures else 0
    for key, value in figures.items():
        print(f"{key:<{width}} : {_short(value)}")
    timing = minutes_since_setup(notebook)
    if timing is not None:
        print(f"this notebook ran {timing[0]:.1f} min up to here (expected about {timing[1]:g} min)")
    write_atomic(_summary_path(notebook), json.dumps(
        {"budget": get_budget(), "figures": figures, "minutes": timing}, indent=1, default=str))


def _short(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def run_notebook(path: Path, timeout: int = 1800) -> tuple[float, dict]:
    """Execute one notebook in place (cwd = its folder). Returns seconds and its figures.

    The notebook's metadata records the run (``course_run``: budget, seed, seconds), so the
    committed file says which run its outputs come from and how long it took."""
    import nbformat
    from nbclient import NotebookClient

    summary = _summary_path(path.stem)
    summary.unlink(missing_ok=True)
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    seconds = time.perf_counter() - start
    nb.metadata["course_run"] = {"budget": get_budget(), "seed": get_seed(), "seconds": round(seconds, 1),
                                 "date": time.strftime("%Y-%m-%d")}
    nbformat.write(nb, path)
    figures = json.loads(summary.read_text())["figures"] if summary.exists() else {}
    return seconds, figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to run (default: every notebooks/*.ipynb in order)")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted(Path("notebooks").glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        print("no notebooks found; run from the repository root", file=sys.stderr)
        return 2
    print(f"running {len(paths)} notebook(s) at budget {get_budget()!r}")
    if os.environ.pop("MPLBACKEND", None):  # a non-inline backend would save the notebooks without figures
        print("MPLBACKEND unset for the kernels, so that the saved notebooks keep their figures")
    failed = 0
    for path in paths:
        try:
            seconds, figures = run_notebook(path, args.timeout)
        except Exception as exc:  # report and go on with the next notebook
            failed += 1
            print(f"{path.name:<32} FAILED: {type(exc).__name__}: {str(exc).splitlines()[-1:]}")
            continue
        shown = ", ".join(f"{k}={_short(v)}" for k, v in figures.items())
        print(f"{path.name:<32} {seconds:7.1f} s   {shown}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
