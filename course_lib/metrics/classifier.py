"""Training and using a digit classifier: the digits evaluator (lesson 06) and the judges that
read translations (lesson 05) are trained by :func:`fit_classifier`."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..data import make_loader
from ..progress import progress as progress_bar


def random_affine(x: torch.Tensor, generator: torch.Generator, max_shift: float = 2 / 28,
                  max_degrees: float = 10.0) -> torch.Tensor:
    """Shift each image ``(B, C, 28, 28)`` in [-1, 1] by up to 2 pixels and rotate it by up to
    10 degrees (the uncovered border is background, -1)."""
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
def predict(classifier: nn.Module, images: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """Predicted classes ``(N,)`` (on the CPU) of images ``(N, C, H, W)``, in batches on the
    classifier's device, in eval mode."""
    was_training = classifier.training
    classifier.eval()
    device = next(classifier.parameters()).device
    out = torch.cat([classifier(b.to(device)).argmax(1).cpu() for b in images.split(batch_size)])
    classifier.train(was_training)
    return out


def accuracy(classifier: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of ``images`` whose predicted class is ``labels``."""
    return float((predict(classifier, images) == labels.cpu()).float().mean())


def fit_classifier(model: nn.Module, x_train: torch.Tensor, y_train: torch.Tensor, x_test: torch.Tensor,
                   y_test: torch.Tensor, generator: torch.Generator, epochs: int = 20, lr: float = 2e-3,
                   seed: int = 0, progress: bool = True) -> float:
    """Train a classifier of images ``(N, C, 28, 28)`` in [-1, 1] with random shifts and
    rotations, AdamW and a one-cycle schedule; returns its test accuracy (model in eval mode).
    A model with a ``feature_scale`` buffer gets it set so that its features have unit root
    mean square over the training images."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    loader = make_loader(x_train, y_train, batch_size=64, seed=seed)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, epochs=epochs,
                                                   steps_per_epoch=len(loader))
    for _ in (bar := progress_bar(range(epochs), desc="classifier", disable=not progress)):
        model.train()
        for x, y in loader:
            loss = F.cross_entropy(model(random_affine(x, generator)), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
        bar.set_postfix(loss=f"{loss.item():.3f}", test_acc=f"{accuracy(model, x_test, y_test):.4f}")
    model.eval()
    if hasattr(model, "feature_scale"):
        with torch.no_grad():
            hidden = torch.cat([model.body(b) for b in x_train.split(500)])
            model.feature_scale.fill_(hidden.pow(2).mean().sqrt())
    return accuracy(model, x_test, y_test)
