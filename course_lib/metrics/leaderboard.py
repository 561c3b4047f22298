"""The leaderboard: every trained model's figures in ``results/leaderboard.csv``.

Each row says how it was measured -- protocol, N, reference, budget, seed -- and what kind of
model it is (``unconditional`` samples, ``conditional`` samples of requested classes, a VAE's
``decoder means`` E[x|z] rather than samples, ``translation``, ``reference`` data). Rows are
comparable only when protocol, reference, N, budget and kind agree: :func:`format_leaderboard`
ranks each such group on its own and never mixes them.
"""
from __future__ import annotations

import csv
import io
import time
from pathlib import Path

from ..config import get_budget, get_seed, results_dir
from ..io import locked, write_atomic
from .protocol import EvaluationResult

LEADERBOARD_COLUMNS = ["model", "kind", "lesson", "budget", "seed", "protocol", "reference", "n_samples", "fid",
                       "inception_score", "kid", "precision", "recall", "density", "coverage", "copying",
                       "train_seconds", "recorded"]
KINDS = ("unconditional", "conditional", "decoder means", "translation", "reference")
GROUP = ("protocol", "reference", "n_samples", "budget", "kind")  # rows are comparable only within a group


def leaderboard_path() -> Path:
    return results_dir() / "leaderboard.csv"


def load_leaderboard(path: Path | None = None) -> list[dict[str, str]]:
    """The rows of ``results/leaderboard.csv`` (empty when no model was recorded yet; rows
    written by an older version of the course, with other columns, are left out)."""
    path = path or leaderboard_path()
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as f:
        return [row for row in csv.DictReader(f) if set(row) == set(LEADERBOARD_COLUMNS)]


def record_to_leaderboard(model: str, lesson: str, result: EvaluationResult, train_seconds: float,
                          kind: str = "unconditional", path: Path | None = None) -> None:
    """Add (or replace) the row of ``model`` for this lesson, budget, seed, protocol and
    reference in ``results/leaderboard.csv``, written atomically. ``kind``: one of :data:`KINDS`."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    path = path or leaderboard_path()
    row = {"model": model, "kind": kind, "lesson": lesson, "budget": get_budget(), "seed": str(get_seed()),
           "protocol": result.protocol, "reference": result.reference, "n_samples": str(result.n_samples),
           "fid": f"{result.fid:.3f}", "inception_score": f"{result.inception_score:.3f}",
           "kid": f"{result.kid:.5f}", "precision": f"{result.precision:.3f}", "recall": f"{result.recall:.3f}",
           "density": f"{result.density:.3f}", "coverage": f"{result.coverage:.3f}",
           "copying": f"{result.copying:.2f}", "train_seconds": f"{train_seconds:.1f}",
           "recorded": time.strftime("%Y-%m-%d %H:%M")}
    key = lambda r: (r["model"], r["lesson"], r["budget"], r["seed"], r["protocol"], r["reference"])
    with locked(path):  # two lessons run side by side (other seeds) share the file
        rows = [r for r in load_leaderboard(path) if key(r) != key(row)] + [row]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=LEADERBOARD_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
        write_atomic(path, buffer.getvalue())


def format_leaderboard(rows: list[dict[str, str]]) -> str:
    """The leaderboard as fixed-width text: one table per group of comparable rows (same
    protocol, reference, N, budget and kind), best FID first within each."""
    if not rows:
        return "(no models recorded yet: run the training lessons 03-05)"
    columns = ["model", "lesson", "seed", "fid", "inception_score", "kid", "precision", "recall",
               "density", "coverage", "copying", "train_seconds"]
    groups: dict[tuple, list[dict[str, str]]] = {}
    for row in rows:
        groups.setdefault(tuple(row[c] for c in GROUP), []).append(row)
    blocks = []
    for group, members in sorted(groups.items()):
        members = sorted(members, key=lambda r: float(r["fid"]))
        widths = {c: max(len(c), *(len(r[c]) for r in members)) for c in columns}
        header = ", ".join(f"{name} {value}" for name, value in zip(("protocol", "vs", "N", "budget", "kind"), group))
        lines = [f"-- {header} --", "  ".join(c.ljust(widths[c]) for c in columns)]
        lines += ["  ".join(r[c].ljust(widths[c]) for c in columns) for r in members]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
