"""CycleGAN (Zhu et al., 2017) scaled to 28x28 images (lesson 05).

Names follow the paper: G: X -> Y, F: Y -> X, discriminators D_X (real x vs F(y)) and
D_Y (real y vs G(x)). Generators are ResNet-style (Johnson et al., 2016): a 7x7 convolution,
one stride-2 downsampling, residual blocks, one transposed-convolution upsampling and a 7x7
convolution to tanh, with instance norm. Discriminators are PatchGANs: a fully convolutional
net whose output is a grid of real/fake logits, one per overlapping patch.
"""
from __future__ import annotations

import torch
from torch import nn


class ResidualBlock(nn.Module):
    """x + conv-IN-ReLU-conv-IN(x), reflection padded, channels unchanged."""

    def __init__(self, channels: int):
        super().__init__()
        self.block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), nn.InstanceNorm2d(channels), nn.ReLU(),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), nn.InstanceNorm2d(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class ResnetGenerator(nn.Module):
    """images ``(B, C, 28, 28)`` in [-1, 1] -> translated images ``(B, C, 28, 28)`` in [-1, 1].

    c7s1-w, d2w (28 -> 14), ``n_blocks`` x R2w, u-w (14 -> 28), c7s1-C, tanh.
    """

    def __init__(self, channels: int = 3, width: int = 32, n_blocks: int = 4):
        super().__init__()
        self.net = nn.Sequential(
            nn.ReflectionPad2d(3), nn.Conv2d(channels, width, 7), nn.InstanceNorm2d(width), nn.ReLU(),  # (B, w, 28, 28)
            nn.Conv2d(width, 2 * width, 3, 2, 1), nn.InstanceNorm2d(2 * width), nn.ReLU(),            # (B, 2w, 14, 14)
            *[ResidualBlock(2 * width) for _ in range(n_blocks)],                                   # (B, 2w, 14, 14)
            nn.ConvTranspose2d(2 * width, width, 3, 2, 1, output_padding=1),
            nn.InstanceNorm2d(width), nn.ReLU(),                                                    # (B, w, 28, 28)
            nn.ReflectionPad2d(3), nn.Conv2d(width, channels, 7), nn.Tanh())                       # (B, C, 28, 28)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class PatchDiscriminator(nn.Module):
    """images ``(B, C, 28, 28)`` -> a grid of logits ``(B, 1, 5, 5)``, one per 26x26 patch.

    Layers (kernel k, stride s): C-w (4, 2), C-2w (4, 2) + IN, C-4w (3, 1) + IN, output (3, 1).
    Receptive field, walking back from one output unit with r ← s·r + (k − s):
    1 -> 3 -> 5 -> 12 -> 26 pixels (see :func:`receptive_field`).
    """

    def __init__(self, channels: int = 3, width: int = 32):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2),                              # (B, w, 14, 14)
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.InstanceNorm2d(2 * width), nn.LeakyReLU(0.2),  # (B, 2w, 7, 7)
            nn.Conv2d(2 * width, 4 * width, 3, 1, 0), nn.InstanceNorm2d(4 * width), nn.LeakyReLU(0.2),  # (B, 4w, 5, 5)
            nn.Conv2d(4 * width, 1, 3, 1, 1))                                                    # (B, 1, 5, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def receptive_field(layers: list[tuple[int, int]]) -> int:
    """Receptive field of one output unit of a stack of convolutions ``[(kernel, stride), ...]``
    (input first): walking back from the output, r ← s·r + (k − s), starting from r = 1."""
    r = 1
    for kernel, stride in reversed(layers):
        r = stride * r + (kernel - stride)
    return r
