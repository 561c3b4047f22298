"""GAN models: MLPs for the 2-D toys (lesson 02) and DCGAN for 28x28 digits (lesson 03).

DCGAN follows Radford et al. (2016): strided convolutions instead of pooling, transposed
convolutions to upsample, batch norm, ReLU in G and LeakyReLU(0.2) in D, tanh output, and
weights drawn from N(0, 0.02²); the kernels are 4x4 at stride 2 (Radford et al.'s code used 5x5). Options add what lesson 03 measures: spectral normalisation
in D, and class conditioning (G gets a label embedding, D a projection term).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm


# --------------------------------------------------------------------------- toys
def _unconditional(labels) -> None:
    if labels is not None:
        raise ValueError("this model is unconditional: it takes no labels")


class MLPGenerator(nn.Module):
    """z ``(B, latent_dim)`` -> points ``(B, 2)``."""

    def __init__(self, latent_dim: int = 2, hidden: int = 128, depth: int = 3):
        super().__init__()
        self.latent_dim = latent_dim
        layers, width = [], latent_dim
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        self.net = nn.Sequential(*layers, nn.Linear(width, 2))

    def forward(self, z: torch.Tensor, labels: None = None) -> torch.Tensor:
        _unconditional(labels)
        return self.net(z)


class MLPDiscriminator(nn.Module):
    """points ``(B, 2)`` -> logits ``(B,)`` (a real number; D(x) = sigmoid(logit))."""

    def __init__(self, hidden: int = 128, depth: int = 3):
        super().__init__()
        layers, width = [], 2
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.LeakyReLU(0.2)]
            width = hidden
        self.net = nn.Sequential(*layers, nn.Linear(width, 1))

    def forward(self, x: torch.Tensor, labels: None = None) -> torch.Tensor:
        _unconditional(labels)
        return self.net(x).squeeze(1)


class PackedDiscriminator(nn.Module):
    """PacGAN (Lin et al., 2018): D judges ``pack`` samples at once, concatenated.

    A collapsed generator makes packs of near-identical samples, which real packs never are,
    so D can see the missing variety that a one-sample D cannot. points ``(B, 2)`` ->
    logits ``(B / pack,)``; ``B`` must be a multiple of ``pack``. ``duplicate=True`` is the
    control: each sample is packed with copies of itself, so D has the same network and
    inputs per pack but no variety to see; logits ``(B,)``.
    """

    def __init__(self, pack: int = 4, hidden: int = 128, depth: int = 3, duplicate: bool = False):
        super().__init__()
        self.pack, self.duplicate = pack, duplicate
        layers, width = [], 2 * pack
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.LeakyReLU(0.2)]
            width = hidden
        self.net = nn.Sequential(*layers, nn.Linear(width, 1))

    def forward(self, x: torch.Tensor, labels: None = None) -> torch.Tensor:
        _unconditional(labels)
        if self.duplicate:
            x = x.repeat_interleave(self.pack, dim=0)  # (B·pack, 2): each pack is one sample, repeated
        if x.shape[0] % self.pack:
            raise ValueError(f"batch size {x.shape[0]} is not a multiple of pack={self.pack}")
        return self.net(x.reshape(-1, 2 * self.pack)).squeeze(1)  # (B / pack,)


# --------------------------------------------------------------------------- DCGAN
def dcgan_init(module: nn.Module) -> None:
    """DCGAN initialisation: conv and linear weights ~ N(0, 0.02²), batch-norm scale ~ N(1, 0.02²).
    A spectrally normalised layer gets it on its raw weight (its ``weight`` is computed from it)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)):
        raw = parametrize.is_parametrized(module, "weight")
        nn.init.normal_(module.parametrizations.weight.original if raw else module.weight, 0.0, 0.02)
        if getattr(module, "bias", None) is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class DCGANGenerator(nn.Module):
    """z ``(B, latent_dim)`` [and labels ``(B,)``] -> images ``(B, 1, 28, 28)`` in [-1, 1].

    Shapes: project to (B, 4w, 7, 7), then two stride-2 transposed convolutions,
    7 -> 14 -> 28, each out = (in - 1)·2 - 2·1 + 4 = 2·in, then a 3x3 convolution to 1 channel.
    """

    def __init__(self, latent_dim: int = 100, width: int = 64, num_classes: int | None = None):
        super().__init__()
        self.latent_dim, self.num_classes = latent_dim, num_classes
        in_dim = latent_dim
        if num_classes:
            self.embed = nn.Embedding(num_classes, latent_dim)
            in_dim = 2 * latent_dim
        self.project = nn.Sequential(
            nn.Linear(in_dim, 4 * width * 7 * 7, bias=False),
            nn.Unflatten(1, (4 * width, 7, 7)), nn.BatchNorm2d(4 * width), nn.ReLU())  # (B, 4w, 7, 7)
        self.net = nn.Sequential(
            nn.ConvTranspose2d(4 * width, 2 * width, 4, 2, 1, bias=False),
            nn.BatchNorm2d(2 * width), nn.ReLU(),                                 # (B, 2w, 14, 14)
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1, bias=False),
            nn.BatchNorm2d(width), nn.ReLU(),                                     # (B, w, 28, 28)
            nn.Conv2d(width, 1, 3, 1, 1), nn.Tanh())                              # (B, 1, 28, 28)
        self.apply(dcgan_init)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.num_classes:
            if labels is None:
                raise ValueError("this generator is class-conditional: pass labels (B,)")
            z = torch.cat([z, self.embed(labels)], dim=1)  # (B, 2·latent_dim)
        return self.net(self.project(z))


