"""Figures have one source: the runner records what each seed measured with the code that
measured it, an entry goes stale exactly when that code changes, and a saved notebook shows
final progress bars."""
import json
import os
import time

import pytest

from course_lib import figures
from course_lib.runner import clean_streams, main


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    stamp = time.time() + 2  # a new modification time, so a cached parse is not reused
    os.utime(path, (stamp, stamp))


def test_a_unit_changes_with_its_code_not_with_its_docstring_or_comments(tmp_path, monkeypatch):
    monkeypatch.setattr(figures, "ROOT", tmp_path)
    module = tmp_path / "course_lib" / "toy.py"
    _write(module, 'SCALE = 2\n\ndef double(x):\n    """Twice x."""\n    return SCALE * x\n\n'
                   'class Box:\n    size: int = 1\n\n    def area(self):\n        return self.size ** 2\n')
    units = ["course_lib/toy.py::double", "course_lib/toy.py::Box.area", "course_lib/toy.py::<module>"]
    before = {u: figures.unit_digest(u) for u in units}
    _write(module, module.read_text().replace('"""Twice x."""', '"""Two times x (doubled)."""')
           .replace("return SCALE * x", "return SCALE * x  # the scale is a constant"))
    assert {u: figures.unit_digest(u) for u in units} == before
    _write(module, module.read_text().replace("return SCALE * x", "return x + x"))
    after = {u: figures.unit_digest(u) for u in units}
    assert [after[u] == before[u] for u in units] == [False, True, True]
    _write(module, "import math\n" + module.read_text() + "\ndef unrelated():\n    return 1\n")
    assert figures.unit_digest(units[2]) == before[units[2]], "a new import or function stales nothing"
    _write(module, module.read_text().replace("SCALE = 2", "SCALE = 3"))  # a constant: the module's unit
    assert figures.unit_digest(units[2]) != before[units[2]] and figures.unit_digest(units[1]) == before[units[1]]
    with_scale_3 = figures.unit_digest(units[2])
    _write(module, module.read_text().replace("size: int = 1", "size: int = 2"))  # a class field too
    assert figures.unit_digest(units[2]) != with_scale_3 and figures.unit_digest(units[1]) == before[units[1]]
    _write(module, module.read_text().replace("def double", "def twice"))
    assert figures.unit_digest(units[0]) == "missing"
    record = figures.code_record({u: before[u] for u in units})
    assert set(figures.changed_code(record)) == {units[0], units[2]}


def test_the_trace_names_the_course_functions_that_ran():
    from course_lib.losses import kl_normal
    import torch

    figures.start_trace()
    try:
        kl_normal(torch.zeros(2), torch.zeros(2))
    finally:
        figures.stop_trace()
    units = figures.traced_code()
    assert "course_lib/losses.py::kl_normal" in units and "course_lib/losses.py::<module>" in units
    assert "course_lib/losses.py::gradient_penalty" not in units  # not called
    assert not any(unit.startswith("course_lib/figures.py") for unit in units), "plumbing is left out"


def _toy_package(tmp_path, monkeypatch, text):
    """A module course_lib/toy.py under tmp_path, imported from there, with figures pointed at it."""
    import importlib.util

    module = tmp_path / "course_lib" / "toy.py"
    _write(module, text)
    monkeypatch.setattr(figures, "ROOT", tmp_path)
    monkeypatch.setattr(figures, "PACKAGE", tmp_path / "course_lib")
    spec = importlib.util.spec_from_file_location("toy_for_figures", module)
    toy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(toy)
    return module, toy


def test_a_run_records_the_code_as_it_was_when_it_started(tmp_path, monkeypatch):
    module, toy = _toy_package(tmp_path, monkeypatch, "def double(x):\n    return 2 * x\n")
    figures.start_trace()
    try:
        toy.double(3)
    finally:
        figures.stop_trace()
    _write(module, "\n\n\ndef double(x):\n    return x + x\n")   # edited, and moved, during the run
    units = figures.traced_code()
    assert units["course_lib/toy.py::double"] != figures.unit_digest("course_lib/toy.py::double")
    assert figures.changed_code(figures.code_record(units)) == ["course_lib/toy.py::double"]


