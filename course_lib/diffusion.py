r"""Diffusion and flow matching (lesson 07): noise schedules, the forward process, the training
losses and the samplers.

**DDPM** (Ho et al., 2020). A fixed forward process adds Gaussian noise in T small steps,
q(x_t | x_{t-1}) = N(√(1−β_t) x_{t-1}, β_t I), so that in closed form, with ᾱ_t = Π_{s≤t}(1 − β_s),

    q(x_t | x_0) = N(√ᾱ_t x_0, (1 − ᾱ_t) I),  i.e.  x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε,  ε ~ N(0, I).

A network ε_θ(x_t, t) learns to predict the noise: L = E ||ε − ε_θ(x_t, t)||². Sampling runs the
process backwards (ancestral sampling), or deterministically (DDIM, Song et al., 2021).

**Flow matching** (Lipman et al., 2023; rectified flow, Liu et al., 2023). The straight path
x_t = (1 − t) x_0 + t ε, t ∈ [0, 1], has velocity dx_t/dt = ε − x_0; a network v_θ(x_t, t) learns
it, L = E ||(ε − x_0) − v_θ(x_t, t)||², and sampling integrates dx/dt = v_θ from t = 1 (noise)
to t = 0 (data) with Euler or Heun steps.

**Guidance** extrapolates from a worse prediction to the model's: reference + w · (model − reference).
*Classifier-free guidance* (Ho & Salimans, 2022) takes the unconditional prediction as the reference
(train with the label dropped now and then); *autoguidance* (Karras et al., 2024) takes a worse
version of the same model, e.g. one trained for fewer steps, and works without labels too.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

SCHEDULES = ("linear", "cosine")


# --------------------------------------------------------------------------- schedules
@dataclass(frozen=True)
class NoiseSchedule:
    """β_t, α_t = 1 − β_t and ᾱ_t = Π α_s for t = 0..T−1 (float64, ``(T,)`` each)."""
    betas: torch.Tensor

    @property
    def T(self) -> int:
        return len(self.betas)

    @property
    def alpha_bar(self) -> torch.Tensor:
        return torch.cumprod(1 - self.betas, dim=0)

    def snr(self) -> torch.Tensor:
        """Signal-to-noise ratio ᾱ_t / (1 − ᾱ_t) of x_t, ``(T,)``."""
        return self.alpha_bar / (1 - self.alpha_bar)


def noise_schedule(name: str = "cosine", T: int = 1000) -> NoiseSchedule:
    """``linear``: β from 1e-4 to 0.02 (Ho et al., 2020); ``cosine``: ᾱ_t = f(t)/f(0) with
    f(t) = cos²((t/T + s)/(1 + s) · π/2), s = 0.008, β clipped at 0.999 (Nichol & Dhariwal, 2021)."""
    if name == "linear":
        return NoiseSchedule(torch.linspace(1e-4, 0.02, T, dtype=torch.float64))
    if name == "cosine":
        steps = torch.arange(T + 1, dtype=torch.float64) / T
        f = torch.cos((steps + 0.008) / 1.008 * math.pi / 2) ** 2
        alpha_bar = f / f[0]
        return NoiseSchedule((1 - alpha_bar[1:] / alpha_bar[:-1]).clamp(max=0.999))
    raise ValueError(f"unknown schedule {name!r}; use one of {', '.join(SCHEDULES)}")


def q_sample(x0: torch.Tensor, t: torch.Tensor, eps: torch.Tensor, schedule: NoiseSchedule) -> torch.Tensor:
    """x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε for integer steps ``t`` ``(B,)`` and images ``(B, C, H, W)``."""
    alpha_bar = schedule.alpha_bar.to(x0.device)[t].float().view(-1, 1, 1, 1)   # (B, 1, 1, 1)
    return alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * eps


# ------------------------------------------------------------------------------ losses
def ddpm_loss(model: nn.Module, x0: torch.Tensor, schedule: NoiseSchedule, generator: torch.Generator,
              labels: torch.Tensor | None = None) -> torch.Tensor:
    r"""Ho et al.'s simplified loss: E_{t, ε} ||ε − ε_θ(√ᾱ_t x_0 + √(1−ᾱ_t) ε, t)||², t uniform."""
    t = torch.randint(schedule.T, (x0.shape[0],), generator=generator).to(x0.device)   # (B,)
    eps = torch.randn(x0.shape, generator=generator).to(x0.device)                     # (B, 1, 28, 28)
    x_t = q_sample(x0, t, eps, schedule)
    return ((eps - model(x_t, t, labels)) ** 2).mean()


def sample_times(n: int, generator: torch.Generator, kind: str = "uniform") -> torch.Tensor:
    """Times t ∈ (0, 1) for flow matching: ``uniform``, or ``logit-normal`` (σ(u), u ~ N(0, 1):
    more of the middle of the path, where the velocity is hardest to predict; Esser et al., 2024)."""
    if kind == "uniform":
        return torch.rand(n, generator=generator)
    if kind == "logit-normal":
        return torch.sigmoid(torch.randn(n, generator=generator))
    raise ValueError(f"unknown time sampling {kind!r}; use 'uniform' or 'logit-normal'")


def flow_matching_loss(model: nn.Module, x0: torch.Tensor, generator: torch.Generator,
                       labels: torch.Tensor | None = None, time_sampling: str = "uniform") -> torch.Tensor:
    r"""Conditional flow matching on the straight path x_t = (1 − t) x_0 + t ε:
    E_{t, ε} ||(ε − x_0) − v_θ(x_t, t)||²."""
    t = sample_times(x0.shape[0], generator, time_sampling).to(x0.device)              # (B,)
    eps = torch.randn(x0.shape, generator=generator).to(x0.device)                     # (B, 1, 28, 28)
    x_t = (1 - t.view(-1, 1, 1, 1)) * x0 + t.view(-1, 1, 1, 1) * eps
    return ((eps - x0 - model(x_t, t, labels)) ** 2).mean()


