"""Train the digits evaluator: ``python -m course_lib.metrics.train_evaluator``.

Seeded and deterministic on a CPU: it trains the CNN of ``evaluator.py`` on the 4,000 embedded
``train`` digits with small random shifts and rotations, reports its accuracy on the 1,000
``test`` digits, fixes the feature scale, then writes ``digits_evaluator.pt`` and its sha256 into ``evaluator.py``.
"""
from __future__ import annotations

import argparse
import io
import re
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..config import seed_everything, write_atomic
from ..data import load_digits, make_loader
from .evaluator import WEIGHTS_PATH, DigitsEvaluator


def random_affine(x: torch.Tensor, generator: torch.Generator, max_shift: float = 2 / 28,
                  max_degrees: float = 10.0) -> torch.Tensor:
    """Shift each image ``(B, 1, 28, 28)`` by up to 2 pixels and rotate it by up to 10 degrees."""
    b = x.shape[0]
    angle = (torch.rand(b, generator=generator) * 2 - 1) * max_degrees * torch.pi / 180
    shift = (torch.rand(b, 2, generator=generator) * 2 - 1) * max_shift * 2  # grid units span 2
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0], theta[:, 0, 1] = angle.cos(), -angle.sin()
    theta[:, 1, 0], theta[:, 1, 1] = angle.sin(), angle.cos()
    theta[:, :, 2] = shift
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x + 1, grid, align_corners=False, padding_mode="zeros") - 1  # pad with -1


@torch.no_grad()
def accuracy(model: DigitsEvaluator, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    predictions = torch.cat([model(batch).argmax(1) for batch in x.split(500)])
    return float((predictions == y).float().mean())


def fit_classifier(model: DigitsEvaluator, x_train: torch.Tensor, y_train: torch.Tensor,
                   x_test: torch.Tensor, y_test: torch.Tensor, generator: torch.Generator,
                   epochs: int = 20, lr: float = 2e-3, seed: int = 0, progress: bool = True) -> float:
    """Train a classifier of images ``(N, C, 28, 28)`` in [-1, 1] with random shifts and
    rotations, AdamW and a one-cycle schedule; returns its test accuracy (model in eval mode)."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    loader = make_loader(x_train, y_train, batch_size=64, seed=seed)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, epochs=epochs,
                                                   steps_per_epoch=len(loader))
    for epoch in (bar := tqdm(range(epochs), desc="classifier", disable=not progress)):
        model.train()
        for x, y in loader:
            loss = F.cross_entropy(model(random_affine(x, generator)), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
        bar.set_postfix(loss=f"{loss.item():.3f}", test_acc=f"{accuracy(model, x_test, y_test):.4f}")
    model.eval()
    with torch.no_grad():  # features of unit root mean square over the training images
        model.feature_scale.fill_(torch.cat([model.body(b) for b in x_train.split(500)]).pow(2).mean().sqrt())
    return accuracy(model, x_test, y_test)


def train(epochs: int = 20, seed: int = 0, lr: float = 2e-3) -> tuple[DigitsEvaluator, float]:
    """The digits evaluator, trained on the 4,000 embedded train digits."""
    generator = seed_everything(seed)
    x_train, y_train = load_digits("train")
    x_test, y_test = load_digits("test")
    model = DigitsEvaluator()
    test_accuracy = fit_classifier(model, x_train, y_train, x_test, y_test, generator, epochs, lr, seed)
    return model, test_accuracy


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="train the digits evaluator")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=WEIGHTS_PATH)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    model, test_accuracy = train(args.epochs, args.seed)
    print(f"test accuracy {test_accuracy:.4f} on the 1,000 test digits "
          f"({time.perf_counter() - start:.0f} s)")
    if test_accuracy < 0.97:
        raise SystemExit("test accuracy below 0.97: weights not written")
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    write_atomic(args.out, buffer.getvalue())
    from .evaluator import file_sha256

    digest = file_sha256(args.out)
    if args.out == WEIGHTS_PATH:  # record the checksum next to the code that checks it
        source = Path(__file__).with_name("evaluator.py")
        text = re.sub(r'WEIGHTS_SHA256 = "[^"]*"', f'WEIGHTS_SHA256 = "{digest}"', source.read_text())
        source.write_text(text)
    print(f"wrote {args.out} (sha256 {digest})")


if __name__ == "__main__":
    main()
