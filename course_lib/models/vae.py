"""Convolutional VAE for 28x28 digits (lesson 04).

Encoder q(z|x) = N(μ(x), diag σ²(x)); prior p(z) = N(0, I); decoder p(x|z) = Bernoulli with
logits from a transposed-convolution network (pixels in [0, 1]).
"""
from __future__ import annotations

import torch
from torch import nn


class ConvVAE(nn.Module):
    """x ``(B, 1, 28, 28)`` in [0, 1] -> decoder logits ``(B, 1, 28, 28)``, μ and log σ² ``(B, latent_dim)``."""

    def __init__(self, latent_dim: int = 16, width: int = 32, hidden: int = 256):
        super().__init__()
        self.latent_dim = latent_dim
        self.encoder = nn.Sequential(
            nn.Conv2d(1, width, 4, 2, 1), nn.ReLU(),              # (B, w, 14, 14)
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.ReLU(),      # (B, 2w, 7, 7)
            nn.Flatten(), nn.Linear(2 * width * 49, hidden), nn.ReLU(),
            nn.Linear(hidden, 2 * latent_dim))                    # (B, 2·latent_dim): μ, log σ²
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, hidden), nn.ReLU(),
            nn.Linear(hidden, 2 * width * 49), nn.ReLU(),
            nn.Unflatten(1, (2 * width, 7, 7)),                   # (B, 2w, 7, 7)
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1), nn.ReLU(),  # (B, w, 14, 14)
            nn.ConvTranspose2d(width, 1, 4, 2, 1))                # (B, 1, 28, 28) logits

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """μ, log σ² of q(z|x), each ``(B, latent_dim)``."""
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar.clamp(-12, 8)  # keeps exp(log σ²) finite early in training

    def reparameterize(self, mu: torch.Tensor, logvar: torch.Tensor,
                       generator: torch.Generator | None = None) -> torch.Tensor:
        """z = μ + σ ⊙ ε, ε ~ N(0, I): a sample of q(z|x) that is differentiable in μ and σ."""
        eps = torch.randn(mu.shape, generator=generator).to(mu.device)
        return mu + (0.5 * logvar).exp() * eps

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Bernoulli logits ``(B, 1, 28, 28)`` of p(x|z)."""
        return self.decoder(z)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None):
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar, generator)
        return self.decode(z), mu, logvar

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Mean images E[x|z] = σ(logits) ``(n, 1, 28, 28)`` in [0, 1] for z ~ p(z)."""
        device = next(self.parameters()).device
        z = torch.randn(n, self.latent_dim, generator=generator).to(device)
        return self.decode(z).sigmoid()
