"""Differentiable augmentation (DiffAugment, Zhao et al., 2020) for GANs trained on little data.

The same random transformation family is applied to real *and* generated images every time
the discriminator sees them, in the D step and in the G step, so D cannot memorise the 4,000
training digits and G still receives gradients through the (differentiable) transformation.
Lesson 05 uses the same policies on the translations a CycleGAN generator learns to read back
(``inversion``: a photo digit and its negative show the same digit).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

def translation(x: torch.Tensor, generator: torch.Generator, ratio: float = 0.125,
                fill: float = -1.0) -> torch.Tensor:
    """Shift each image ``(B, C, H, W)`` by up to ``ratio`` of its size (rounded to whole
    pixels), filling the uncovered border with ``fill`` (the background: -1, or 0 for [0, 1] images)."""
    b, _, h, w = x.shape
    max_dy, max_dx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-max_dy, max_dy + 1, (b,), generator=generator).tolist()
    dx = torch.randint(-max_dx, max_dx + 1, (b,), generator=generator).tolist()
    padded = F.pad(x, (max_dx, max_dx, max_dy, max_dy), value=fill)  # (B, C, H+2my, W+2mx)
    return torch.stack([padded[i, :, max_dy + dy[i]: max_dy + dy[i] + h, max_dx + dx[i]: max_dx + dx[i] + w]
                        for i in range(b)])


def cutout(x: torch.Tensor, generator: torch.Generator, ratio: float = 0.5) -> torch.Tensor:
    """Blank (set to -1) one random square of side ``ratio`` of the image in each image."""
    b, _, h, w = x.shape
    size_h, size_w = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + 1, (b, 1, 1), generator=generator).to(x.device)  # centre of the square
    cx = torch.randint(0, w + 1, (b, 1, 1), generator=generator).to(x.device)
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    inside = (rows >= cy - size_h // 2) & (rows < cy - size_h // 2 + size_h) & \
             (cols >= cx - size_w // 2) & (cols < cx - size_w // 2 + size_w)  # (B, H, W)
    return torch.where(inside.unsqueeze(1), torch.full_like(x, -1.0), x)


def inversion(x: torch.Tensor, generator: torch.Generator, p: float = 0.5) -> torch.Tensor:
    """Invert the colours of each image ``(B, C, H, W)`` in [-1, 1] with probability ``p``:
    v -> -v, which is 1 - v for images in [0, 1]."""
    flip = torch.rand(x.shape[0], 1, 1, 1, generator=generator).to(x.device) < p  # (B, 1, 1, 1)
    return torch.where(flip, -x, x)


AUGMENTATIONS = {"translation": translation, "cutout": cutout, "inversion": inversion}  # policy names


def diff_augment(x: torch.Tensor, policy: str | tuple[str, ...] | None,
                 generator: torch.Generator) -> torch.Tensor:
    """Apply the augmentations named in ``policy`` (e.g. ``"translation,cutout"``) in order."""
    if not policy:
        return x
    names = policy.split(",") if isinstance(policy, str) else list(policy)
    for name in names:
        if name not in AUGMENTATIONS:
            raise ValueError(f"unknown augmentation {name!r}; use {', '.join(AUGMENTATIONS)}")
        x = AUGMENTATIONS[name](x, generator)
    return x