class DCGANDiscriminator(nn.Module):
    """images ``(B, 1, 28, 28)`` [and labels] -> logits ``(B,)``.

    Shapes: two stride-2 convolutions, 28 -> 14 -> 7, each out = (in + 2·1 - 4)/2 + 1 = in/2.
    ``norm``: "batch" (classic DCGAN; none on the first layer), "spectral" (Miyato et al., 2018:
    each weight divided by a power-iteration estimate of its largest singular value, one iteration
    each time D runs in training mode) or "none". With ``num_classes`` the logit gets a projection
    term ⟨embed(y), h⟩ (Miyato & Koyama, 2018).
    """

    def __init__(self, width: int = 64, norm: str = "batch", num_classes: int | None = None):
        super().__init__()
        if norm not in ("batch", "spectral", "none"):
            raise ValueError(f"norm must be 'batch', 'spectral' or 'none', got {norm!r}")
        sn = spectral_norm if norm == "spectral" else (lambda m: m)
        bn = (lambda c: nn.BatchNorm2d(c)) if norm == "batch" else (lambda c: nn.Identity())
        self.features = nn.Sequential(
            sn(nn.Conv2d(1, width, 4, 2, 1)), nn.LeakyReLU(0.2),                       # (B, w, 14, 14)
            sn(nn.Conv2d(width, 2 * width, 4, 2, 1)), bn(2 * width), nn.LeakyReLU(0.2),  # (B, 2w, 7, 7)
            sn(nn.Conv2d(2 * width, 4 * width, 3, 1, 1)), bn(4 * width), nn.LeakyReLU(0.2),  # (B, 4w, 7, 7)
            nn.Flatten())                                                              # (B, 4w·49)
        self.out = sn(nn.Linear(4 * width * 49, 1))
        self.num_classes = num_classes
        if num_classes:
            self.embed = sn(nn.Embedding(num_classes, 4 * width * 49))
        self.apply(dcgan_init)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = self.features(x)                          # (B, 4w·49)
        logits = self.out(h).squeeze(1)               # (B,)
        if self.num_classes:
            if labels is None:
                raise ValueError("this discriminator is class-conditional: pass labels (B,)")
            logits = logits + (self.embed(labels) * h).sum(1)
        return logits
