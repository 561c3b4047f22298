"""Training a VAE: the negative ELBO of a batch as one function, and ``train_vae`` around it.

``negative_elbo_loss`` is what lesson 04 is about. ``train_vae`` adds the habits that fight
over-fitting on 4,000 digits (dynamic binarisation, random shifts, KL warm-up, weight
averaging, early stopping on validation digits) and hands the step to the course's one loop.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..augment import translation
from ..config import get_device
from ..losses import check_unit_images, elbo_terms
from .loop import LoopConfig, TrainingRun, data_digest, fingerprint, run_loop


@dataclass
class VAEConfig(LoopConfig):
    """How to train a VAE.

    beta: weight of the KL term (β-VAE); ``kl_warmup_steps`` ramps it from 0 to β.
    dynamic_binarization: re-binarise each batch (a fresh Bernoulli draw per pixel).
    shift: move each training digit by up to ``shift`` pixels in x and y (0: none).
    ema_decay: validate and return an exponential moving average of the weights (None: the
        weights themselves).
    validate_every: measure the validation −ELBO every so many steps (early stopping).
    """
    steps: int = 5000
    batch_size: int = 64
    lr: float = 1e-3
    beta: float = 1.0
    kl_warmup_steps: int = 0
    dynamic_binarization: bool = True
    shift: int = 0
    ema_decay: float | None = None
    validate_every: int = 250
    checkpoint_every: int = 1000


def negative_elbo_loss(model: nn.Module, x: torch.Tensor, beta: float = 1.0,
                       generator: torch.Generator | None = None) -> tuple[torch.Tensor, ...]:
    r"""The loss of one batch ``x`` ``(B, 1, 28, 28)`` in [0, 1]: the negative ELBO with the
    KL term weighted by β, averaged over the batch,

        −ELBO_β(x) = −E_{q(z|x)} log p(x|z) + β · KL(q(z|x) ‖ p(z)),

    with one reparameterised sample z = μ + σ ⊙ ε. Returns the loss and the per-image terms
    ``reconstruction`` and ``kl``, ``(B,)`` each (nats)."""
    logits, mu, logvar = model(x, generator)                # decoder logits; q(z|x) = N(μ, σ²)
    reconstruction, kl = elbo_terms(x, logits, mu, logvar)  # E_q log p(x|z), KL(q ‖ p): (B,), (B,)
    return (beta * kl - reconstruction).mean(), reconstruction, kl


def binarize(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Dynamic binarisation: each pixel ~ Bernoulli(its grey value in [0, 1])."""
    return (torch.rand(x.shape, generator=generator) < x.cpu()).float().to(x.device)


@torch.no_grad()
def negative_elbo_per_image(model: nn.Module, x: torch.Tensor, generator: torch.Generator,
                            batch_size: int = 500) -> torch.Tensor:
    """−ELBO of each image ``x`` in [0, 1] (nats, one z sample each): ``(N,)``."""
    model.eval()
    values = []
    for batch in x.split(batch_size):
        _, reconstruction, kl = negative_elbo_loss(model, batch, 1.0, generator)  # (B,), (B,)
        values.append(kl - reconstruction)
    return torch.cat(values)


def negative_elbo(model: nn.Module, x: torch.Tensor, generator: torch.Generator,
                  batch_size: int = 500) -> float:
    """Average −ELBO (nats per image) over images ``x`` in [0, 1] (one z sample each)."""
    values = negative_elbo_per_image(model, x, generator, batch_size)
    return sum(float(v.sum()) for v in values.split(batch_size)) / len(x)


def _check(data: torch.Tensor, config: VAEConfig) -> None:
    check_unit_images(data)
    if config.shift < 0 or config.shift > 14:
        raise ValueError(f"shift must be a number of pixels in 0..14, got {config.shift}")
    if config.ema_decay is not None and not 0.0 < config.ema_decay < 1.0:
        raise ValueError(f"ema_decay must lie in (0, 1), e.g. 0.999, or be None; got {config.ema_decay}")


def _validator(average: nn.Module, validation: torch.Tensor, config: VAEConfig, device: torch.device):
    """A hook that measures the validation −ELBO and keeps the best weights (early stopping)."""
    val_data = binarize(validation, torch.Generator().manual_seed(config.seed + 1)) \
        if config.dynamic_binarization else validation
    val_data = val_data.to(device)

    def validate(run: TrainingRun) -> None:  # on a fixed schedule, so that a resumed run repeats it
        value = negative_elbo(average, val_data, torch.Generator().manual_seed(config.seed + 2))
        run.history["val_step"].append(run.steps)
        run.history["val_elbo"].append(-value)
        if value < run.extras["best"]["val"]:
            run.extras["best"] = {"val": value, "state": copy.deepcopy(average.state_dict())}
            run.extras["best_step"] = run.steps
    return validate


def train_vae(model: nn.Module, data: torch.Tensor, config: VAEConfig = VAEConfig(), *,
              validation: torch.Tensor | None = None, checkpoint: str | Path | None = None,
              device: torch.device | None = None, progress: bool = True) -> TrainingRun:
    """Train a VAE on images ``data`` ``(N, 1, 28, 28)`` in [0, 1] by minimising the negative
    ELBO. With ``validation`` digits the weights of the best validation ELBO are kept.
    Returns a run with ``run.model`` (in eval mode), ``run.best_step`` and ``run.history``
    (per step ``loss``, ``elbo``, ``reconstruction``, ``kl``; per validation ``val_step``, ``val_elbo``)."""
    _check(data, config)
    device = device or get_device()
    model = model.to(device).train()
    average = copy.deepcopy(model).eval() if config.ema_decay else model  # what is validated and returned
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    generator = torch.Generator().manual_seed(config.seed)
    run = TrainingRun({"model": model}, {"val_step": [], "val_elbo": []},
                      extras={"best": {"val": math.inf, "state": None}, "best_step": 0})

    def step() -> dict:
        model.train()
        x = data[torch.randint(len(data), (config.batch_size,), generator=generator)]
        if config.shift:
            x = translation(x, generator, ratio=config.shift / x.shape[-1], fill=0.0)  # (B, 1, 28, 28)
        x = (binarize(x, generator) if config.dynamic_binarization else x).to(device)
        warmup = min(1.0, (run.steps + 1) / config.kl_warmup_steps) if config.kl_warmup_steps else 1.0
        loss, reconstruction, kl = negative_elbo_loss(model, x, config.beta * warmup, generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return {"loss": loss, "elbo": (reconstruction - kl).mean(), "reconstruction": reconstruction.mean(),
                "kl": kl.mean()}

    hooks = ((config.validate_every, _validator(average, validation, config, device)),) if validation is not None else ()
    stateful = {"model": model, "optimizer": optimizer} | ({"average": average} if config.ema_decay else {})
    run_loop(run, step, config, stateful=stateful, generator=generator, checkpoint=checkpoint,
             identity=fingerprint(config, {"model": model}, data=data_digest(data, validation)),
             averages=((average, model, config.ema_decay),) if config.ema_decay else (), hooks=hooks,
             description=f"VAE (β={config.beta:g})", progress=progress)
    if run.extras["best"]["state"] is not None:  # early stopping: keep the best validation weights
        model.load_state_dict(run.extras["best"]["state"])
    elif config.ema_decay:
        model.load_state_dict(average.state_dict())
    model.eval()
    return run
