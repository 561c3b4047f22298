"""Training a GAN: the update of the minimax game as one function, and ``train_gan`` around it.

``gan_step`` is what lessons 02 and 03 are about: the discriminator learns on a real batch and
a *detached* fake batch, then the generator learns through the discriminator. ``train_gan``
adds the configuration and hands the step to the course's one loop
(:func:`course_lib.training.loop.run_loop`): resume, checkpoints, progress, EMA, snapshots.
It trains any generator/discriminator pair of the course (MLPs on 2-D toys, PacGAN,
DCGAN on digits, conditional or not) with any loss of :mod:`course_lib.losses`.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from ..augment import diff_augment
from ..config import get_device
from ..losses import gan_losses, gradient_penalty
from .loop import LoopConfig, TrainingRun, data_digest, fingerprint, run_loop, sample_images


@dataclass
class GANConfig(LoopConfig):
    """How to train a GAN.

    loss: one of ``course_lib.losses.GAN_LOSSES``; ``wgan-gp`` adds ``gp_weight`` × penalty.
    d_steps: discriminator updates per generator update.
    ema_decay: also keep a moving average of G's weights, with this decay once warmed up
        (``ema_update``: min(decay, (1 + t)/(10 + t)) at step t), e.g. 0.999.
    augment: DiffAugment policy applied to everything D sees, e.g. ``"translation,cutout"``.
    snapshot_every: sample the fixed latent batch every so many steps (if one is given).
    """
    loss: str = "nonsaturating"
    batch_size: int = 64
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    d_steps: int = 1
    gp_weight: float = 10.0
    ema_decay: float | None = None
    augment: str | None = None
    snapshot_every: int | None = None


class GANRun(TrainingRun):
    """``run.G``, ``run.D``, ``run.G_ema`` (with EMA), ``run.snapshots``, ``run.history``
    (per step: ``loss_D``, ``loss_G``, and the mean ``D_real`` = D(x), ``D_fake`` = D(G(z)))."""

    @property
    def sampler(self) -> nn.Module:
        """The generator to sample from: the weight average when there is one."""
        return self.nets["G_ema"] if "G_ema" in self.nets else self.nets["G"]


def gan_step(G: nn.Module, D: nn.Module, opt_G, opt_D, batch: Callable, config: GANConfig,
             augment: Callable = lambda x: x, generator: torch.Generator | None = None) -> dict:
    """One round of the game. ``batch()`` draws ``(real, real_labels, z, fake_labels)``
    (labels are None for unconditional models); ``augment`` transforms what D sees."""
    d_loss_fn, g_loss_fn = gan_losses(config.loss)
    for _ in range(config.d_steps):                    # ---- D: minimise its loss on real and fake
        real, real_labels, z, fake_labels = batch()
        with torch.no_grad():
            fake = G(z, fake_labels)                   # detached: this update trains D only
        real_logits = D(augment(real), real_labels)
        fake_logits = D(augment(fake), fake_labels)
        loss_D = d_loss_fn(real_logits, fake_logits)
        if config.loss == "wgan-gp":
            loss_D = loss_D + config.gp_weight * gradient_penalty(D, real, fake, generator, real_labels)
        opt_D.zero_grad(set_to_none=True)
        loss_D.backward()
        opt_D.step()
    _, _, z, fake_labels = batch()                     # ---- G: fool D, through D
    loss_G = g_loss_fn(D(augment(G(z, fake_labels)), fake_labels))
    opt_G.zero_grad(set_to_none=True)
    loss_G.backward()  # fills D's gradients too: they are never applied, and cleared before D's next step
    opt_G.step()
    return {"loss_D": loss_D, "loss_G": loss_G,
            "D_real": real_logits.sigmoid().mean(), "D_fake": fake_logits.sigmoid().mean()}


@torch.no_grad()
def recompute_batch_norm(G: nn.Module, n: int = 4096, batch_size: int = 512, seed: int = 0) -> nn.Module:
    """A copy of generator ``G`` whose batch-norm running statistics are measured afresh on ``n``
    latents: an estimate of the statistics of its own weights (a weight average's averaged
    statistics mix those of the generators it averaged). Returns the copy in eval mode; ``G`` is
    unchanged."""
    G = copy.deepcopy(G)
    device = next(G.parameters()).device
    for module in G.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None  # a plain average over the batches below
    G.train()
    generator = torch.Generator().manual_seed(seed)
    for _ in range(n // batch_size):
        G(torch.randn(batch_size, G.latent_dim, generator=generator).to(device))
    return G.eval()


@torch.no_grad()
def discriminator_memorisation(D: nn.Module, seen: torch.Tensor, unseen: torch.Tensor,
                               augment: Callable = lambda x: x) -> float:
    """How well D tells the training images it has seen ``(N, ...)`` from held-out ones of the
    same data ``(M, ...)``: the probability that it rates a random seen image more real than a
    random unseen one (½: nothing memorised; 1: told apart every time). D judges both sets in
    one batch in training mode, as in a step, on a copy (its running statistics stay as they
    are): batch norm then treats the two sets alike. ``augment``: what D saw in training
    (DiffAugment), applied to both sets alike."""
    from ..metrics.scores import probability_greater

    if getattr(D, "num_classes", None):
        raise ValueError("discriminator_memorisation reads an unconditional D; a conditional D needs the "
                         "labels of both sets, which this function does not take")
    D = copy.deepcopy(D).train()
    device = next(D.parameters()).device
    scores = D(augment(torch.cat([seen, unseen]).to(device))).cpu()
    return probability_greater(scores[:len(seen)], scores[len(seen):])


def batch_sampler(data: torch.Tensor, labels: torch.Tensor | None, batch_size: int, latent_dim: int,
                  generator: torch.Generator, device: torch.device) -> Callable:
    """``batch()`` -> ``(real, real_labels, z, fake_labels)``: a random batch of the data, and
    latents (with uniformly drawn labels for a conditional model), all from ``generator``."""
    num_classes = int(labels.max()) + 1 if labels is not None else 0

    def batch():
        index = torch.randint(len(data), (batch_size,), generator=generator)
        z = torch.randn(batch_size, latent_dim, generator=generator).to(device)
        if labels is None:
            return data[index].to(device), None, z, None
        fake_labels = torch.randint(num_classes, (batch_size,), generator=generator).to(device)
        return data[index].to(device), labels[index].to(device), z, fake_labels
    return batch


def train_gan(G: nn.Module, D: nn.Module, data: torch.Tensor, config: GANConfig = GANConfig(), *,
              labels: torch.Tensor | None = None, fixed_z: torch.Tensor | None = None,
              fixed_labels: torch.Tensor | None = None, checkpoint: str | Path | None = None,
              device: torch.device | None = None, progress: bool = True,
              callback: Callable[[GANRun], None] | None = None, callback_every: int = 200) -> GANRun:
    """Train a GAN on ``data`` (``(N, 2)`` points or ``(N, C, H, W)`` images in [-1, 1]; with
    ``labels`` ``(N,)`` a class-conditional G and D) for ``config.steps`` generator updates.

    ``fixed_z`` (and ``fixed_labels``): a fixed latent batch, sampled into ``run.snapshots``
    every ``config.snapshot_every`` steps. ``checkpoint``: a file to save to and resume from
    (one file per configuration). ``callback(run)`` runs every ``callback_every`` steps."""
    device = device or get_device()
    G, D = G.to(device).train(), D.to(device).train()
    nets = {"G": G, "D": D} | ({"G_ema": copy.deepcopy(G).eval()} if config.ema_decay else {})
    opt_G = torch.optim.Adam(G.parameters(), lr=config.lr_g, betas=config.betas)
    opt_D = torch.optim.Adam(D.parameters(), lr=config.lr_d, betas=config.betas)
    generator = torch.Generator().manual_seed(config.seed)
    run = GANRun(nets, extras={"snapshots": []})
    batch = batch_sampler(data, labels, config.batch_size, G.latent_dim, generator, device)
    augment = lambda x: diff_augment(x, config.augment, generator)
    step = lambda: gan_step(G, D, opt_G, opt_D, batch, config, augment, generator)
    snapshot = lambda r: r.extras["snapshots"].append((r.steps, sample_images(r.sampler, fixed_z, fixed_labels)))
    hooks = ((config.snapshot_every if fixed_z is not None else None, snapshot), (callback_every, callback or (lambda r: None)))
    return run_loop(run, step, config, stateful=nets | {"opt_G": opt_G, "opt_D": opt_D}, generator=generator,
                    checkpoint=checkpoint, identity=fingerprint(config, nets, data=data_digest(data, labels)),
                    averages=((nets["G_ema"], G, config.ema_decay),) if config.ema_decay else (),
                    hooks=hooks, description=f"GAN ({config.loss})", progress=progress)
