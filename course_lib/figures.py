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

from .config import get_device, repo_root, shown_path
from .io import locked, write_atomic

PACKAGE = Path(__file__).resolve().parent
ROOT = repo_root() or PACKAGE.parent
MODULE = "<module>"  # the unit of a file's top-level statements: constants and class fields
FILE = "<file>"      # the unit of a data file the code read: its bytes
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
_traced: set | None = None                      # code objects that ran since start_trace
_sources: dict[str, str] = {}                   # the course's source files as they were when the trace began
_files: set[str] = set()                        # data files the traced code read (weights)
_inherited: dict[str, str] = {}                 # units of the runs whose checkpoints were resumed
_previous_trace = None


def start_trace() -> None:
    """Remember every Python function that runs from now on (the runner's kernels and the
    benchmarks call this; :func:`traced_code` says which of them are the course's own). The
    course's source files are read now, so a file edited during a long run does not change what
    the run records. A trace function already set (a debugger) keeps running."""
    global _traced, _previous_trace
    _traced = codes = set()
    _sources.clear()
    _files.clear()
    _inherited.clear()
    for root in (PACKAGE, ROOT / "benchmarks"):
        for path in root.rglob("*.py") if root.is_dir() else ():
            _sources[_relative(path)] = path.read_text(encoding="utf-8")
    frame = sys._getframe(1)
    while frame is not None:  # the functions running now (e.g. setup_notebook) ran too
        codes.add(frame.f_code)
        frame = frame.f_back
    _previous_trace = previous = sys.gettrace()

    def tracer(frame, event, arg):
        codes.add(frame.f_code)
        return previous(frame, event, arg) if previous else None  # no line events of our own

    sys.settrace(tracer)


def stop_trace() -> None:
    """Stop remembering (what was traced so far stays readable by :func:`traced_code`)."""
    sys.settrace(_previous_trace)


def tracing() -> bool:
    """Whether this process records the code it runs (the runner's kernels, the benchmarks)."""
    return _traced is not None


def note_file(path: Path) -> None:
    """Record that the traced code read ``path`` (weights): its bytes are part of the code record."""
    if tracing() and _ours(Path(path)):
        _files.add(_relative(Path(path)))


def inherit(units: dict[str, str] | None) -> None:
    """A resumed checkpoint's figures come from the code that trained it, not from code that
    runs now: add that code (recorded in the checkpoint) to this run's record. A checkpoint
    written without a record makes the run's entry stale: its code is unknown."""
    if tracing():
        _inherited.update(units if units is not None else {"a checkpoint written without its code::?": "unknown"})


def traced_code() -> dict[str, str]:
    """``{unit: digest}`` of the course's own code that ran since :func:`start_trace`: each
    function of ``course_lib`` or ``benchmarks`` (a method as ``Class.method``, a nested
    function as the function around it), each touched file's top-level statements, the data
    files it read, and the code of any checkpoint it resumed."""
    if _traced is None:
        return {}
    units = {f"{relative}::{FILE}" for relative in _files}
    for code in list(_traced):
        path = Path(code.co_filename)
        if path.suffix == ".py" and path.is_file() and _ours(path):
            relative = _relative(path)
            if relative in _sources and relative not in PLUMBING:
                name = _unit_at(relative, code.co_firstlineno, _sources[relative])
                units |= {f"{relative}::{name}", f"{relative}::{MODULE}"}
    recorded = {unit: unit_digest(unit, _sources.get(unit.split("::")[0])) for unit in units}
    return dict(sorted((recorded | _inherited).items()))


def _ours(path: Path) -> bool:
    path = path.resolve()
    return any(path.is_relative_to(root) for root in (PACKAGE, ROOT / "benchmarks"))


def _relative(path: Path) -> str:
    return path.resolve().relative_to(ROOT).as_posix()


@lru_cache(maxsize=64)
def _tree(text: str) -> ast.Module:
    return ast.parse(text)


def _parse(relative: str, text: str | None = None) -> ast.Module | None:
    """A source file's syntax tree, from ``text`` or from the file as it is now."""
    if text is None:
        path = ROOT / relative
        text = path.read_text(encoding="utf-8") if path.is_file() else None
    return _tree(text) if text is not None else None


def _defs(body: list) -> Iterable[ast.AST]:
    return (n for n in body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)))


def _span(node: ast.AST) -> tuple[int, int]:
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return first, node.end_lineno