def test_properties_aliases_and_data_files_are_part_of_the_record(tmp_path, monkeypatch):
    text = ("from math import sqrt as root\n\nclass Box:\n    @property\n    def w(self):\n        return self._w\n\n"
            "    @w.setter\n    def w(self, value):\n        self._w = value\n")
    module, _ = _toy_package(tmp_path, monkeypatch, text)
    setter, skeleton = "course_lib/toy.py::Box.w", "course_lib/toy.py::<module>"
    before = {u: figures.unit_digest(u) for u in (setter, skeleton)}
    _write(module, text.replace("self._w = value", "self._w = 2 * value"))
    assert figures.unit_digest(setter) != before[setter], "a setter is part of its property's unit"
    _write(module, text.replace("sqrt as root", "log as root"))
    assert figures.unit_digest(skeleton) != before[skeleton], "an import under another name can change a figure"
    weights = tmp_path / "course_lib" / "weights.pt"
    weights.write_bytes(b"one")
    figures.start_trace()
    figures.stop_trace()
    figures.note_file(weights)
    record = figures.code_record(figures.traced_code())
    assert "course_lib/weights.pt::<file>" in record["units"] and not figures.changed_code(record)
    weights.write_bytes(b"two")
    assert figures.changed_code(record) == ["course_lib/weights.pt::<file>"]


def test_a_resumed_checkpoint_brings_the_code_that_trained_it(tmp_path):
    import torch
    from course_lib.data import get_toy
    from course_lib.models.gan import MLPDiscriminator, MLPGenerator
    from course_lib.training import GANConfig, train_gan

    data = get_toy("ring").sample(64, torch.Generator().manual_seed(0))
    run = lambda: train_gan(MLPGenerator(hidden=8, depth=1), MLPDiscriminator(hidden=8, depth=1), data,
                            GANConfig(steps=3, batch_size=8), checkpoint=tmp_path / "gan.pt", progress=False,
                            device=torch.device("cpu"))
    figures.start_trace()
    try:
        run()                                              # trains: gan_step runs and is saved with the weights
        trained = figures.traced_code()
        figures.start_trace()
        run()                                              # resumes: gan_step does not run now
    finally:
        figures.stop_trace()
    resumed = figures.traced_code()
    assert "course_lib/training/gan.py::gan_step" in trained
    assert resumed["course_lib/training/gan.py::gan_step"] == trained["course_lib/training/gan.py::gan_step"]
    figures.start_trace()
    figures.inherit(None)                                  # a checkpoint written without its code
    figures.stop_trace()
    assert figures.changed_code(figures.code_record(figures.traced_code())), "unknown code is stale"


def test_the_digest_does_not_depend_on_the_python_version():
    import ast

    text = figures.canonical(ast.parse("def f(x: int = 1) -> int:\n    return x + y\n"))
    assert "ctx" not in text and "lineno" not in text and "type_params" not in text
    assert text == figures.canonical(ast.parse("def f(x: int=1)->int:\n  return (x + y)  # the same code\n"))


def test_seed_table_gives_spread_and_how_often_a_check_held():
    text = figures.seed_table({0: {"FID": 3.6, "modes": "8/8"}, 1: {"FID": 3.42, "modes": "7/8"}},
                              {0: {"FID <= 5": True, "all modes": True}, 1: {"FID <= 5": True, "all modes": False}},
                              current=0)
    lines = text.splitlines()
    assert "seed 0 (this run)" in lines[0] and "seed 1" in lines[0]
    assert "3.42 to 3.6" in text and "held on every seed (2 of 2)" in text and "held on 1 of 2 seeds" in text
    assert figures.short(0.7979999780654907) == "0.798" and figures.short(0.44315) == "0.44315"
    assert figures.short(True) == "yes" and figures.reading([True]) == "held (no other seed recorded)"
    assert "the same" in figures.seed_table({0: {"n": 4000}, 1: {"n": 4000}}, {})


def test_clean_streams_keeps_the_last_state_of_a_redrawn_line():
    cell = {"outputs": [{"output_type": "stream", "name": "stdout", "text": "bar   0%|  | 0/3\r"},
                        {"output_type": "stream", "name": "stdout", "text": "bar  33%|  | 1/3\rbar 100%|##| 3/3\n"},
                        {"output_type": "display_data", "data": {}},
                        {"output_type": "stream", "name": "stdout", "text": "after the plot\n"}]}
    clean_streams(cell)
    assert [o.get("text") for o in cell["outputs"]] == ["bar 100%|##| 3/3\n", None, "after the plot\n"]
    markdown = {"cell_type": "markdown", "source": "text"}
    clean_streams(markdown)
    assert "outputs" not in markdown, "a markdown cell has no outputs in nbformat"


NOTEBOOK = [
    "from course_lib.config import setup_notebook\n"
    "device, budget, seed = setup_notebook('99_toy', minutes={'smoke': 0.1, 'cpu': 0.1, 'gpu': 0.1})",
    "from course_lib.progress import progress\n"
    "from course_lib.losses import kl_normal\n"
    "import torch\n"
    "for _ in progress(range(3), desc='steps'):\n"
    "    pass\n"
    "value = kl_normal(torch.tensor(float(seed)), torch.tensor(0.0)).item()",
    "from course_lib.runner import report_figures\n"
    "report_figures('99_toy', {'KL': value}, checks={'KL below 1': value < 1})",
    "print('an exercise after the results')",
]


