"""A small U-Net for 28x28 images with a time embedding (lesson 07: diffusion and flow matching).

The network reads a noisy image x_t and the time t and predicts the noise ε (DDPM) or the
velocity v (flow matching). Its layout, for ``width`` w:

    28x28: conv w, ResBlock ─────────────────────────────── skip ──┐
    14x14: down 2w, ResBlock ────────────────────── skip ──┐       │
     7x7:  down 2w, ResBlock, self-attention, ResBlock     │       │
    14x14: up, concat ◄────────────────────────────────────┘ ResBlock 2w
    28x28: up, concat ◄─────────────────────────────────────────────┘ ResBlock w, conv to 1

Each residual block adds a projection of the time embedding (sinusoidal features of t, then an
MLP) to its feature maps, so that one network serves every noise level; with ``num_classes`` a
learned class embedding is added to the time embedding (class index ``num_classes`` is the
"no label" of classifier-free guidance).
"""
from __future__ import annotations

import math

import torch
from torch import nn


def sinusoidal_embedding(t: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """Features of times ``t`` ``(B,)`` (any real scale): [cos(t·f_k), sin(t·f_k)] for ``dim / 2``
    frequencies f_k from 1 down to 1 / max_period (Vaswani et al., 2017). Returns ``(B, dim)``."""
    half = dim // 2
    frequencies = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device) / half)  # (dim/2,)
    angles = t.float()[:, None] * frequencies[None, :]                                        # (B, dim/2)
    return torch.cat([angles.cos(), angles.sin()], dim=1)


class ResBlock(nn.Module):
    """x + conv(SiLU(GN(conv(SiLU(GN(x))) + time projection))), channels ``c_in`` -> ``c_out``."""

    def __init__(self, c_in: int, c_out: int, time_dim: int, groups: int = 8):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(groups, c_in), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.time = nn.Linear(time_dim, c_out)
        self.norm2, self.conv2 = nn.GroupNorm(groups, c_out), nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()
        nn.init.zeros_(self.conv2.weight)  # each block starts as the identity
        nn.init.zeros_(self.conv2.bias)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(nn.functional.silu(self.norm1(x)))          # (B, c_out, H, W)
        h = h + self.time(emb)[:, :, None, None]                   # the time (and label) enters here
        h = self.conv2(nn.functional.silu(self.norm2(h)))
        return self.skip(x) + h


class SelfAttention(nn.Module):
    """Single-head self-attention over the pixels of a small feature map, with a residual."""

    def __init__(self, channels: int, groups: int = 8):
        super().__init__()
        self.norm = nn.GroupNorm(groups, channels)
        self.qkv, self.out = nn.Conv2d(channels, 3 * channels, 1), nn.Conv2d(channels, channels, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).flatten(2).chunk(3, dim=1)               # (B, C, HW) each
        attention = torch.softmax(q.transpose(1, 2) @ k / math.sqrt(c), dim=-1)   # (B, HW, HW)
        return x + self.out((v @ attention.transpose(1, 2)).view(b, c, h, w))


class UNet(nn.Module):
    """x_t ``(B, 1, 28, 28)``, t ``(B,)`` [, labels ``(B,)``] -> ``(B, 1, 28, 28)`` (ε or v).

    ``time_scale`` multiplies t before the sinusoidal features: 1 for DDPM's integer steps
    0..T-1, 1000 for flow matching's t in [0, 1].
    """

    def __init__(self, width: int = 16, num_classes: int | None = None, time_scale: float = 1.0,
                 attention: bool = True):
        super().__init__()
        w, time_dim = width, 4 * width
        self.width, self.num_classes, self.time_scale = width, num_classes, time_scale
        self.time_mlp = nn.Sequential(nn.Linear(w, time_dim), nn.SiLU(), nn.Linear(time_dim, time_dim))
        self.label_embedding = nn.Embedding(num_classes + 1, time_dim) if num_classes else None
        self.conv_in = nn.Conv2d(1, w, 3, padding=1)
        self.down1 = ResBlock(w, w, time_dim)                                            # 28x28
        self.down2 = nn.Conv2d(w, 2 * w, 3, stride=2, padding=1)                        # 28 -> 14
        self.block2 = ResBlock(2 * w, 2 * w, time_dim)                                  # 14x14
        self.down3 = nn.Conv2d(2 * w, 2 * w, 3, stride=2, padding=1)                    # 14 -> 7
        self.mid1, self.mid2 = ResBlock(2 * w, 2 * w, time_dim), ResBlock(2 * w, 2 * w, time_dim)
        self.attention = SelfAttention(2 * w) if attention else nn.Identity()           # 7x7: 49 positions
        self.up2 = ResBlock(4 * w, 2 * w, time_dim)                                     # 14x14, after the skip
        self.up1 = ResBlock(3 * w, w, time_dim)                                         # 28x28, after the skip
        self.norm_out, self.conv_out = nn.GroupNorm(8, w), nn.Conv2d(w, 1, 3, padding=1)

    def embed(self, t: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        emb = self.time_mlp(sinusoidal_embedding(t * self.time_scale, self.width))     # (B, 4w)
        if self.label_embedding is not None:
            if labels is None:
                raise ValueError("this U-Net is class-conditional: pass labels (B,), or num_classes for 'no label'")
            emb = emb + self.label_embedding(labels)
        elif labels is not None:
            raise ValueError("this U-Net is unconditional: it takes no labels")
        return emb

    def forward(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        emb = self.embed(t, labels)
        h1 = self.down1(self.conv_in(x), emb)                          # (B, w, 28, 28)
        h2 = self.block2(self.down2(h1), emb)                          # (B, 2w, 14, 14)
        h = self.mid1(self.down3(h2), emb)                             # (B, 2w, 7, 7)
        h = self.mid2(self.attention(h), emb)                          # (B, 2w, 7, 7)
        h = nn.functional.interpolate(h, scale_factor=2.0)             # (B, 2w, 14, 14)
        h = self.up2(torch.cat([h, h2], dim=1), emb)                   # (B, 2w, 14, 14)
        h = nn.functional.interpolate(h, scale_factor=2.0)             # (B, 2w, 28, 28)
        h = self.up1(torch.cat([h, h1], dim=1), emb)                   # (B, w, 28, 28)
        return self.conv_out(nn.functional.silu(self.norm_out(h)))    # (B, 1, 28, 28)