def _unit_at(relative: str, line: int, text: str | None = None) -> str:
    """The unit whose code starts at ``line``: the top-level function or method around it."""
    for node in _defs(_parse(relative, text).body):
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
    """A module's top-level statements that can change what its functions compute: constants,
    class bodies (fields, bases, decorators) and imports under another name (``import x as y``).
    Functions and methods are units of their own, and a plain import only binds a name, so adding
    a function or an import stales nothing."""
    skeleton = _without_docstrings(tree)
    renamed = lambda n: isinstance(n, (ast.Import, ast.ImportFrom)) and any(
        a.asname and a.asname != a.name.split(".")[-1] for a in n.names)
    keep = lambda body: [n for n in body if renamed(n) or not isinstance(
        n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Import, ast.ImportFrom))]
    skeleton.body = keep(skeleton.body)
    for node in skeleton.body:
        if isinstance(node, ast.ClassDef):
            node.body = keep(node.body) or [ast.Pass()]
    return skeleton


def _find(tree: ast.Module, name: str) -> list[ast.AST]:
    """The definitions a unit names: all of them when one name is defined twice (a property's
    getter and setter)."""
    if name == MODULE:
        return [_skeleton(tree)]
    *outer, last = name.split(".")
    body = tree.body
    for part in outer:
        node = next((n for n in _defs(body) if n.name == part), None)
        if node is None:
            return []
        body = node.body
    return [_without_docstrings(n) for n in _defs(body) if n.name == last]


def canonical(node) -> str:
    """A text of a syntax tree that does not depend on the Python version: node types and
    their fields, without positions, expression contexts, and fields that are empty or None
    (versions add such fields, as 3.12 did with ``type_params``)."""
    if isinstance(node, ast.AST):
        fields = [(k, canonical(v)) for k, v in ast.iter_fields(node)
                  if k not in ("ctx", "type_params", "type_comment") and v not in (None, [])]
        return f"{type(node).__name__}({', '.join(f'{k}={v}' for k, v in fields)})"
    if isinstance(node, list):
        return "[" + ", ".join(canonical(v) for v in node) + "]"
    return repr(node)


def unit_digest(unit: str, text: str | None = None) -> str:
    """A short sha1 of a unit's code (``"course_lib/losses.py::gradient_penalty"``), without
    docstrings and comments, from ``text`` or from the file as it is now; of a data file's bytes
    (``"...pt::<file>"``); ``"missing"`` when the file or function no longer exists."""
    relative, name = unit.split("::")
    if name == FILE:
        path = ROOT / relative
        return hashlib.sha1(path.read_bytes()).hexdigest()[:12] if path.is_file() else "missing"
    tree = _parse(relative, text) if relative.endswith(".py") else None
    nodes = _find(tree, name) if tree is not None else []
    if not nodes:
        return "missing"
    return hashlib.sha1("".join(canonical(n) for n in nodes).encode()).hexdigest()[:12]


def cells_digest(cells: list, up_to_results: bool = True) -> str:
    """A short sha1 of a notebook's code cells up to its results cell (the first that calls
    ``report_figures``), compared as code: comments and blank lines do not count, nor does the
    setup cell, whose only setting says how long the lesson takes. With ``up_to_results=False``:
    every code cell. ``cells``: the notebook's cells (``nb.cells``, or its JSON's)."""
    digest = hashlib.sha1()
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        if up_to_results and "setup_notebook(" in source:
            continue
        try:
            digest.update(canonical(ast.parse(source)).encode())
        except SyntaxError:  # IPython magics: compare the text
            digest.update(source.strip().encode())
        if up_to_results and "report_figures(" in source:
            break
    return digest.hexdigest()[:12]


def notebook_cells(notebook: Path) -> list:
    """The cells of a notebook file."""
    return json.loads(Path(notebook).read_text(encoding="utf-8"))["cells"]


def code_record(units: dict[str, str], cells: list | None = None) -> dict:
    """What an entry keeps of its code: the units' digests, the cells' digest, and one
    fingerprint over both."""
    record = {"units": dict(sorted(units.items()))}
    if cells is not None:
        record["cells"] = cells_digest(cells)
    record["fingerprint"] = hashlib.sha1(json.dumps(record, sort_keys=True).encode()).hexdigest()[:12]
    return record


