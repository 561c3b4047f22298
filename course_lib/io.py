"""Files that must never be half written: atomic writes and training checkpoints.

A checkpoint carries the configuration it was trained with, so that a run resumes only a
checkpoint of the same configuration (see :func:`load_checkpoint`).
"""
from __future__ import annotations

import contextlib
import io
import os
import tempfile
from pathlib import Path

import torch


def write_atomic(path: str | Path, content: str | bytes) -> None:
    """Write ``content`` (text or bytes) to ``path`` through a temporary file and a rename:
    a crash never leaves a half-written file behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content.encode("utf-8") if isinstance(content, str) else content)
        os.chmod(tmp, 0o644)  # mkstemp creates owner-only files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def locked(path: str | Path):
    """Hold an exclusive lock beside ``path`` (``.<name>.lock``) while reading and rewriting it,
    so that two runs side by side do not lose each other's rows. POSIX only: on Windows the
    block runs unlocked (run one at a time there)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "w") as handle:
        try:
            import fcntl
        except ImportError:
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def save_checkpoint(path: str | Path, state: dict) -> None:
    """``torch.save`` to a temporary file, then rename: a crash never leaves half a file."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    write_atomic(Path(path), buffer.getvalue())


def load_checkpoint(path: str | Path) -> dict:
    """A checkpoint written by :func:`save_checkpoint`, on the CPU; a clear error if unreadable."""
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise RuntimeError(f"checkpoint {path} could not be read ({type(exc).__name__}: {exc}); "
                           f"delete it to start the training afresh") from exc
