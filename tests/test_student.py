import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from course_lib.student import main, student_edition


def _notebook(path):
    nb = new_notebook(cells=[new_markdown_cell("## Exercises\n1. Compute 2 + 2."), new_code_cell("x = 1")])
    solution = new_code_cell("print(2 + 2)")
    solution.metadata["tags"] = ["solution"]
    solution.metadata["jupyter"] = {"source_hidden": True}
    nb.cells.append(solution)
    nb.cells.append(new_markdown_cell("## What to remember"))
    nbformat.write(nb, path)


def test_student_edition_removes_solution_cells_only(tmp_path):
    source = tmp_path / "notebooks"
    source.mkdir()
    _notebook(source / "01_lesson.ipynb")
    out = student_edition(source / "01_lesson.ipynb", tmp_path / "student")
    cells = nbformat.read(out, as_version=4).cells
    assert [c.source for c in cells] == ["## Exercises\n1. Compute 2 + 2.", "x = 1", "## What to remember"]
    assert main(["--notebooks", str(source), "--out", str(tmp_path / "all")]) == 0
    assert (tmp_path / "all" / "01_lesson.ipynb").is_file()
    assert main(["--notebooks", str(tmp_path / "empty"), "--out", str(tmp_path / "none")]) == 2


def test_every_committed_notebook_has_solutions_to_remove(tmp_path):
    from pathlib import Path

    for path in sorted(Path(__file__).resolve().parents[1].glob("notebooks/[0-9][0-9]_*.ipynb")):
        before = nbformat.read(path, as_version=4).cells
        after = nbformat.read(student_edition(path, tmp_path), as_version=4).cells
        removed = len(before) - len(after)
        assert removed > 0 and removed == sum("solution" in c.metadata.get("tags", []) for c in before)