# ---------------------------------------------------------------------------- sampling
def guided(model: nn.Module, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None,
           guidance: float = 1.0, bad_model: nn.Module | None = None) -> torch.Tensor:
    """The model's prediction, guided with weight w = ``guidance``: reference + w·(prediction − reference).

    The reference is ``bad_model``'s prediction when one is given (autoguidance: a worse version of
    the model, e.g. fewer training steps), else the unconditional prediction of a conditional model
    (classifier-free guidance: the "no label" class ``num_classes``). w = 1 is the model alone."""
    if guidance == 1.0 or (labels is None and bad_model is None):
        return model(x, t, labels)
    if bad_model is not None:
        reference = bad_model(x, t, labels)
        return reference + guidance * (model(x, t, labels) - reference)
    unconditional = torch.full_like(labels, model.num_classes)
    both = model(torch.cat([x, x]), torch.cat([t, t]), torch.cat([labels, unconditional]))
    conditional, unconditional = both.chunk(2)
    return unconditional + guidance * (conditional - unconditional)


def _start(model: nn.Module, n: int, generator: torch.Generator,
           bad_model: nn.Module | None = None) -> tuple[torch.Tensor, torch.device]:
    """Put the model (and ``bad_model``) in eval mode; draw the starting noise ``(n, 1, 28, 28)`` ~ N(0, I)
    on the model's device."""
    for network in (model, bad_model):
        if network is not None:
            network.eval()
    device = next(model.parameters()).device
    return torch.randn(n, 1, 28, 28, generator=generator).to(device), device


@torch.no_grad()
def ddim_sample(model: nn.Module, n: int, schedule: NoiseSchedule, steps: int, generator: torch.Generator,
                labels: torch.Tensor | None = None, guidance: float = 1.0, eta: float = 0.0,
                trajectory: list | None = None, bad_model: nn.Module | None = None) -> torch.Tensor:
    r"""Sample ``n`` images with an ε-prediction model in ``steps`` steps on a subsequence of the
    T steps (Song et al., 2021). From x_t and ε̂: x̂_0 = (x_t − √(1−ᾱ_t) ε̂)/√ᾱ_t (clipped to [-1, 1]),
    then x_prev = √ᾱ_prev x̂_0 + √(1 − ᾱ_prev − σ²) ε̂ + σ z with σ = η √((1−ᾱ_prev)/(1−ᾱ_t)) √(1 − ᾱ_t/ᾱ_prev).
    η = 0: deterministic DDIM; η = 1: ancestral sampling (DDPM's posterior on the subsequence).
    Returns images ``(n, 1, 28, 28)`` on the CPU; ``trajectory`` (a list) receives every x̂_0.
    ``guidance`` and ``bad_model``: see :func:`guided`."""
    x, device = _start(model, n, generator, bad_model)
    times = torch.linspace(schedule.T - 1, 0, steps).round().long().tolist()
    alpha_bar = schedule.alpha_bar
    for i, t in enumerate(times):
        ab_t = alpha_bar[t].item()
        ab_prev = alpha_bar[times[i + 1]].item() if i + 1 < steps else 1.0
        eps = guided(model, x, torch.full((n,), t, device=device), labels, guidance, bad_model)
        x0 = ((x - math.sqrt(1 - ab_t) * eps) / math.sqrt(ab_t)).clamp(-1, 1)
        eps = (x - math.sqrt(ab_t) * x0) / math.sqrt(1 - ab_t)          # the noise consistent with x̂_0
        sigma = eta * math.sqrt((1 - ab_prev) / (1 - ab_t) * (1 - ab_t / ab_prev))
        noise = torch.randn(x.shape, generator=generator).to(device) if sigma > 0 else 0.0
        x = math.sqrt(ab_prev) * x0 + math.sqrt(max(0.0, 1 - ab_prev - sigma ** 2)) * eps + sigma * noise
        if trajectory is not None:
            trajectory.append(x0.cpu())
    return x.cpu()


@torch.no_grad()
def flow_sample(model: nn.Module, n: int, steps: int, generator: torch.Generator,
                labels: torch.Tensor | None = None, guidance: float = 1.0, method: str = "euler",
                trajectory: list | None = None, bad_model: nn.Module | None = None) -> torch.Tensor:
    r"""Integrate dx/dt = v_θ(x, t) from t = 1 (noise) to t = 0 (data) in ``steps`` equal steps:
    Euler, x ← x + Δt·v(x, t), or Heun (Euler's guess, then the average of the velocities at both
    ends; two evaluations per step, Euler on the last one). Returns ``(n, 1, 28, 28)`` on the CPU;
    ``trajectory`` (a list) receives x after every step; ``guidance`` and ``bad_model``: see :func:`guided`."""
    if method not in ("euler", "heun"):
        raise ValueError(f"unknown method {method!r}; use 'euler' or 'heun'")
    x, device = _start(model, n, generator, bad_model)
    times = torch.linspace(1, 0, steps + 1).tolist()
    velocity = lambda x, t: guided(model, x, torch.full((n,), t, device=device), labels, guidance, bad_model)
    for t, t_next in zip(times[:-1], times[1:]):
        v = velocity(x, t)
        x_next = x + (t_next - t) * v
        if method == "heun" and t_next > 0:
            x_next = x + (t_next - t) * 0.5 * (v + velocity(x_next, t_next))
        x = x_next
        if trajectory is not None:
            trajectory.append(x.cpu())
    return x.clamp(-1, 1).cpu()
