"""Training CycleGAN (Zhu et al., 2017): the generators' and the discriminators' losses term by
term, the image history pool, and ``train_cyclegan`` around them.

Names follow the paper: G: X -> Y, F: Y -> X, D_X judges real x against F(y), D_Y real y
against G(x).
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from ..augment import diff_augment
from ..config import get_device
from ..losses import _check_logits, cycle_consistency_loss, d_loss_lsgan, identity_loss
from .loop import LoopConfig, TrainingRun, data_digest, fingerprint, run_loop


@dataclass
class CycleGANConfig(LoopConfig):
    """How to train CycleGAN.

    lambda_cyc: weight of both directions of L_cyc (the paper), or a pair
        (λ_forward, λ_backward) for x -> G(x) -> F(G(x)) ≈ x and y -> F(y) -> G(F(y)) ≈ y
        separately, as in the paper's ablation (Table 4).
    lambda_id: weight of the identity term (0: none).
    pool_size: images in each discriminator's history pool (0: only the newest fakes).
    decay_start: the learning rate stays at ``lr`` until this step (default: half of
        ``steps``), then decays linearly to zero.
    back_translation: each cycle term trains only the generator that rebuilds (the
        translation it starts from is detached), so hiding the input in it earns nothing.
    augment_forward: a :func:`~course_lib.augment.diff_augment` policy applied to G(x)
        before F reads it back, e.g. ``"inversion"``.
    """
    batch_size: int = 16
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    lambda_cyc: float | tuple[float, float] = 10.0
    lambda_id: float = 5.0
    pool_size: int = 50
    decay_start: int | None = None
    back_translation: bool = False
    augment_forward: str | None = None

    @property
    def cycle_weights(self) -> tuple[float, float]:
        """(λ_forward, λ_backward)."""
        return tuple(self.lambda_cyc) if isinstance(self.lambda_cyc, (tuple, list)) else (self.lambda_cyc,) * 2


class ImagePool:
    """History of generated images (Shrivastava et al., 2017), as in CycleGAN: D is updated
    with a mix of the newest fakes and fakes from earlier generators.

    For each image of a batch: while the pool holds fewer than ``size`` images, store it and
    return it; afterwards, with probability ½ return a random stored image and put the new one
    in its place, else return the new image.
    """

    def __init__(self, size: int = 50, seed: int = 0):
        self.size, self.images, self.rng = size, [], random.Random(seed)

    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return images
        out = []
        for image in images.detach():
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
            elif self.rng.random() < 0.5:
                index = self.rng.randrange(self.size)
                out.append(self.images[index].clone())
                self.images[index] = image.clone()
            else:
                out.append(image)
        return torch.stack(out)

    def state_dict(self) -> dict:
        return {"images": self.images, "rng": self.rng.getstate()}

    def load_state_dict(self, state: dict) -> None:
        self.images = list(state["images"])
        self.rng.setstate(state["rng"])


def g_loss_lsgan_unhalved(fake_logits: torch.Tensor) -> torch.Tensor:
    r"""The generator's least-squares loss as CycleGAN's paper (its training details: Eq. 1's
    log-likelihood replaced by a least-squares loss) and its code use it: E (D(G(x)) − 1)², **not**
    halved. Only the discriminator's objective is divided by 2 there
    (:func:`~course_lib.losses.d_loss_lsgan`), so λ_cyc = 10 weighs the cycle term 10 times one
    adversarial term. (:func:`~course_lib.losses.g_loss_lsgan`, ½ E (D(G(z)) − 1)², is lesson 02's;
    with it, λ_cyc = 10 would act as 20.)"""
    _check_logits(fake_logits)
    return ((fake_logits - 1) ** 2).mean()


def generator_losses(G: nn.Module, F: nn.Module, D_X: nn.Module, D_Y: nn.Module, x: torch.Tensor,
                     y: torch.Tensor, config: CycleGANConfig, generator: torch.Generator) -> dict:
    r"""The generators' objective (the paper's Eq. 3 and 6, least-squares GAN losses as the
    paper's code has them):

        L = L_GAN(G, D_Y) + L_GAN(F, D_X) + λ_cyc·L_cyc(G, F) + λ_id·L_identity(G, F)

    with L_GAN(G, D_Y) = E (D_Y(G(x)) − 1)² (not halved) and each L1 term a mean over pixels,
    for batches ``x`` of X and ``y`` of Y. Returns every term, the total ``loss_G``, and the
    translations ``fake_y`` = G(x) and ``fake_x`` = F(y) for the discriminators."""
    fake_y, fake_x = G(x), F(y)                              # G(x) in Y, F(y) in X
    gan_G = g_loss_lsgan_unhalved(D_Y(fake_y))               # L_GAN(G, D_Y): fool D_Y
    gan_F = g_loss_lsgan_unhalved(D_X(fake_x))               # L_GAN(F, D_X): fool D_X
    # back-translation: the translation a cycle starts from is a constant (sg[·])
    start_y, start_x = (fake_y.detach(), fake_x.detach()) if config.back_translation else (fake_y, fake_x)
    start_y = diff_augment(start_y, config.augment_forward, generator)  # what F must read through
    cycle_forward = cycle_consistency_loss(x, F(start_y))   # ‖F(G(x)) − x‖₁
    cycle_backward = cycle_consistency_loss(y, G(start_x))  # ‖G(F(y)) − y‖₁
    identity = identity_loss(y, G(y)) + identity_loss(x, F(x)) if config.lambda_id else x.new_zeros(())
    lambda_forward, lambda_backward = config.cycle_weights
    loss_G = (gan_G + gan_F + lambda_forward * cycle_forward + lambda_backward * cycle_backward
              + config.lambda_id * identity)
    return {"loss_G": loss_G, "gan_G": gan_G, "gan_F": gan_F, "cycle": cycle_forward + cycle_backward,
            "identity": identity, "fake_y": fake_y, "fake_x": fake_x}


def discriminator_losses(D_X: nn.Module, D_Y: nn.Module, x: torch.Tensor, y: torch.Tensor, fake_x: torch.Tensor,
                         fake_y: torch.Tensor, pool_x: ImagePool, pool_y: ImagePool) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Each discriminator's least-squares loss, ½ E (D(real) − 1)² + ½ E D(fake)², on real
    images and on translations drawn from its history pool: ``(loss_D_X, loss_D_Y)``."""
    loss_D_Y = d_loss_lsgan(D_Y(y), D_Y(pool_y.query(fake_y)))   # real y against G(x)
    loss_D_X = d_loss_lsgan(D_X(x), D_X(pool_x.query(fake_x)))   # real x against F(y)
    return loss_D_X, loss_D_Y


