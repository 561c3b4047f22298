"""Training a diffusion or flow-matching model: the step is one loss of :mod:`course_lib.diffusion`
on a batch, and ``train_diffusion`` hands it to the course's one loop (resume, checkpoints,
progress, EMA, history)."""
from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from ..config import get_device
from ..diffusion import ddpm_loss, flow_matching_loss, noise_schedule
from .loop import LoopConfig, TrainingRun, data_digest, fingerprint, run_loop

OBJECTIVES = ("ddpm", "flow")


@dataclass
class DiffusionConfig(LoopConfig):
    """How to train a denoiser; the defaults are lesson 07's recipe (with ``UNet(width=16)``).

    objective: ``ddpm`` (predict ε on the ``schedule`` with ``T`` steps) or ``flow`` (predict the
        velocity ε − x_0 of the straight path, times drawn by ``time_sampling``).
    ema_decay: also keep an exponential moving average of the weights, to sample from.
    label_dropout: for a conditional model, the share of labels replaced by "no label" (the
        unconditional model that classifier-free guidance needs).
    """
    objective: str = "flow"
    schedule: str = "cosine"
    T: int = 1000
    time_sampling: str = "logit-normal"
    batch_size: int = 64
    lr: float = 2e-3
    ema_decay: float | None = 0.999
    label_dropout: float = 0.1


def diffusion_step(model: nn.Module, optimizer, x0: torch.Tensor, config: DiffusionConfig,
                   generator: torch.Generator, labels: torch.Tensor | None = None) -> dict:
    """One update on a batch ``x0`` ``(B, 1, 28, 28)`` in [-1, 1]: the objective's loss, then Adam."""
    if labels is not None and config.label_dropout:  # drop labels: learn the unconditional model too
        dropped = torch.rand(labels.shape, generator=generator).to(labels.device) < config.label_dropout
        labels = torch.where(dropped, torch.full_like(labels, model.num_classes), labels)
    if config.objective == "ddpm":
        loss = ddpm_loss(model, x0, noise_schedule(config.schedule, config.T), generator, labels)
    else:
        loss = flow_matching_loss(model, x0, generator, labels, config.time_sampling)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return {"loss": loss}


def train_diffusion(model: nn.Module, data: torch.Tensor, config: DiffusionConfig = DiffusionConfig(), *,
                    labels: torch.Tensor | None = None, checkpoint: str | Path | None = None,
                    device: torch.device | None = None, progress: bool = True,
                    callback: Callable | None = None, callback_every: int = 500,
                    start_from: str | Path | None = None) -> TrainingRun:
    """Train ``model`` (a :class:`~course_lib.models.unet.UNet`) on images ``data`` ``(N, 1, 28, 28)``
    in [-1, 1] (with ``labels`` ``(N,)`` for a class-conditional model). Returns a run with
    ``run.model``, ``run.model_ema`` (with EMA; sample from it) and the per-step ``history``.
    ``start_from``: a shorter run's checkpoint (``run.checkpoint``) to continue, left as it is."""
    if config.objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {config.objective!r}; use one of {', '.join(OBJECTIVES)}")
    if data.min() < -1 - 1e-6 or data.max() > 1 + 1e-6:
        raise ValueError("diffusion models here learn images in [-1, 1]; load them with value_range=(-1, 1)")
    device = device or get_device()
    model = model.to(device).train()
    nets = {"model": model} | ({"model_ema": copy.deepcopy(model).eval()} if config.ema_decay else {})
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    generator = torch.Generator().manual_seed(config.seed)

    def step() -> dict:
        index = torch.randint(len(data), (config.batch_size,), generator=generator)
        batch_labels = labels[index].to(device) if labels is not None else None
        return diffusion_step(model, optimizer, data[index].to(device), config, generator, batch_labels)

    return run_loop(TrainingRun(nets), step, config, stateful=nets | {"optimizer": optimizer}, generator=generator,
                    checkpoint=checkpoint, identity=fingerprint(config, nets, data=data_digest(data, labels)),
                    averages=((nets["model_ema"], model, config.ema_decay),) if config.ema_decay else (),
                    hooks=((callback_every, callback or (lambda run: None)),),
                    description=f"{config.objective} ({'conditional' if labels is not None else 'unconditional'})",
                    progress=progress, start_from=start_from)
