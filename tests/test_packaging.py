"""The repository keeps its promises: dependencies agree, notebooks are committed with the
outputs of a real run and follow the course's skeleton, and no code hard-codes a device."""
import json
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _requirements(lines):
    """{(normalised name, specifier)} from requirement strings (comments dropped)."""
    out = set()
    for line in lines:
        name, spec = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*([^#]*)", line).groups()
        out.add((re.sub(r"[-_.]+", "-", name).lower(), spec.replace(" ", "")))
    return out


def test_environment_yml_agrees_with_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    declared = _requirements(project["dependencies"] + extras["lab"] + extras["dev"])
    env_lines = (ROOT / "environment.yml").read_text().splitlines()
    start = env_lines.index("  - pip:")
    pip_lines = [line.strip()[2:] for line in env_lines[start + 1:] if line.strip().startswith("- ")]
    assert _requirements(pip_lines) == declared
    required = {"torch", "torchvision", "jupyterlab", "ipywidgets", "matplotlib", "tqdm", "numpy",
                "scipy", "scikit-learn", "mlxtend", "pytorch-fid", "pytest", "nbval"}
    assert required <= {name for name, _ in declared}
    assert not [spec for _, spec in declared if spec.startswith("==")], "declare ranges, not pins"
    runtime = {name: spec for name, spec in _requirements(project["dependencies"])}
    assert "jupyterlab" not in runtime, "JupyterLab is an extra: Colab must not install it"
    assert "<1.18" in runtime["scipy"], "pytorch-fid (a runtime dependency) needs SciPy below 1.18"
    assert runtime["ipywidgets"] == ">=7.6", "the widgets work with the ipywidgets 7 that Colab ships"


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme and "make course" in readme


def test_there_are_notebooks():
    assert NOTEBOOKS and NOTEBOOKS[0].name == "00_welcome.ipynb"


def _load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def _code_cells(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def _source(cell):
    return "".join(cell["source"])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_committed_with_outputs_in_order_and_without_errors(path):
    cells = _code_cells(_load(path))
    assert any(c["outputs"] for c in cells), "commit the notebook with the outputs of a real run"
    errors = [o for c in cells for o in c["outputs"] if o["output_type"] == "error"]
    assert not errors, "the committed run has error outputs"
    counts = [c["execution_count"] for c in cells if c["execution_count"] is not None]
    assert counts == sorted(counts) and len(set(counts)) == len(counts), "cells run out of order"
    assert all(c["execution_count"] is not None for c in cells), "every code cell was run"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_skeleton(path):
    nb = _load(path)
    repo_url = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"]
    first_md = _source(nb["cells"][0])
    assert "colab.research.google.com/github/" in first_md and path.name in first_md, "Colab badge"
    assert repo_url.removeprefix("https://github.com/") in first_md
    first_code = _source(_code_cells(nb)[0])
    assert repo_url in first_code and "import course_lib" in first_code, "install cell"
    assert '"--no-deps"' in first_code, "the install cell must not pull a second torch into Colab"
    assert f'setup_notebook("{path.stem}", minutes=' in first_code, "first cell prints device, budget, minutes"
    headings = [_source(c) for c in nb["cells"] if c["cell_type"] == "markdown"]
    assert any(h.lstrip().startswith("## Exercises") for h in headings)
    assert any(h.lstrip().startswith("## What to remember") for h in headings)
    # solutions: after the exercises, in code cells collapsed for the reader but executed
    start = next(i for i, c in enumerate(nb["cells"])
                 if c["cell_type"] == "markdown" and _source(c).lstrip().startswith("## Exercises"))
    solutions = [c for c in nb["cells"][start:] if c["cell_type"] == "code"
                 and c["metadata"].get("jupyter", {}).get("source_hidden")]
    assert solutions and all(c["execution_count"] is not None for c in solutions)
    # a collapsed solution hides its answer too: outputs collapsed with the code
    assert all(c["metadata"]["jupyter"].get("outputs_hidden") for c in solutions), "collapse the solutions' outputs"


def test_no_hard_coded_device():
    pattern = re.compile(r"\.cuda\(|device\s*=\s*['\"]cuda|torch\.device\(['\"]cuda['\"]\)")
    offenders = []
    sources = list((ROOT / "course_lib").rglob("*.py")) + list((ROOT / "benchmarks").rglob("*.py"))
    for path in sources:
        if path.name == "config.py":  # the one place that chooses the device
            continue
        text = path.read_text()
        offenders += [f"{path.name}: {m.group(0)}" for m in pattern.finditer(text)]
    for path in NOTEBOOKS:
        for cell in _code_cells(_load(path)):
            offenders += [f"{path.name}: {m.group(0)}" for m in pattern.finditer(_source(cell))]
    assert not offenders, "go through course_lib.config.get_device(): " + ", ".join(offenders)


def _shown_sources(nb):
    """(cell index, code block) for every source block a cell displayed with show_source."""
    for i, cell in enumerate(nb["cells"]):
        for output in cell.get("outputs", []):
            markdown = "".join(output.get("data", {}).get("text/markdown", ""))
            for block in re.findall(r"```python\n(.*?)\n```", markdown, re.S):
                yield i, block


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_shown_source_is_the_current_library_source(path):
    """Every block a committed notebook shows with ``show_source`` is the library's current
    source, letter for letter: a stale block teaches code that no longer exists."""
    library = [p.read_text(encoding="utf-8") for p in (ROOT / "course_lib").rglob("*.py")]
    stale = [i for i, block in _shown_sources(_load(path)) if not any(block in text for text in library)]
    assert not stale, f"cells {stale} show source that is not the library's: re-execute {path.name}"


def _readme_minutes() -> dict[str, float]:
    """{"03": 13.0, ...} from the README's lesson table (last column)."""
    rows = re.findall(r"^\| (\d\d) \|.*\| ([\d.]+) \|$", (ROOT / "README.md").read_text(), re.M)
    return {number: float(minutes) for number, minutes in rows}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_minutes_agree_between_readme_setup_cell_and_committed_run(path):
    """One source for a lesson's minutes: its setup cell. The README says the same, and the
    committed run (a cpu run with COURSE_SEED 0, recorded by the runner) took that long, within
    20 % (and 15 seconds for the shortest lessons)."""
    nb = _load(path)
    setup = _source(_code_cells(nb)[0])
    expected = float(re.search(r'"cpu":\s*([\d.]+)', setup).group(1))
    assert _readme_minutes().get(path.stem[:2]) == expected, "README's lesson table must give the setup cell's minutes"
    run = nb["metadata"].get("course_run")
    assert run and run["budget"] == "cpu" and run["seed"] == 0, "commit the outputs of a cpu run with COURSE_SEED 0"
    measured = run["seconds"] / 60
    assert abs(measured - expected) <= max(0.2 * expected, 0.25), f"the committed run took {measured:.1f} min"


def test_library_functions_stay_readable():
    """No function in course_lib over 60 lines or 12 parameters: each reads in one screen."""
    import ast

    too_big = []
    for path in sorted((ROOT / "course_lib").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                a = node.args
                params = [p.arg for p in a.posonlyargs + a.args + a.kwonlyargs if p.arg not in ("self", "cls")]
                params += [x.arg for x in (a.vararg, a.kwarg) if x]
                lines = node.end_lineno - node.lineno + 1
                if lines > 60 or len(params) > 12:
                    too_big.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: {lines} lines, {len(params)} parameters")
    assert not too_big, "split these functions or group their options in a dataclass:\n" + "\n".join(too_big)


def test_config_names_no_notebook():
    """A new lesson passes its own minutes to setup_notebook; config.py knows no lesson by name."""
    source = (ROOT / "course_lib" / "config.py").read_text()
    named = [p.stem for p in NOTEBOOKS if p.stem in source or p.stem[:2] + "_" in source]
    assert not named, f"course_lib/config.py names notebooks {named}"
