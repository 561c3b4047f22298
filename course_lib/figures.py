"""Figures with one source: what a lesson measured on each seed, and the code that measured it.

A lesson's markdown types no measured figure: code cells print them, and the readings drawn
from them. Its results cell, :func:`course_lib.runner.report_figures`, also shows what the
*other* seeds gave, read from ``notebooks/figures/<notebook>.json``. The runner fills that file:

    python -m course_lib.runner --seeds 1,2 notebooks/03_dcgan.ipynb

executes the lesson with ``COURSE_SEED`` 1 and 2 in scratch copies (the committed notebook is
untouched) and records each run as an *entry*: its figures and checks, budget, date, seconds,
threads, and the code that produced them -- the lesson's code cells up to the results cell, and
each function of the course's own code that ran before it, compared without docstrings or
comments (so a change that cannot move a figure does not stale an entry). An entry whose code
has changed since is **stale**: the lesson shows it apart, and a test fails on it.

Benchmarks record their results the same way, in ``benchmarks/results/<name>.json``
(:func:`record_benchmark`), and a lesson renders them with :func:`benchmark_table`.
"""
from __future__ import annotations

import ast
import contextlib
import copy
import hashlib
import json
import os
import platform
import sys
import time
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable

import torch

from .config import get_device, repo_root
from .io import write_atomic

PACKAGE = Path(__file__).resolve().parent
ROOT = repo_root() or PACKAGE.parent
MODULE = "<module>"  # the unit of a file's top-level statements: constants and class fields
# code that shows or records figures but cannot move one: left out of an entry's code
PLUMBING = ("course_lib/figures.py", "course_lib/runner.py", "course_lib/progress.py", "course_lib/widgets.py")


def figures_path(notebook: str) -> Path:
    """``<folder>/<notebook>.json``, the folder beside the notebooks (``COURSE_FIGURES``, which
    the runner sets for its kernels, else ``notebooks/figures/`` of the checkout)."""
    folder = os.environ.get("COURSE_FIGURES") or ROOT / "notebooks" / "figures"
    return Path(folder) / f"{notebook}.json"


def benchmark_path(name: str, folder: Path | None = None) -> Path:
    """``benchmarks/results/<name>.json`` of the checkout (or ``folder/<name>.json``)."""
    return Path(folder or ROOT / "benchmarks" / "results") / f"{name}.json"


# ------------------------------------------------------------------ which code ran
_traced: set | None = None


def start_trace() -> None:
    """Remember every Python function that runs from now on (the runner's kernels and the
    benchmarks call this; :func:`traced_code` says which of them are the course's own)."""
    global _traced
    _traced = codes = set()
    frame = sys._getframe(1)
    while frame is not None:  # the functions running now (e.g. setup_notebook) ran too
        codes.add(frame.f_code)
        frame = frame.f_back

    def tracer(frame, event, arg):
        codes.add(frame.f_code)
        return None  # no line events: one call per function call

    sys.settrace(tracer)


def stop_trace() -> None:
    """Stop remembering (what was traced so far stays readable by :func:`traced_code`)."""
    sys.settrace(None)


def traced_code() -> dict[str, str]:
    """``{unit: digest}`` of the course's own code that ran since :func:`start_trace`: each
    function of ``course_lib`` or ``benchmarks`` (a method as ``Class.method``, a nested
    function as the function around it) and each touched file's top-level statements."""
    if _traced is None:
        return {}
    units = set()
    for code in list(_traced):
        path = Path(code.co_filename)
        if path.suffix == ".py" and path.is_file() and _ours(path) and _relative(path) not in PLUMBING:
            name = _unit_at(_relative(path), code.co_firstlineno)
            units |= {f"{_relative(path)}::{name}", f"{_relative(path)}::{MODULE}"}
    return {unit: unit_digest(unit) for unit in sorted(units)}


def _ours(path: Path) -> bool:
    path = path.resolve()
    return any(path.is_relative_to(root) for root in (PACKAGE, ROOT / "benchmarks"))


def _relative(path: Path) -> str:
    return path.resolve().relative_to(ROOT).as_posix()


@lru_cache(maxsize=None)
def _tree(relative: str, stamp: float) -> ast.Module:
    return ast.parse((ROOT / relative).read_text(encoding="utf-8"))


def _parse(relative: str) -> ast.Module | None:
    path = ROOT / relative
    return _tree(relative, path.stat().st_mtime) if path.is_file() else None


def _defs(body: list) -> Iterable[ast.AST]:
    return (n for n in body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)))


def _span(node: ast.AST) -> tuple[int, int]:
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return first, node.end_lineno


def _unit_at(relative: str, line: int) -> str:
    """The unit whose code starts at ``line``: the top-level function or method around it."""
    for node in _defs(_parse(relative).body):
        first, last = _span(node)
        if first <= line <= last and isinstance(node, ast.ClassDef):
            for method in _defs(node.body):
                if _span(method)[0] <= line <= _span(method)[1] and not isinstance(method, ast.ClassDef):
                    return f"{node.name}.{method.name}"
            return MODULE  # the class body itself: its fields are top-level statements
        if first <= line <= last:
            return node.name
    return MODULE


