"""Figures have one source. A lesson's markdown types no figure that a run measured (the cell
above prints it), the figures it records for other seeds come from its current code, and the
committed notebook is the output of that code."""
import ast
import json
import re
from pathlib import Path

import pytest

from course_lib import figures

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
RECORDED_SEEDS = (0, 1, 2)

# Lessons whose markdown and figures files already follow the rule; the others are the work of
# the issue "Lessons that teach, part 2" (04-07), marked as expected failures until then.
CONVERTED = {"00_welcome", "01_generative_modeling", "02_gan_from_scratch", "03_dcgan", "04_vae", "05_cyclegan",
             "06_evaluation"}

# Decimals and percentages a lesson may type: quoted from papers, closed forms, settings and the
# course's targets -- never a figure a run measured. Each with the reason it may stand.
CLOSED_FORM_3_SIGMA = "1 - e^(-9/2): the share of a 2-D Gaussian's samples within 3 sigma (closed form)"
ALLOWED = {
    "00_welcome": {"98.9%": CLOSED_FORM_3_SIGMA},
    "01_generative_modeling": {
        "0.5": "sigma of each mode of the two-mode mixture, and where a fit starts (settings)",
        "4.25": "0.5² + 2², the variance of the two-mode mixture (closed form)"},
    "02_gan_from_scratch": {
        "0.05": "the target for mean |D - D*|, and SGD's learning rate (settings)",
        "0.3": "sigma of the widened ring (setting)", "1.5": "sigma of the fixed Gaussian generator (setting)",
        "2.5": "Theorem 2.5 of Arjovsky & Bottou (2017): a citation", "2.6": "their Theorem 2.6: a citation",
        "0.1": "lambda of the WGAN-GP authors' toy script (quoted setting)",
        "0.02": "sigma of the ring's modes (Metz et al., 2017)", "98.9%": CLOSED_FORM_3_SIGMA,
        "0.5": "Adam's beta_1, and how near the ring a sample must lie to count (settings)",
        "0.9": "Adam's beta_2 in the loss zoo (setting)",
        "0.999": "Adam's beta_2 (setting)", "39%": "1 - e^(-1/2): within 1 sigma (closed form)"},
    "03_dcgan": {
        "0.2": "LeakyReLU's slope (Radford et al., 2016)", "0.02": "the initial weights' sigma (Radford et al.)",
        "0.5": "Adam's beta_1 (Radford et al.)", "0.9": "Adam's default beta_1, which Radford et al. found to oscillate",
        "0.999": "Adam's beta_2 and the weight average's ceiling (settings)"},
    "04_vae": {
        "0.999": "the weight average's ceiling (setting)",
        "0.01": "the active-unit threshold of Burda et al. (2016)",
        "0.1": "the nats a dimension must carry in exercise 1 (setting)",
        "0.9": "the evaluator's probability below which a reconstruction's runner-up is named (setting)",
        "5%": "the lowest quantile of the 2-D grid (setting)", "95%": "the highest quantile of the 2-D grid (setting)"},
    "05_cyclegan": {
        "0.5": "lambda_id = 0.5 lambda_cyc, and Adam's beta_1 (Zhu et al., 2017)",
        "0.999": "Adam's beta_2 (setting)", "90%": "the course plan's target for class preservation"},
    "06_evaluation": {
        "0.5": "chance accuracy of the two-sample test (closed form)",
        "0.1": "sigma of the noise added to copies (setting)", "0.2": "sigma of a noise level (setting)",
        "0.4": "sigma of the noisy digits in the two-sample test (setting)",
        "10.7": "299 / 28, the Inception protocol's up-sampling factor (closed form)",
        "0.3": "sigma of the fine texture added before a shrink (setting)",
        "95%": "the level of an interval of two standard errors, and of the t-interval (settings)",
        "97%": "the course plan's target for the evaluator's accuracy"},
}

FIGURE = re.compile(r"(?<![\d.])\d+(?:\.\d+)?\s?\\?%|(?<![\d.])\d+\.\d+(?!\.?\d)")


def typed_figures(markdown: str) -> list[str]:
    """Decimals and percentages in markdown, in prose, maths and code spans alike (link
    targets are left out: an address is not a figure)."""
    return [re.sub(r"[\s\\]", "", f) for f in FIGURE.findall(re.sub(r"\]\([^)]*\)", "]", markdown))]


def _lesson(path):
    return pytest.param(path, id=path.stem, marks=() if path.stem in CONVERTED else pytest.mark.xfail(
        strict=True, reason="converted by the issue 'Lessons that teach, part 2'"))


def test_typed_figures_finds_decimals_and_percentages_anywhere():
    text = ("FID $3.60$, `lr=0.5`, 98.2% and 7 % and $98.9\\%$, $\\approx3.6$, 2.4x, 1.5e-3, ends 4.25. "
            "but not [a link](https://x.org/v1.2) nor 2,900 steps nor 3...")
    assert typed_figures(text) == ["3.60", "0.5", "98.2%", "7%", "98.9%", "3.6", "2.4", "1.5", "4.25"]


