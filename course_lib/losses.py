r"""Losses of the course's models, each one named after what it is and citing its equation.

GAN losses take the discriminator's **logits** (real numbers, D(x) = σ(logit)) and return a
scalar to *minimise*: ``d_loss_*`` for the discriminator, ``g_loss_*`` for the generator.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

GAN_LOSSES = ("saturating", "nonsaturating", "lsgan", "hinge", "wgan-gp")


def _check_logits(*tensors: torch.Tensor) -> None:
    for t in tensors:
        if not torch.isfinite(t).all():
            raise FloatingPointError("the discriminator produced NaN/Inf logits: training diverged; "
                                     "lower the learning rates or resume from the last checkpoint")


# ---------------------------------------------------------- minimax GAN (Goodfellow 2014)
def d_loss_minimax(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    r"""-V(D, G) = -E log D(x) - E log(1 - D(G(z))), with log σ(a) = -softplus(-a)
    and log(1 - σ(a)) = -softplus(a) (numerically stable)."""
    _check_logits(real_logits, fake_logits)
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def g_loss_saturating(fake_logits: torch.Tensor) -> torch.Tensor:
    r"""The generator's side of the minimax game: minimise E log(1 - D(G(z))).
    Its gradient vanishes when D confidently rejects the fakes (D(G(z)) ≈ 0)."""
    _check_logits(fake_logits)
    return -F.softplus(fake_logits).mean()


def g_loss_nonsaturating(fake_logits: torch.Tensor) -> torch.Tensor:
    r"""The non-saturating heuristic: minimise -E log D(G(z)); same fixed point, strong
    gradients early in training."""
    _check_logits(fake_logits)
    return F.softplus(-fake_logits).mean()


# ------------------------------------------------------------ LSGAN (Mao et al., 2017)
def d_loss_lsgan(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    r"""½ E (D(x) − 1)² + ½ E D(G(z))², on the raw outputs (no sigmoid)."""
    _check_logits(real_logits, fake_logits)
    return 0.5 * ((real_logits - 1) ** 2).mean() + 0.5 * (fake_logits ** 2).mean()


def g_loss_lsgan(fake_logits: torch.Tensor) -> torch.Tensor:
    r"""½ E (D(G(z)) − 1)²."""
    _check_logits(fake_logits)
    return 0.5 * ((fake_logits - 1) ** 2).mean()


# ---------------------------------------------------- hinge (Lim & Ye 2017; Miyato 2018)
def d_loss_hinge(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    r"""E max(0, 1 − D(x)) + E max(0, 1 + D(G(z)))."""
    _check_logits(real_logits, fake_logits)
    return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()


def g_loss_hinge(fake_logits: torch.Tensor) -> torch.Tensor:
    r"""−E D(G(z))."""
    _check_logits(fake_logits)
    return -fake_logits.mean()


# ------------------------------------------------------ WGAN-GP (Gulrajani et al., 2017)
def d_loss_wgan(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    r"""The critic minimises E D(G(z)) − E D(x) (the negated Wasserstein-1 estimate);
    add :func:`gradient_penalty` to keep it 1-Lipschitz."""
    _check_logits(real_logits, fake_logits)
    return fake_logits.mean() - real_logits.mean()


def g_loss_wgan(fake_logits: torch.Tensor) -> torch.Tensor:
    r"""−E D(G(z))."""
    _check_logits(fake_logits)
    return -fake_logits.mean()


def gradient_penalty(D, real: torch.Tensor, fake: torch.Tensor, generator: torch.Generator | None = None,
                     labels: torch.Tensor | None = None) -> torch.Tensor:
    r"""E_x̂ (‖∇_x̂ D(x̂)‖₂ − 1)², x̂ = ε x + (1 − ε) G(z), ε ~ U[0, 1] per sample
    (Gulrajani et al., 2017, Eq. 3). Multiply by λ = 10. ``labels``: for a conditional D."""
    shape = (real.shape[0],) + (1,) * (real.ndim - 1)
    eps = torch.rand(shape, generator=generator).to(real.device)
    x_hat = (eps * real + (1 - eps) * fake.detach()).requires_grad_(True)
    logits = D(x_hat) if labels is None else D(x_hat, labels)
    (grad,) = torch.autograd.grad(logits.sum(), x_hat, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


def gan_losses(kind: str):
    """``(d_loss, g_loss)`` for a loss kind of :data:`GAN_LOSSES`."""
    table = {"saturating": (d_loss_minimax, g_loss_saturating),
             "nonsaturating": (d_loss_minimax, g_loss_nonsaturating),
             "lsgan": (d_loss_lsgan, g_loss_lsgan),
             "hinge": (d_loss_hinge, g_loss_hinge),
             "wgan-gp": (d_loss_wgan, g_loss_wgan)}
    if kind not in table:
        raise ValueError(f"unknown GAN loss {kind!r}; use one of {', '.join(GAN_LOSSES)}")
    return table[kind]


# ----------------------------------------------------------------- Gaussian divergences
def kl_normal(mu_q: torch.Tensor, logvar_q: torch.Tensor, mu_p: torch.Tensor | float = 0.0,
              logvar_p: torch.Tensor | float = 0.0) -> torch.Tensor:
    r"""Elementwise KL(N(μ_q, σ_q²) ‖ N(μ_p, σ_p²)) from means and log-variances:

    ½ [ log(σ_p²/σ_q²) + (σ_q² + (μ_q − μ_p)²)/σ_p² − 1 ].

    Summed over dimensions it is the KL between diagonal Gaussians; with the default
    p = N(0, 1) it is the KL term of the VAE's ELBO, ½ Σ (μ² + σ² − log σ² − 1).
    """
    mu_p = torch.as_tensor(mu_p, dtype=mu_q.dtype, device=mu_q.device)
    logvar_p = torch.as_tensor(logvar_p, dtype=mu_q.dtype, device=mu_q.device)
    return 0.5 * (logvar_p - logvar_q + (logvar_q.exp() + (mu_q - mu_p) ** 2) / logvar_p.exp() - 1)


# ------------------------------------------------------------------------- VAE (ELBO)
LOG_2PI = 1.8378770664093453


def check_unit_images(x: torch.Tensor) -> None:
    """Raise a clear error unless ``x`` is ``(B, C, H, W)`` with values in [0, 1]."""
    if x.ndim != 4:
        raise ValueError(f"expected images of shape (B, C, H, W), got {tuple(x.shape)}")
    if x.min() < 0 or x.max() > 1:
        raise ValueError(f"a Bernoulli likelihood needs pixels in [0, 1], got [{x.min():.3g}, "
                         f"{x.max():.3g}]; load the digits with value_range=(0, 1)")


def bernoulli_log_likelihood(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    r"""log p(x|z) = Σ_pixels [x log σ(l) + (1 − x) log(1 − σ(l))], per image ``(B,)``."""
    return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)


def gaussian_log_likelihood(mean: torch.Tensor, x: torch.Tensor, log_sigma: float | torch.Tensor = 0.0
                            ) -> torch.Tensor:
    r"""log N(x; mean, σ² I) = −Σ_pixels [(x − mean)²/(2σ²) + log σ + ½ log 2π], per image ``(B,)``."""
    log_sigma = torch.as_tensor(log_sigma, dtype=mean.dtype, device=mean.device)
    return -(((x - mean) ** 2) / (2 * (2 * log_sigma).exp()) + log_sigma + 0.5 * LOG_2PI).flatten(1).sum(1)


def elbo_terms(x: torch.Tensor, logits: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The two terms of the ELBO per image ``(B,)``:

    reconstruction E_q log p(x|z) (one sample z ~ q, Bernoulli decoder) and
    KL(q(z|x) ‖ p(z)) in closed form for q = N(μ, σ²), p = N(0, I).
    ELBO = reconstruction − KL ≤ log p(x).
    """
    check_unit_images(x)
    reconstruction = bernoulli_log_likelihood(logits, x)  # (B,)
    kl = kl_normal(mu, logvar).sum(1)                      # (B,)
    return reconstruction, kl