def _without_docstrings(node: ast.AST) -> ast.AST:
    node = copy.deepcopy(node)
    for n in ast.walk(node):
        body = getattr(n, "body", None)
        if (isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            n.body = body[1:] or [ast.Pass()]
    return node


def _skeleton(tree: ast.Module) -> ast.Module:
    """A module's top-level statements that can change what its functions compute: constants and
    class bodies (fields, bases, decorators). Functions and methods are units of their own, and
    imports only bind names, so adding a function or an import stales nothing."""
    skeleton = _without_docstrings(tree)
    keep = lambda body: [n for n in body if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                               ast.Import, ast.ImportFrom))]
    skeleton.body = keep(skeleton.body)
    for node in skeleton.body:
        if isinstance(node, ast.ClassDef):
            node.body = keep(node.body) or [ast.Pass()]
    return skeleton


def _find(tree: ast.Module, name: str) -> ast.AST | None:
    if name == MODULE:
        return _skeleton(tree)
    parts, body = name.split("."), tree.body
    node = None
    for part in parts:
        node = next((n for n in _defs(body) if n.name == part), None)
        if node is None:
            return None
        body = node.body
    return _without_docstrings(node)


def unit_digest(unit: str) -> str:
    """A short sha1 of a unit's code (``"course_lib/losses.py::gradient_penalty"``), without
    docstrings and comments; ``"missing"`` when the file or function no longer exists."""
    relative, name = unit.split("::")
    tree = _parse(relative)
    node = _find(tree, name) if tree is not None else None
    if node is None:
        return "missing"
    return hashlib.sha1(ast.dump(node, include_attributes=False).encode()).hexdigest()[:12]


