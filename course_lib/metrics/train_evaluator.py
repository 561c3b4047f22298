"""Train the digits evaluator: ``python -m course_lib.metrics.train_evaluator``.

Seeded and deterministic on a CPU: it trains the CNN of ``evaluator.py`` on the 4,000 embedded
``train`` digits with small random shifts and rotations (:func:`~.classifier.fit_classifier`),
reports its accuracy on the 1,000 ``test`` digits, fixes the feature scale, then writes
``digits_evaluator.pt`` and its sha256 beside it (``digits_evaluator.pt.sha256``).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from ..config import seed_everything
from ..data import load_digits
from .classifier import fit_classifier
from .evaluator import WEIGHTS_PATH, DigitsEvaluator, save_weights


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
    print(f"wrote {args.out} and its sha256 {save_weights(model, args.out)}")


if __name__ == "__main__":
    main()