def log_normal_density(z: torch.Tensor, mu: torch.Tensor | float = 0.0,
                       logvar: torch.Tensor | float = 0.0) -> torch.Tensor:
    r"""log N(z; μ, diag σ²) summed over the last dimension."""
    logvar = torch.as_tensor(logvar, dtype=z.dtype, device=z.device)
    return -0.5 * (LOG_2PI + logvar + (z - mu) ** 2 / logvar.exp()).sum(-1)


@torch.no_grad()
def iwae_log_likelihood(model, x: torch.Tensor, k: int, generator: torch.Generator | None = None,
                        chunk: int | None = None) -> torch.Tensor:
    r"""Importance-weighted bound (Burda et al., 2016) on log p(x), per image ``(B,)``:

    L_k = E log (1/k) Σ_{i=1..k} p(x, z_i) / q(z_i|x),  z_i ~ q(z|x).

    L_1 is the ELBO; L_k never decreases in k (on average) and tends to log p(x).
    ``model`` needs ``encode`` and ``decode``; ``x`` in [0, 1] (binarised for a proper likelihood).
    The k samples are decoded ``chunk`` at a time (default: about 20,000 images per pass).
    """
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    check_unit_images(x)
    mu, logvar = model.encode(x)                               # (B, L)
    chunk = chunk or max(1, 20_000 // len(x))
    log_weights = []
    for start in range(0, k, chunk):
        m = min(chunk, k - start)
        eps = torch.randn((m,) + mu.shape, generator=generator).to(x.device)  # (m, B, L)
        z = mu + (0.5 * logvar).exp() * eps                    # (m, B, L)
        logits = model.decode(z.flatten(0, 1))                 # (m·B, 1, 28, 28)
        log_px_z = bernoulli_log_likelihood(logits, x.repeat(m, 1, 1, 1)).view(m, -1)  # (m, B)
        log_w = log_px_z + log_normal_density(z) - log_normal_density(z, mu, logvar)
        log_weights.append(log_w)
    log_weights = torch.cat(log_weights)                       # (k, B)
    return torch.logsumexp(log_weights, dim=0) - torch.log(torch.tensor(float(k)))


# ------------------------------------------------------------- CycleGAN (Zhu et al., 2017)
def cycle_consistency_loss(real: torch.Tensor, reconstructed: torch.Tensor) -> torch.Tensor:
    r"""L_cyc, Eq. (2) of the CycleGAN paper, one direction: E ‖F(G(x)) − x‖₁ (mean over
    pixels). The full term adds the other direction, E ‖G(F(y)) − y‖₁."""
    return (reconstructed - real).abs().mean()


def identity_loss(real: torch.Tensor, mapped: torch.Tensor) -> torch.Tensor:
    r"""L_identity, Eq. (6) of the CycleGAN paper, one direction: E ‖G(y) − y‖₁ -- a generator
    fed an image of its target domain should leave it unchanged (preserves colour and tone)."""
    return (mapped - real).abs().mean()