def cells_digest(notebook: Path) -> str:
    """A short sha1 of a notebook's code cells up to its results cell (the first that calls
    ``report_figures``), compared as code: comments and blank lines do not count."""
    digest = hashlib.sha1()
    for cell in json.loads(Path(notebook).read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        try:
            digest.update(ast.dump(ast.parse(source)).encode())
        except SyntaxError:  # IPython magics: compare the text
            digest.update(source.strip().encode())
        if "report_figures(" in source:
            break
    return digest.hexdigest()[:12]


def code_record(units: dict[str, str], notebook: Path | None = None) -> dict:
    """What an entry keeps of its code: the units' digests, the cells' digest, and one
    fingerprint over both."""
    record = {"units": dict(sorted(units.items()))}
    if notebook is not None:
        record["cells"] = cells_digest(notebook)
    record["fingerprint"] = hashlib.sha1(json.dumps(record, sort_keys=True).encode()).hexdigest()[:12]
    return record


def changed_code(record: dict, notebook: Path | None = None) -> list[str]:
    """What changed since ``record`` was taken: the units whose code differs now, and
    ``"cells"`` when the notebook's code cells do. Empty when the record is fresh."""
    changed = [unit for unit, digest in record.get("units", {}).items() if unit_digest(unit) != digest]
    if notebook is not None and record.get("cells") != cells_digest(notebook):
        changed.append(f"the code cells of {Path(notebook).name}")
    return changed


def machine() -> dict:
    """Where a run happened: the provenance kept beside its figures."""
    device = get_device()
    return {"device": device.type + (f" ({torch.cuda.get_device_name(0)})" if device.type == "cuda" else ""),
            "threads": torch.get_num_threads(), "cores": os.cpu_count(), "machine": platform.machine(),
            "python": platform.python_version(), "torch": torch.__version__.split("+")[0],
            "date": time.strftime("%Y-%m-%d")}


# ------------------------------------------------------------------ figures files
@contextlib.contextmanager
def _locked(path: Path):
    """Hold a lock beside ``path`` while reading and rewriting it (two runs side by side)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "w") as handle:
        try:
            import fcntl
            fcntl.flock(handle, fcntl.LOCK_EX)
        except ImportError:  # Windows: runs side by side are not supported there
            pass
        yield


def load_figures(notebook: str) -> list[dict]:
    """The entries recorded for a notebook (empty when none are, or outside a checkout)."""
    path = figures_path(notebook)
    return json.loads(path.read_text(encoding="utf-8"))["entries"] if path.is_file() else []


def record_figures(notebook: str, entry: dict) -> Path:
    """Add ``entry`` (a run's ``seed``, ``budget``, figures, checks, provenance and code) to
    the notebook's figures file, replacing the entry of the same seed and budget."""
    path = figures_path(notebook)
    with _locked(path):
        key = lambda e: (e["budget"], e["seed"])
        entries = [e for e in load_figures(notebook) if key(e) != key(entry)] + [entry]
        entries.sort(key=key)
        write_atomic(path, json.dumps({"notebook": notebook, "entries": entries}, indent=1) + "\n")
    return path


def fresh_entries(notebook: str, budget: str) -> tuple[list[dict], dict[int, list[str]]]:
    """The entries of ``budget`` whose code is unchanged, and for each stale seed what changed."""
    path = figures_path(notebook).parent.parent / f"{notebook}.ipynb"
    fresh, stale = [], {}
    for entry in load_figures(notebook):
        if entry["budget"] != budget:
            continue
        changed = changed_code(entry["code"], path if path.is_file() else None)
        if changed:
            stale[entry["seed"]] = changed
        else:
            fresh.append(entry)
    return fresh, stale


def short(value) -> str:
    """A figure as printed: floats with at most 6 significant digits (a lesson rounds what it
    reports), booleans as yes / no."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def reading(held: list[bool]) -> str:
    """How often a check held over the seeds, in words."""
    n, k = len(held), sum(held)
    if n == 1:
        return "held (no other seed recorded)" if k else "failed (no other seed recorded)"
    if k == n:
        return f"held on every seed ({k} of {n})"
    return f"held on {k} of {n} seeds" if k else f"held on none of {n} seeds"


def seed_table(columns: dict[int, dict], checks: dict[int, dict], current: int | None = None) -> str:
    """Figures and checks per seed, side by side, with the spread of each numeric figure and
    how often each check held. ``columns``: ``{seed: {figure: value}}``; ``checks``: ``{seed:
    {check: bool}}``; ``current``: the seed of this run (marked)."""
    seeds = sorted(columns)
    head = [f"seed {s}" + (" (this run)" if s == current else "") for s in seeds]
    names = list(dict.fromkeys(k for s in seeds for k in columns[s]))
    rows = []
    for name in names:
        values = [columns[s].get(name) for s in seeds]
        numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
        spread = ("" if len(numbers) != len(values) or len(values) < 2 else
                  "the same" if min(numbers) == max(numbers) else f"{short(min(numbers))} to {short(max(numbers))}")
        rows.append([name] + ["-" if v is None else short(v) for v in values] + [spread])
    check_names = list(dict.fromkeys(k for s in seeds for k in checks.get(s, {})))
    check_rows = []
    for name in check_names:
        values = [checks.get(s, {}).get(name) for s in seeds]
        known = [v for v in values if v is not None]
        check_rows.append([name] + ["-" if v is None else ("yes" if v else "NO") for v in values]
                          + [reading(known)])
    table = [["figure"] + head + ["spread" if len(seeds) > 1 else ""]] + rows
    if check_rows:
        table += [["check"] + [""] * len(seeds) + [""]] + check_rows
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in table)


# ------------------------------------------------------------------ benchmarks
def record_benchmark(name: str, row: dict, argv: list[str] | None = None, folder: Path | None = None) -> Path:
    """Append one result ``row`` (``{"config": ..., "seed": ..., figures...}``) of benchmark
    ``name`` to ``benchmarks/results/<name>.json``, with the command, provenance and the code
    that ran (call :func:`start_trace` first)."""
    path = benchmark_path(name, folder)
    argv = sys.argv if argv is None else argv
    script = Path(argv[0]).resolve()
    script = _relative(script) if script.is_relative_to(ROOT) else script.name
    entry = {**row, "command": " ".join(["python", script] + list(argv[1:])),
             **machine(), "code": code_record(traced_code())}
    with _locked(path):
        rows = json.loads(path.read_text(encoding="utf-8"))["rows"] if path.is_file() else []
        write_atomic(path, json.dumps({"benchmark": name, "rows": rows + [entry]}, indent=1) + "\n")
    return path


def benchmark_rows(name: str, where: Callable[[dict], bool] = lambda row: True,
                   folder: Path | None = None) -> list[dict]:
    """The newest recorded row of benchmark ``name`` for each configuration and seed that
    ``where`` keeps, each with ``"stale"``: the code that changed since it ran (empty if none)."""
    path = benchmark_path(name, folder)
    rows = json.loads(path.read_text(encoding="utf-8"))["rows"] if path.is_file() else []
    newest = {}
    for row in rows:
        if where(row):
            newest[(row["config"], row["seed"])] = row
    return [{**row, "stale": changed_code(row["code"])} for row in newest.values()]


def benchmark_table(rows: list[dict], columns: dict[str, str]) -> str:
    """Rows of :func:`benchmark_rows` as text: ``columns`` maps a row's key to its heading;
    a row whose code changed since it ran says so."""
    table = [list(columns.values()) + ["ran on"]]
    for row in rows:
        where = f"{row['date']}, {row['threads']} thread{'s' if row['threads'] > 1 else ''}"
        table.append([short(row.get(key, "-")) for key in columns]
                     + [where + (", NOT RUN ON THIS CODE" if row["stale"] else "")])
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in table)