def linear_decay(steps: int, decay_start: int) -> Callable[[int], float]:
    """Learning-rate factor: 1 until ``decay_start``, then linearly down to 0 at ``steps``."""
    return lambda step: 1.0 if step < decay_start else max(0.0, (steps - step) / max(1, steps - decay_start))


def train_cyclegan(G: nn.Module, F: nn.Module, D_X: nn.Module, D_Y: nn.Module, x_data: torch.Tensor,
                   y_data: torch.Tensor, config: CycleGANConfig = CycleGANConfig(), *,
                   checkpoint: str | Path | None = None, device: torch.device | None = None,
                   progress: bool = True) -> TrainingRun:
    """Train CycleGAN on unpaired samples ``x_data`` (domain X) and ``y_data`` (domain Y),
    ``(N, C, H, W)`` in [-1, 1] each. Returns a run with ``run.G``, ``run.F``, ``run.D_X``,
    ``run.D_Y`` (in eval mode) and per-step ``history`` of every loss term."""
    device = device or get_device()
    nets = {"G": G, "F": F, "D_X": D_X, "D_Y": D_Y}
    for net in nets.values():
        net.to(device).train()
    opt_gen = torch.optim.Adam(list(G.parameters()) + list(F.parameters()), lr=config.lr, betas=config.betas)
    opt_disc = torch.optim.Adam(list(D_X.parameters()) + list(D_Y.parameters()), lr=config.lr, betas=config.betas)
    factor = linear_decay(config.steps, config.steps // 2 if config.decay_start is None else config.decay_start)
    schedulers = {f"schedule_{k}": torch.optim.lr_scheduler.LambdaLR(o, factor)
                  for k, o in (("gen", opt_gen), ("disc", opt_disc))}
    pool_x, pool_y = ImagePool(config.pool_size, config.seed), ImagePool(config.pool_size, config.seed + 1)
    generator = torch.Generator().manual_seed(config.seed)

    def step() -> dict:
        x = x_data[torch.randint(len(x_data), (config.batch_size,), generator=generator)].to(device)
        y = y_data[torch.randint(len(y_data), (config.batch_size,), generator=generator)].to(device)
        terms = generator_losses(G, F, D_X, D_Y, x, y, config, generator)
        opt_gen.zero_grad(set_to_none=True)
        terms["loss_G"].backward()
        opt_gen.step()
        loss_D_X, loss_D_Y = discriminator_losses(D_X, D_Y, x, y, terms.pop("fake_x"), terms.pop("fake_y"),
                                                  pool_x, pool_y)
        opt_disc.zero_grad(set_to_none=True)
        (loss_D_X + loss_D_Y).backward()
        opt_disc.step()
        for scheduler in schedulers.values():
            scheduler.step()
        return terms | {"loss_D_X": loss_D_X, "loss_D_Y": loss_D_Y}

    stateful = nets | {"opt_gen": opt_gen, "opt_disc": opt_disc, "pool_x": pool_x, "pool_y": pool_y} | schedulers
    run = run_loop(TrainingRun(nets), step, config, stateful=stateful, generator=generator,
                   checkpoint=checkpoint,  # a checkpoint of the halved generator loss is another run's
                   identity=fingerprint(config, nets, data=data_digest(x_data, y_data),
                                        generator_loss="lsgan unhalved"),
                   description="CycleGAN", progress=progress)
    for net in nets.values():
        net.eval()
    return run