def test_runner_records_seeds_and_marks_stale_entries(tmp_path, monkeypatch):
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    path = tmp_path / "99_toy.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell(c) for c in NOTEBOOK]), path)
    committed = path.read_text()
    monkeypatch.setenv("COURSE_BUDGET", "cpu")
    monkeypatch.setenv("COURSE_RESULTS", str(tmp_path / "results"))
    monkeypatch.delenv("COURSE_SEED", raising=False)
    assert main(["--seeds", "1,2", str(path)]) == 0
    assert path.read_text() == committed, "seed runs go into copies"
    entries = json.loads((tmp_path / "figures" / "99_toy.json").read_text())["entries"]
    assert [(e["seed"], e["budget"]) for e in entries] == [(1, "cpu"), (2, "cpu")]
    assert entries[0]["figures"]["KL"] == pytest.approx(0.5) and entries[0]["checks"] == {"KL below 1": True}
    assert "course_lib/losses.py::kl_normal" in entries[0]["code"]["units"]
    assert all(k in entries[0] for k in ("date", "seconds", "threads", "torch", "device"))

    assert main([str(path)]) == 0                       # seed 0, in place: shows seeds 1 and 2 beside it
    nb = nbformat.read(path, as_version=4)
    results = "".join(o.get("text", "") for o in nb.cells[2].outputs)
    assert "seed 0 (this run)" in results and "seed 2" in results and "held on 2 of 3 seeds" in results
    assert "(threads of the run)" in results
    bar = "".join(o.get("text", "") for o in nb.cells[1].outputs)
    assert "3/3" in bar and "0/3" not in bar, "a saved notebook shows the bar's final state"
    run = nb.metadata["course_run"]
    assert run["code_cells"] == figures.cells_digest(nb.cells, up_to_results=False)
    monkeypatch.setenv("COURSE_FIGURES", str(tmp_path / "figures"))
    fresh, stale = figures.fresh_entries("99_toy", "cpu")
    assert [e["seed"] for e in fresh] == [0, 1, 2] and not stale
    assert run["fingerprint"] == fresh[0]["code"]["fingerprint"]

    nb.cells[3].source = "print('another exercise')"   # after the results cell: the figures stand
    nb.cells[0].source = nb.cells[0].source.replace("'cpu': 0.1", "'cpu': 0.2")  # and the expected minutes
    nbformat.write(nb, path)
    assert not figures.fresh_entries("99_toy", "cpu")[1]
    nb.cells[1].source += "\nvalue = value + 0"          # before it: every entry is stale
    nbformat.write(nb, path)
    fresh, stale = figures.fresh_entries("99_toy", "cpu")
    assert not fresh and set(stale) == {0, 1, 2} and "99_toy.ipynb" in stale[1][0]


def test_benchmark_rows_are_recorded_with_their_code_and_go_stale_with_it(tmp_path, monkeypatch):
    module, toy = _toy_package(tmp_path, monkeypatch, "def fid():\n    return 4.0\n")
    monkeypatch.setattr(figures, "_traced", None)           # a process that never traced
    with pytest.raises(RuntimeError, match="start_trace"):
        figures.record_benchmark("toy", {"config": "best", "seed": 0}, ["benchmarks/toy.py"], folder=tmp_path)
    figures.start_trace()
    try:
        for _ in range(2):  # the newest row of a configuration and seed is the one shown
            figures.record_benchmark("toy", {"config": "best", "seed": 0, "fid": toy.fid()},
                                     ["benchmarks/toy.py", "--seeds", "0"], folder=tmp_path)
    finally:
        figures.stop_trace()
    rows = figures.benchmark_rows("toy", folder=tmp_path)
    assert len(rows) == 1 and rows[0]["fid"] == 4.0 and rows[0]["stale"] == []
    assert rows[0]["command"].startswith("python ") and rows[0]["command"].endswith("toy.py --seeds 0")
    text = figures.benchmark_table(rows, {"config": "configuration", "fid": "FID"})
    assert "best" in text and "NOT RUN ON THIS CODE" not in text
    _write(module, "def fid():\n    return 3.0\n")
    rows = figures.benchmark_rows("toy", folder=tmp_path)
    assert rows[0]["stale"] == ["course_lib/toy.py::fid"]
    assert "NOT RUN ON THIS CODE" in figures.benchmark_table(rows, {"fid": "FID"})
