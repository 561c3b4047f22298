"""The student edition: every notebook without its solution cells.

``python -m course_lib.student [--out student]`` (what ``make student`` calls) writes a copy of
every ``notebooks/NN_*.ipynb`` into ``student/`` (git-ignored) with the cells tagged ``solution``
removed, by nbconvert's ``TagRemovePreprocessor``. Outputs are kept, so the lessons' results
still show; the exercises stay, their solutions go.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

SOLUTION_TAG = "solution"


def student_edition(notebook: Path, out_dir: Path) -> Path:
    """Write ``notebook`` without its ``solution`` cells into ``out_dir``; returns the new path."""
    import nbformat
    from nbconvert.exporters import NotebookExporter
    from nbconvert.preprocessors import TagRemovePreprocessor
    from traitlets.config import Config

    config = Config()
    config.TagRemovePreprocessor.remove_cell_tags = {SOLUTION_TAG}
    config.TagRemovePreprocessor.enabled = True
    exporter = NotebookExporter(config=config)
    exporter.register_preprocessor(TagRemovePreprocessor(config=config), enabled=True)
    body, _ = exporter.from_notebook_node(nbformat.read(notebook, as_version=4))
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / notebook.name
    target.write_text(body, encoding="utf-8")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebooks", type=Path, default=Path("notebooks"))
    parser.add_argument("--out", type=Path, default=Path("student"))
    args = parser.parse_args(argv)
    paths = sorted(args.notebooks.glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        print(f"no notebooks in {args.notebooks}; run from the repository root", file=sys.stderr)
        return 2
    for path in paths:
        print("wrote", student_edition(path, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
