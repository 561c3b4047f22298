"""The leaderboard: every trained model's figures in ``results/leaderboard.csv``."""
from __future__ import annotations

import csv
import io
import time
from pathlib import Path

from ..config import get_budget, results_dir, write_atomic
from .protocol import EvaluationResult

LEADERBOARD_COLUMNS = ["model", "lesson", "budget", "protocol", "n_samples", "fid",
                       "inception_score", "kid", "precision", "recall", "train_seconds", "recorded"]


def leaderboard_path() -> Path:
    return results_dir() / "leaderboard.csv"


def load_leaderboard(path: Path | None = None) -> list[dict[str, str]]:
    """The rows of ``results/leaderboard.csv`` (empty when no model was recorded yet)."""
    path = path or leaderboard_path()
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def record_to_leaderboard(model: str, lesson: str, result: EvaluationResult,
                          train_seconds: float, path: Path | None = None) -> Path:
    """Add (or replace) the row of ``model`` for this lesson, budget and protocol in
    ``results/leaderboard.csv``, written atomically."""
    path = path or leaderboard_path()
    budget = get_budget()
    row = {"model": model, "lesson": lesson, "budget": budget, "protocol": result.protocol,
           "n_samples": result.n_samples, "fid": f"{result.fid:.3f}",
           "inception_score": f"{result.inception_score:.3f}", "kid": f"{result.kid:.5f}",
           "precision": f"{result.precision:.3f}", "recall": f"{result.recall:.3f}",
           "train_seconds": f"{train_seconds:.1f}", "recorded": time.strftime("%Y-%m-%d %H:%M")}
    key = (model, lesson, budget, result.protocol)
    rows = [r for r in load_leaderboard(path)
            if (r["model"], r["lesson"], r["budget"], r["protocol"]) != key] + [row]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=LEADERBOARD_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    write_atomic(path, buffer.getvalue())
    return path


def format_leaderboard(rows: list[dict[str, str]]) -> str:
    """The leaderboard as a fixed-width text table, best FID first within each protocol."""
    if not rows:
        return "(no models recorded yet: run the training lessons 02-05)"
    rows = sorted(rows, key=lambda r: (r["protocol"], r["budget"], float(r["fid"])))
    columns = [c for c in LEADERBOARD_COLUMNS if c != "recorded"]
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    lines = ["  ".join(c.ljust(widths[c]) for c in columns)]
    lines += ["  ".join(str(r[c]).ljust(widths[c]) for c in columns) for r in rows]
    return "\n".join(lines)