def changed_code(record: dict, notebook: Path | None = None) -> list[str]:
    """What changed since ``record`` was taken: the units whose code differs now, and
    ``"cells"`` when the notebook's code cells do. Empty when the record is fresh."""
    changed = [unit for unit, digest in record.get("units", {}).items() if unit_digest(unit) != digest]
    if notebook is not None and record.get("cells") != cells_digest(notebook_cells(notebook)):
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
def load_figures(notebook: str) -> list[dict]:
    """The entries recorded for a notebook (empty when none are, or outside a checkout)."""
    path = figures_path(notebook)
    return json.loads(path.read_text(encoding="utf-8"))["entries"] if path.is_file() else []


def record_figures(notebook: str, entry: dict) -> Path:
    """Add ``entry`` (a run's ``seed``, ``budget``, figures, checks, provenance and code) to
    the notebook's figures file, replacing the entry of the same seed and budget."""
    path = figures_path(notebook)
    with locked(path):
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
    reports), booleans as yes / no, a pair as "mean ± standard error"."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return " ± ".join(short(v) for v in value)
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def reading(held: list[bool]) -> str:
    """How often a check held over the seeds, in words."""
    n, k = len(held), sum(held)
    if n == 1:
        return "held (no other seed recorded)" if k else "failed (no other seed recorded)"
    if k == n:
        return f"held on every seed ({k} of {n})"
    return f"held on {k} of {n} seeds" if k else f"held on none of {n} seeds"


def _spread(values: list) -> str:
    """The spread of one figure over the seeds: min to max of numbers, or whether texts agree."""
    if len(values) < 2 or any(v is None for v in values):
        return ""
    numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if len(numbers) == len(values):
        return "the same" if min(numbers) == max(numbers) else f"{short(min(numbers))} to {short(max(numbers))}"
    return "the same" if len({short(v) for v in values}) == 1 else "differs"


def text_table(rows: list[list[str]]) -> str:
    """Rows of cells as fixed-width text, the first row the heading."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


def seed_table(columns: dict[int, dict], checks: dict[int, dict], current: int | None = None) -> str:
    """Figures and checks per seed, side by side, with the spread of each figure and how often
    each check held. ``columns``: ``{seed: {figure: value}}``; ``checks``: ``{seed: {check:
    bool}}``; ``current``: the seed of this run (marked)."""
    seeds = sorted(columns)
    head = [f"seed {s}" + (" (this run)" if s == current else "") for s in seeds]
    names = list(dict.fromkeys(k for s in seeds for k in columns[s]))
    rows = [["figure"] + head + ["spread" if len(seeds) > 1 else ""]]
    for name in names:
        values = [columns[s].get(name) for s in seeds]
        rows.append([name] + ["-" if v is None else short(v) for v in values] + [_spread(values)])
    check_names = list(dict.fromkeys(k for s in seeds for k in checks.get(s, {})))
    if check_names:
        rows.append(["check"] + [""] * len(seeds) + [""])
    for name in check_names:
        values = [checks.get(s, {}).get(name) for s in seeds]
        rows.append([name] + ["-" if v is None else ("yes" if v else "NO") for v in values]
                    + [reading([v for v in values if v is not None])])
    return text_table(rows)


# ------------------------------------------------------------------ benchmarks
def record_benchmark(name: str, row: dict, argv: list[str] | None = None, folder: Path | None = None) -> Path:
    """Append one result ``row`` (``{"config": ..., "seed": ..., figures...}``) of benchmark
    ``name`` to ``benchmarks/results/<name>.json``, with the command, provenance and the code
    that ran (call :func:`start_trace` first: a row without its code could never go stale)."""
    if not tracing():
        raise RuntimeError("record_benchmark needs the code that produced the row: call "
                           "course_lib.figures.start_trace() at the start of the benchmark")
    path = benchmark_path(name, folder)
    argv = sys.argv if argv is None else argv
    script = Path(argv[0]).resolve()
    script = _relative(script) if script.is_relative_to(ROOT) else script.name
    entry = {**row, "command": " ".join(["python", script] + list(argv[1:])),
             **machine(), "code": code_record(traced_code())}
    with locked(path):
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
    if not rows:
        where = benchmark_path("x").parent
        return (f"no rows recorded: {shown_path(where)} is in the course's repository" if not where.is_dir()
                else "no rows recorded on this machine yet")
    table = [list(columns.values()) + ["ran on"]]
    for row in rows:
        on = f"{row['date']}, {row['threads']} thread{'s' if row['threads'] > 1 else ''}"
        table.append([short(row.get(key, "-")) for key in columns]
                     + [on + (", NOT RUN ON THIS CODE" if row["stale"] else "")])
    return text_table(table)
