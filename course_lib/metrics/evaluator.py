"""The digits evaluator: a small CNN that plays Inception's part for 28x28 digits.

Its penultimate layer (128 features) feeds FID, KID and precision/recall; its softmax feeds
the Inception Score and answers "which digit is this?". It is trained by the course itself
(``python -m course_lib.metrics.train_evaluator``) on the 4,000 embedded ``train`` digits; the
weights ship inside the package with their sha256 in ``digits_evaluator.pt.sha256``, checked on
every load.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from torch import nn

from ..figures import note_file

WEIGHTS_PATH = Path(__file__).with_name("digits_evaluator.pt")
FEATURE_DIM = 128
RETRAIN_HINT = "retrain it with `python -m course_lib.metrics.train_evaluator` (a few minutes on a CPU)"


class DigitsEvaluator(nn.Module):
    """CNN classifier for 28x28 digits in [-1, 1] (``in_channels`` 1, or 3 for colour domains).

    ``features(x)``: ``(B, 1, 28, 28)`` -> ``(B, 128)``, the penultimate activations divided by
    ``feature_scale`` (their root mean square over the train digits, fixed at training time, so
    that features are of unit scale as KID's polynomial kernel assumes);
    ``forward(x)``: logits ``(B, 10)``; ``probabilities(x)``: softmax ``(B, 10)``.
    """

    def __init__(self, in_channels: int = 1):
        super().__init__()

        def block(c_in: int, c_out: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(),
                nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(),
                nn.MaxPool2d(2))

        self.body = nn.Sequential(
            block(in_channels, 32),             # (B, 32, 14, 14)
            block(32, 64),                      # (B, 64, 7, 7)
            nn.Flatten(),                       # (B, 3136)
            nn.Linear(64 * 7 * 7, FEATURE_DIM), nn.ReLU())  # (B, 128)
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(FEATURE_DIM, 10)  # (B, 10)
        self.register_buffer("feature_scale", torch.tensor(1.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.body(x)))

    @torch.no_grad()
    def embed(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Features ``(B, 128)`` and class probabilities ``(B, 10)`` in one pass."""
        hidden = self.body(x)
        return hidden / self.feature_scale, self.head(hidden).softmax(dim=1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.embed(x)[0]

    def probabilities(self, x: torch.Tensor) -> torch.Tensor:
        return self.embed(x)[1]


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def checksum_path(path: Path) -> Path:
    """Where the sha256 of a weights file is kept: beside it, ``<name>.sha256``."""
    return Path(path).with_name(Path(path).name + ".sha256")


def save_weights(model: nn.Module, path: Path) -> str:
    """Write ``model``'s state dict to ``path`` and its sha256 beside it (both atomically), the
    pair that :func:`load_weights` checks; returns the sha256."""
    import io

    from ..io import write_atomic

    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    write_atomic(path, buffer.getvalue())
    digest = file_sha256(path)
    write_atomic(checksum_path(path), digest)
    return digest


def load_weights(path: Path, retrain_hint: str, sha256: str | None = None) -> dict:
    """A state dict of committed weights, after checking the file against its sha256 (by
    default the one written beside it when it was trained); never unpickles code."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"the weights {path.name} are missing; {retrain_hint}")
    if sha256 is None and checksum_path(path).is_file():
        sha256 = checksum_path(path).read_text().strip()
    if sha256 is None:
        raise RuntimeError(f"no sha256 beside {path.name} ({checksum_path(path).name}); {retrain_hint}")
    if file_sha256(path) != sha256:
        raise RuntimeError(f"the weights {path.name} do not match their sha256 {sha256[:12]}…: the file "
                           f"is corrupted or was replaced; {retrain_hint}")
    note_file(path)  # retrained weights move every figure read through them
    return torch.load(path, map_location="cpu", weights_only=True)


def load_digits_evaluator(device: torch.device | str = "cpu", path: Path = WEIGHTS_PATH,
                          sha256: str | None = None) -> DigitsEvaluator:
    """The trained evaluator in eval mode, its weights checked against their sha256 (by
    default the one written beside them when they were trained)."""
    model = DigitsEvaluator()
    model.load_state_dict(load_weights(path, RETRAIN_HINT, sha256))
    return model.to(device).eval()