@pytest.mark.parametrize("path", [_lesson(p) for p in NOTEBOOKS])
def test_markdown_types_no_measured_figure(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    allowed = ALLOWED.get(path.stem, {})
    typed = [(i, f) for i, c in enumerate(cells) if c["cell_type"] == "markdown"
             for f in typed_figures("".join(c["source"])) if f not in allowed]
    assert not typed, (f"figures typed into the markdown of {path.name} (cell, figure): {typed}; let the cell "
                       f"above print them, or allow a quoted constant in tests/test_lessons.py with its reason")


@pytest.mark.parametrize("path", [_lesson(p) for p in NOTEBOOKS])
def test_figures_file_holds_seeds_0_to_2_of_the_current_code(path, monkeypatch):
    monkeypatch.delenv("COURSE_FIGURES", raising=False)
    fresh, stale = figures.fresh_entries(path.stem, "cpu")
    assert not stale, (f"stale entries in notebooks/figures/{path.stem}.json, seed: what changed {stale}; "
                       f"re-run `python -m course_lib.runner --seeds 1,2 notebooks/{path.name}` and the lesson itself")
    assert {e["seed"] for e in fresh} >= set(RECORDED_SEEDS), \
        f"record seeds {RECORDED_SEEDS} at the cpu budget: python -m course_lib.runner --seeds 1,2 notebooks/{path.name}"


@pytest.mark.parametrize("path", [_lesson(p) for p in NOTEBOOKS])
def test_committed_outputs_come_from_the_current_code(path, monkeypatch):
    """The committed notebook is the recorded seed-0 cpu run of the current code, every cell of it."""
    monkeypatch.delenv("COURSE_FIGURES", raising=False)
    run = json.loads(path.read_text(encoding="utf-8"))["metadata"].get("course_run", {})
    assert run.get("budget") == "cpu" and run.get("seed") == 0, "commit the outputs of a cpu run with COURSE_SEED 0"
    fresh, _ = figures.fresh_entries(path.stem, "cpu")
    seed0 = [e for e in fresh if e["seed"] == 0]
    assert seed0 and run.get("fingerprint") == seed0[0]["code"]["fingerprint"], \
        f"{path.name} was not committed from a run of the current code: re-run it (make course)"
    assert (run["seconds"], run["date"]) == (seed0[0]["seconds"], seed0[0]["date"]), "the committed run is the recorded one"
    assert run.get("code_cells") == figures.cells_digest(figures.notebook_cells(path), up_to_results=False), \
        f"a code cell of {path.name} changed after the committed run (an exercise too): re-run it"


def test_recorded_results_are_committed_and_locks_are_not():
    import subprocess

    ignored = lambda p: subprocess.run(["git", "check-ignore", "-q", p], cwd=ROOT).returncode == 0
    assert not ignored("benchmarks/results/dcgan.json") and not ignored("notebooks/figures/03_dcgan.json")
    assert ignored("results/leaderboard.csv") and ignored("notebooks/figures/.03_dcgan.json.lock")


def test_committed_notebooks_are_valid_nbformat():
    import nbformat

    for path in NOTEBOOKS:
        nbformat.validate(nbformat.read(path, as_version=4))


def _benchmark(name: str):
    """benchmarks/<name>.py, imported as a module."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"{name}_benchmark", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _assignments(notebook: str, names: tuple[str, ...]) -> dict:
    """The top-level ``name = ...`` statements (ast.Assign) of a lesson's code cells, by name, in
    the order of ``names``."""
    cells = ["".join(c["source"]) for c in json.loads((ROOT / "notebooks" / f"{notebook}.ipynb").read_text())["cells"]
             if c["cell_type"] == "code"]
    found = {node.targets[0].id: node for cell in cells for node in ast.parse(cell).body
             if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name) and node.targets[0].id in names}
    return {name: found[name] for name in names}


def test_lesson_03_and_its_benchmark_train_the_same_recipe():
    """benchmarks/dcgan.py's rows are read by lesson 03 as its recipe at the full budget: the
    two must train the same settings for the same steps."""
    benchmark = _benchmark("dcgan")
    assignments = {name: node.value for name, node in _assignments("03_dcgan", ("recipe", "recipe_steps")).items()}
    recipe = {k.arg: ast.literal_eval(k.value) for k in assignments["recipe"].keywords}
    steps = {k.arg: ast.literal_eval(k.value) for k in assignments["recipe_steps"].keywords}
    assert recipe == benchmark.RECIPE and steps["cpu"] == benchmark.STEPS


def test_lesson_04_and_its_benchmark_train_the_same_vae():
    """benchmarks/vae.py's last row ("ema") is lesson 04's run at the cpu budget: the benchmark's
    table reads as the lesson's habits only if the two train the same configuration."""
    from course_lib.training import VAEConfig

    namespace = {"by_budget": lambda **budgets: budgets["cpu"], "seed": 0, "VAEConfig": VAEConfig}
    for node in _assignments("04_vae", ("vae_steps", "config")).values():  # the lesson's lines, at the cpu budget
        exec(compile(ast.Module([node], type_ignores=[]), "04_vae", "exec"), namespace)
    _, benchmark_config, early_stopping = _benchmark("vae").configurations(seed=0)["ema"]
    assert namespace["config"] == benchmark_config and early_stopping
