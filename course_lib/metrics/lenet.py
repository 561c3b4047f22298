"""The second judge: LeNet-5 (LeCun et al., 1998), trained by other code than the evaluator.

A verdict on a trick ("spectral normalisation helped") read off one feature network is that
network's opinion: a change can move samples in ways one network's features weigh more than
another's. The course's second judge differs from the digits evaluator in everything but the
data: LeNet-5's architecture (5x5 convolutions, average pooling, tanh, 84 features in its last
hidden layer instead of 128 after ReLU), and its training (SGD with momentum, a cosine
schedule, random crops of padded digits instead of shifts and rotations, its own seed). Its
84 features feed the ``lenet`` protocol of :func:`~course_lib.metrics.evaluate`.

``python -m course_lib.metrics.lenet`` retrains it (about a minute on 2 CPU cores) and writes
``lenet5.pt`` with its sha256 beside it, checked on every load.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..config import seed_everything
from ..data import load_digits
from .classifier import accuracy
from .evaluator import load_weights, save_weights

WEIGHTS_PATH = Path(__file__).with_name("lenet5.pt")
RETRAIN_HINT = "retrain it with `python -m course_lib.metrics.lenet` (about a minute on a CPU)"


class LeNet5(nn.Module):
    """LeNet-5 for 28x28 digits in [-1, 1], padded to 32x32 as in the original.

    ``embed(x)``: features ``(B, 84)`` (the F6 layer, divided by their root mean square over the
    train digits) and class probabilities ``(B, 10)``; ``forward(x)``: logits ``(B, 10)``.
    """

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.ConstantPad2d(2, -1.0),                           # (B, 1, 32, 32), background -1
            nn.Conv2d(1, 6, 5), nn.Tanh(), nn.AvgPool2d(2),      # C1, S2: (B, 6, 14, 14)
            nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2),     # C3, S4: (B, 16, 5, 5)
            nn.Flatten(),
            nn.Linear(16 * 5 * 5, 120), nn.Tanh(),               # C5: (B, 120)
            nn.Linear(120, 84), nn.Tanh())                       # F6: (B, 84)
        self.head = nn.Linear(84, 10)                            # (B, 10)
        self.register_buffer("feature_scale", torch.tensor(1.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))

    @torch.no_grad()
    def embed(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.body(x)
        return hidden / self.feature_scale, self.head(hidden).softmax(dim=1)


def random_crop(x: torch.Tensor, generator: torch.Generator, pad: int = 2) -> torch.Tensor:
    """Pad images ``(B, 1, 28, 28)`` by ``pad`` pixels of background and crop 28x28 back at a
    random offset per image: shifts of up to ``pad`` pixels, no rotation."""
    b, _, h, w = x.shape
    padded = F.pad(x, (pad,) * 4, value=-1.0)
    dy, dx = (torch.randint(0, 2 * pad + 1, (2, b), generator=generator)).tolist()
    return torch.stack([padded[i, :, y:y + h, x_:x_ + w] for i, (y, x_) in enumerate(zip(dy, dx))])


def train(epochs: int = 30, seed: int = 1, lr: float = 0.05, batch_size: int = 128) -> tuple[LeNet5, float]:
    """LeNet-5 trained on the 4,000 embedded train digits; returns it and its test accuracy."""
    generator = seed_everything(seed)
    x_train, y_train = load_digits("train")
    x_test, y_test = load_digits("test")
    model = LeNet5()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4, nesterov=True)
    steps = epochs * (len(x_train) // batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(x_train), generator=generator)
        for i in range(0, len(order) - batch_size + 1, batch_size):
            batch = order[i:i + batch_size]
            loss = F.cross_entropy(model(random_crop(x_train[batch], generator)), y_train[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
    model.eval()
    with torch.no_grad():
        model.feature_scale.fill_(model.body(x_train).pow(2).mean().sqrt())
    return model, accuracy(model, x_test, y_test)


def load_lenet(device: torch.device | str = "cpu", path: Path = WEIGHTS_PATH) -> LeNet5:
    """The trained second judge in eval mode, its weights checked against their sha256."""
    model = LeNet5()
    model.load_state_dict(load_weights(path, RETRAIN_HINT))
    return model.to(device).eval()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="train the second judge, LeNet-5")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=WEIGHTS_PATH)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    model, test_accuracy = train(args.epochs, args.seed)
    print(f"test accuracy {test_accuracy:.4f} on the 1,000 test digits ({time.perf_counter() - start:.0f} s)")
    if test_accuracy < 0.96:
        raise SystemExit("test accuracy below 0.96: weights not written")
    print(f"wrote {args.out.name} and its sha256 {save_weights(model, args.out)}")


if __name__ == "__main__":
    main()
