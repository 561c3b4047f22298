"""Training loops with progress bars, history, atomic checkpoints and exact resume.

``train_gan`` trains any generator/discriminator pair of the course (MLPs on 2-D toys,
DCGAN on digits, conditional or not) with any loss of :mod:`course_lib.losses`. Batches and
latents come from one seeded ``torch.Generator`` whose state is checkpointed with the models
and optimisers, so a run interrupted and resumed ends bit for bit where an uninterrupted run
ends (on the CPU).
"""
from __future__ import annotations

import copy
import io
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch import nn
from tqdm.auto import tqdm

from .augment import diff_augment, translation
from .config import get_device, write_atomic
from .losses import (check_unit_images, cycle_consistency_loss, d_loss_lsgan, elbo_terms, g_loss_lsgan,
                     gan_losses, gradient_penalty, identity_loss)
from .models.cyclegan import ImagePool


# ------------------------------------------------------------------------ checkpoints
def save_checkpoint(path: str | Path, state: dict) -> None:
    """``torch.save`` to a temporary file, then rename: a crash never leaves half a file."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    write_atomic(Path(path), buffer.getvalue())


def load_checkpoint(path: str | Path) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise RuntimeError(f"checkpoint {path} could not be read ({type(exc).__name__}: {exc}); "
                           f"delete it to start the training afresh") from exc


# --------------------------------------------------------------------------- helpers
@torch.no_grad()
def ema_update(ema: nn.Module, model: nn.Module, decay: float, step: int | None = None) -> None:
    """θ_ema ← decay·θ_ema + (1 − decay)·θ; buffers (batch-norm statistics) are copied.

    With ``step`` (updates done so far) the decay warms up as min(decay, (1 + step)/(10 + step)):
    early on the average spans about the steps taken, not the random initial weights."""
    if step is not None:
        decay = min(decay, (1 + step) / (10 + step))
    for e, p in zip(ema.parameters(), model.parameters()):
        e.lerp_(p, 1.0 - decay)
    for e, b in zip(ema.buffers(), model.buffers()):
        e.copy_(b)


@torch.no_grad()
def sample_images(G: nn.Module, z: torch.Tensor, labels: torch.Tensor | None = None,
                  batch_size: int = 500) -> torch.Tensor:
    """Generator outputs for inputs ``z`` in eval mode, on the CPU: latents ``(N, latent_dim)``,
    or images for a translator such as CycleGAN's G and F."""
    was_training = G.training
    G.eval()
    device = next(G.parameters()).device
    kwargs = lambda i: {"labels": labels[i:i + batch_size].to(device)} if labels is not None else {}
    out = torch.cat([G(z[i:i + batch_size].to(device), **kwargs(i)).cpu()
                     for i in range(0, len(z), batch_size)])
    G.train(was_training)
    return out


@dataclass
class GANRun:
    """What ``train_gan`` returns: the models, the history and the sample snapshots."""
    G: nn.Module
    D: nn.Module
    G_ema: nn.Module | None
    history: dict[str, list[float]] = field(default_factory=dict)
    snapshots: list[tuple[int, torch.Tensor]] = field(default_factory=list)
    steps: int = 0
    seconds: float = 0.0

    @property
    def sampler(self) -> nn.Module:
        """The generator to sample from: the EMA copy when there is one."""
        return self.G_ema if self.G_ema is not None else self.G


def train_gan(G: nn.Module, D: nn.Module, data: torch.Tensor, *, labels: torch.Tensor | None = None,
              loss: str = "nonsaturating", steps: int = 2000, max_seconds: float | None = None,
              batch_size: int = 64, lr_g: float = 2e-4, lr_d: float = 2e-4,
              betas: tuple[float, float] = (0.5, 0.999), d_steps: int = 1, gp_weight: float = 10.0,
              ema_decay: float | None = None, augment: str | None = None,
              fixed_z: torch.Tensor | None = None, fixed_labels: torch.Tensor | None = None,
              snapshot_every: int | None = None, checkpoint: str | Path | None = None,
              checkpoint_every: int = 500, seed: int = 0, device: torch.device | None = None,
              progress: bool = True, callback: Callable[[GANRun], None] | None = None,
              callback_every: int = 200) -> GANRun:
    """Train a GAN for ``steps`` generator updates (or until ``max_seconds`` of training).

    Args:
        data: real samples, ``(N, 2)`` points or ``(N, 1, 28, 28)`` images in [-1, 1].
        labels: ``(N,)`` class labels for a class-conditional G and D (else ``None``).
        loss: one of ``course_lib.losses.GAN_LOSSES``; ``wgan-gp`` adds ``gp_weight`` × penalty.
        d_steps: discriminator updates per generator update.
        ema_decay: keep an exponential moving average of G's weights (e.g. 0.999).
        augment: DiffAugment policy applied to everything D sees, e.g. ``"translation,cutout"``.
        fixed_z, fixed_labels: a fixed latent batch, sampled every ``snapshot_every`` steps.
        checkpoint: a file to save to every ``checkpoint_every`` steps and at the end; if it
            exists the run resumes from it.
    Returns a :class:`GANRun`; history holds per-step ``d_loss``, ``g_loss``, and the mean
    D(x) and D(G(z)) (as σ(logit)).
    """
    device = device or get_device()
    d_loss_fn, g_loss_fn = gan_losses(loss)
    conditional = labels is not None
    G, D = G.to(device).train(), D.to(device).train()
    G_ema = copy.deepcopy(G).eval() if ema_decay else None
    opt_g = torch.optim.Adam(G.parameters(), lr=lr_g, betas=betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=lr_d, betas=betas)
    generator = torch.Generator().manual_seed(seed)
    run = GANRun(G, D, G_ema, {k: [] for k in ("d_loss", "g_loss", "d_real", "d_fake")})
    if checkpoint is not None and Path(checkpoint).is_file():
        state = load_checkpoint(checkpoint)
        G.load_state_dict(state["G"]); D.load_state_dict(state["D"])
        opt_g.load_state_dict(state["opt_g"]); opt_d.load_state_dict(state["opt_d"])
        if G_ema is not None:
            G_ema.load_state_dict(state["G_ema"])
        generator.set_state(state["generator"])
        run.history, run.snapshots = state["history"], state["snapshots"]
        run.steps, run.seconds = state["steps"], state["seconds"]

    def save() -> None:
        if checkpoint is not None:
            save_checkpoint(checkpoint, {
                "G": G.state_dict(), "D": D.state_dict(), "opt_g": opt_g.state_dict(),
                "opt_d": opt_d.state_dict(), "G_ema": G_ema.state_dict() if G_ema else None,
                "generator": generator.get_state(), "history": run.history,
                "snapshots": run.snapshots, "steps": run.steps, "seconds": run.seconds})

    n, latent_dim = len(data), G.latent_dim
    num_classes = int(labels.max()) + 1 if conditional else 0

    def batch():
        index = torch.randint(n, (batch_size,), generator=generator)
        real = data[index].to(device)
        real_kw = {"labels": labels[index].to(device)} if conditional else {}
        z = torch.randn(batch_size, latent_dim, generator=generator).to(device)
        fake_kw = {"labels": torch.randint(num_classes, (batch_size,), generator=generator).to(device)} \
            if conditional else {}
        return real, real_kw, z, fake_kw

    augmented = lambda x: diff_augment(x, augment, generator)
    bar = tqdm(total=steps, initial=run.steps, desc=f"GAN ({loss})", disable=not progress)
    start = time.perf_counter() - run.seconds
    while run.steps < steps and (max_seconds is None or time.perf_counter() - start < max_seconds):
        for _ in range(d_steps):  # ---- discriminator: minimise d_loss
            real, real_kw, z, fake_kw = batch()
            with torch.no_grad():
                fake = G(z, **fake_kw)
            real_logits, fake_logits = D(augmented(real), **real_kw), D(augmented(fake), **fake_kw)
            d_loss = d_loss_fn(real_logits, fake_logits)
            if loss == "wgan-gp":
                d_loss = d_loss + gp_weight * gradient_penalty(D, real, fake, generator, **real_kw)
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
        _, _, z, fake_kw = batch()  # ---- generator: minimise g_loss
        g_loss = g_loss_fn(D(augmented(G(z, **fake_kw)), **fake_kw))
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        if G_ema is not None:
            ema_update(G_ema, G, ema_decay, step=run.steps)
        run.steps += 1
        for key, value in (("d_loss", d_loss), ("g_loss", g_loss), ("d_real", real_logits.sigmoid().mean()),
                           ("d_fake", fake_logits.sigmoid().mean())):
            run.history[key].append(value.item())
        if not (math.isfinite(run.history["d_loss"][-1]) and math.isfinite(run.history["g_loss"][-1])):
            raise FloatingPointError(f"NaN loss at step {run.steps}; lower the learning rates "
                                     f"or resume from the last checkpoint")
        run.seconds = time.perf_counter() - start
        if fixed_z is not None and snapshot_every and run.steps % snapshot_every == 0:
            run.snapshots.append((run.steps, sample_images(run.sampler, fixed_z, fixed_labels)))
        if run.steps % checkpoint_every == 0:
            save()
        if callback is not None and run.steps % callback_every == 0:
            callback(run)
        bar.update(1)
        if run.steps % 20 == 0:
            bar.set_postfix(d_loss=f"{d_loss.item():.3f}", g_loss=f"{g_loss.item():.3f}",
                            D_x=f"{run.history['d_real'][-1]:.2f}", D_Gz=f"{run.history['d_fake'][-1]:.2f}")
    bar.close()
    run.seconds = time.perf_counter() - start
    save()
    return run


# ------------------------------------------------------------------------------ VAE
@dataclass
class VAERun:
    """What ``train_vae`` returns. ``history`` holds per-step ``elbo``, ``reconstruction``
    and ``kl`` (nats per image, training batches) and per-validation ``val_step``, ``val_elbo``."""
    model: nn.Module
    history: dict[str, list[float]] = field(default_factory=dict)
    steps: int = 0
    seconds: float = 0.0
    best_step: int = 0


def binarize(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Dynamic binarisation: each pixel ~ Bernoulli(its grey value in [0, 1])."""
    return (torch.rand(x.shape, generator=generator) < x.cpu()).float().to(x.device)


@torch.no_grad()
def negative_elbo(model: nn.Module, x: torch.Tensor, generator: torch.Generator,
                  batch_size: int = 500) -> float:
    """Average −ELBO (nats per image) over images ``x`` in [0, 1] (one z sample each)."""
    model.eval()
    total = 0.0
    for batch in x.split(batch_size):
        logits, mu, logvar = model(batch, generator)
        reconstruction, kl = elbo_terms(batch, logits, mu, logvar)
        total += float((kl - reconstruction).sum())
    return total / len(x)


def train_vae(model: nn.Module, data: torch.Tensor, *, steps: int = 5000,
              max_seconds: float | None = None, batch_size: int = 64, lr: float = 1e-3,
              beta: float = 1.0, kl_warmup_steps: int = 0, dynamic_binarization: bool = True,
              shift: int = 0, ema_decay: float | None = None,
              validation: torch.Tensor | None = None, validate_every: int = 250,
              checkpoint: str | Path | None = None, checkpoint_every: int = 1000, seed: int = 0,
              device: torch.device | None = None, progress: bool = True) -> VAERun:
    """Train a VAE by maximising the ELBO, E_q log p(x|z) − β·KL(q(z|x) ‖ p(z)).

    Args:
        data: images ``(N, 1, 28, 28)`` in [0, 1]; with ``dynamic_binarization`` each batch is
            re-binarised (a fresh Bernoulli draw per pixel), which also fights over-fitting.
        beta: weight of the KL term (β-VAE); ``kl_warmup_steps`` ramps it from 0 to β.
        shift: data augmentation, each training digit moved by up to ``shift`` pixels in x and
            y (0: none) -- more distinct digits for a model that over-fits 4,000 of them.
        ema_decay: keep an exponential moving average of the weights (Polyak averaging) and
            validate and return it instead of the last iterate (None: no average).
        validation: held-out images in [0, 1]; every ``validate_every`` steps the validation
            −ELBO is measured and, at the end, the model keeps the weights of the best one
            (early stopping).
        checkpoint: file saved every ``checkpoint_every`` steps and at the end; resumed from.
    """
    check_unit_images(data)
    if shift < 0 or shift > 14:
        raise ValueError(f"shift must be a number of pixels in 0..14, got {shift}")
    if ema_decay is not None and not 0.0 < ema_decay < 1.0:
        raise ValueError(f"ema_decay must lie in (0, 1), e.g. 0.999, or be None; got {ema_decay}")
    device = device or get_device()
    model = model.to(device).train()
    average = copy.deepcopy(model).eval() if ema_decay else model  # the weights validated and returned
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    val_generator = torch.Generator().manual_seed(seed + 1)
    val_data = binarize(validation, val_generator) if (validation is not None and dynamic_binarization) \
        else validation
    val_data = val_data.to(device) if val_data is not None else None
    run = VAERun(model, {k: [] for k in ("elbo", "reconstruction", "kl", "val_step", "val_elbo")})
    best = {"val": math.inf, "state": None}
    if checkpoint is not None and Path(checkpoint).is_file():
        state = load_checkpoint(checkpoint)
        model.load_state_dict(state["model"]); optimizer.load_state_dict(state["optimizer"])
        if ema_decay:
            average.load_state_dict(state["average"])
        generator.set_state(state["generator"])
        run.history, run.steps, run.seconds, run.best_step = (state["history"], state["steps"],
                                                              state["seconds"], state["best_step"])
        best = state["best"]

    def save() -> None:
        if checkpoint is not None:
            save_checkpoint(checkpoint, {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                         "average": average.state_dict() if ema_decay else None,
                                         "generator": generator.get_state(), "history": run.history,
                                         "steps": run.steps, "seconds": run.seconds,
                                         "best_step": run.best_step, "best": best})

    bar = tqdm(total=steps, initial=run.steps, desc=f"VAE (β={beta:g})", disable=not progress)
    start = time.perf_counter() - run.seconds
    while run.steps < steps and (max_seconds is None or time.perf_counter() - start < max_seconds):
        model.train()
        x = data[torch.randint(len(data), (batch_size,), generator=generator)]
        if shift:
            x = translation(x, generator, ratio=shift / x.shape[-1], fill=0.0)  # (B, 1, 28, 28)
        x = (binarize(x, generator) if dynamic_binarization else x).to(device)
        logits, mu, logvar = model(x, generator)
        reconstruction, kl = elbo_terms(x, logits, mu, logvar)          # (B,), (B,)
        weight = beta * min(1.0, (run.steps + 1) / kl_warmup_steps) if kl_warmup_steps else beta
        loss = (weight * kl - reconstruction).mean()
        if not torch.isfinite(loss):
            raise FloatingPointError(f"NaN/Inf loss at step {run.steps}; lower the learning rate "
                                     f"or resume from the last checkpoint")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if ema_decay:
            ema_update(average, model, ema_decay, step=run.steps)
        run.steps += 1
        run.history["elbo"].append((reconstruction - kl).mean().item())
        run.history["reconstruction"].append(reconstruction.mean().item())
        run.history["kl"].append(kl.mean().item())
        if val_data is not None and run.steps % validate_every == 0:  # a fixed schedule: resumable
            value = negative_elbo(average, val_data, torch.Generator().manual_seed(seed + 2))
            run.history["val_step"].append(run.steps)
            run.history["val_elbo"].append(-value)
            if value < best["val"]:
                best = {"val": value, "state": copy.deepcopy(average.state_dict())}
                run.best_step = run.steps
        run.seconds = time.perf_counter() - start
        if run.steps % checkpoint_every == 0:
            save()
        bar.update(1)
        if run.steps % 20 == 0:
            bar.set_postfix(elbo=f"{run.history['elbo'][-1]:.1f}", kl=f"{run.history['kl'][-1]:.1f}")
    bar.close()
    run.seconds = time.perf_counter() - start
    save()
    if best["state"] is not None:  # early stopping: keep the best validation weights
        model.load_state_dict(best["state"])
    elif ema_decay:
        model.load_state_dict(average.state_dict())
    model.eval()
    return run


# ------------------------------------------------------------------------- CycleGAN
@dataclass
class CycleGANRun:
    """What ``train_cyclegan`` returns; ``history`` holds per-step loss terms."""
    G: nn.Module
    F: nn.Module
    D_X: nn.Module
    D_Y: nn.Module
    history: dict[str, list[float]] = field(default_factory=dict)
    steps: int = 0
    seconds: float = 0.0


def linear_decay(steps: int, decay_start: int) -> Callable[[int], float]:
    """Learning-rate factor: 1 until ``decay_start``, then linearly down to 0 at ``steps``."""
    return lambda step: 1.0 if step < decay_start else max(0.0, (steps - step) / max(1, steps - decay_start))


def train_cyclegan(G: nn.Module, F: nn.Module, D_X: nn.Module, D_Y: nn.Module,
                   x_data: torch.Tensor, y_data: torch.Tensor, *, steps: int = 2000,
                   max_seconds: float | None = None, batch_size: int = 16, lr: float = 2e-4,
                   betas: tuple[float, float] = (0.5, 0.999),
                   lambda_cyc: float | tuple[float, float] = 10.0, lambda_id: float = 5.0,
                   pool_size: int = 50, decay_start: int | None = None,
                   back_translation: bool = False, augment_forward: str | None = None,
                   checkpoint: str | Path | None = None, checkpoint_every: int = 500, seed: int = 0,
                   device: torch.device | None = None, progress: bool = True) -> CycleGANRun:
    r"""Train CycleGAN on unpaired samples ``x_data`` (domain X) and ``y_data`` (domain Y).

    The generators minimise the full objective (Eq. 3 and 6 of the paper, least-squares GAN):

        L = L_GAN(G, D_Y) + L_GAN(F, D_X) + λ_cyc·L_cyc(G, F) + λ_id·L_identity(G, F)

    and each discriminator its least-squares loss on real images and on fakes drawn from an
    image pool of ``pool_size``. Learning rates stay at ``lr`` until ``decay_start`` (default:
    half of ``steps``), then decay linearly to zero.

    ``lambda_cyc`` weighs both directions of L_cyc alike (the paper), or is a pair
    (λ_forward, λ_backward) for the forward cycle x -> G(x) -> F(G(x)) ≈ x and the backward
    cycle y -> F(y) -> G(F(y)) ≈ y separately, as in the paper's ablation (Table 4).

    ``back_translation=True`` makes each cycle term train only the generator that rebuilds: the
    translation it starts from is taken as a constant input (detached), as back-translation does
    in unsupervised machine translation. F then learns to read x back from G(x), and G to rebuild
    y from F(y), but neither is rewarded for hiding its input in its output (steganography).
    ``augment_forward`` is a :func:`~course_lib.augment.diff_augment` policy applied to G(x)
    before F reads it back, e.g. ``"inversion"``: F learns to read the digit through it.
    """
    lambda_forward, lambda_backward = lambda_cyc if isinstance(lambda_cyc, tuple) else (lambda_cyc, lambda_cyc)
    device = device or get_device()
    nets = {"G": G, "F": F, "D_X": D_X, "D_Y": D_Y}
    for net in nets.values():
        net.to(device).train()
    opt_gen = torch.optim.Adam(list(G.parameters()) + list(F.parameters()), lr=lr, betas=betas)
    opt_disc = torch.optim.Adam(list(D_X.parameters()) + list(D_Y.parameters()), lr=lr, betas=betas)
    factor = linear_decay(steps, steps // 2 if decay_start is None else decay_start)
    schedulers = [torch.optim.lr_scheduler.LambdaLR(o, factor) for o in (opt_gen, opt_disc)]
    pool_x, pool_y = ImagePool(pool_size, seed), ImagePool(pool_size, seed + 1)
    generator = torch.Generator().manual_seed(seed)
    keys = ("loss_G", "gan_G", "gan_F", "cycle", "identity", "loss_D_X", "loss_D_Y")
    run = CycleGANRun(G, F, D_X, D_Y, {k: [] for k in keys})
    if checkpoint is not None and Path(checkpoint).is_file():
        state = load_checkpoint(checkpoint)
        for name, net in nets.items():
            net.load_state_dict(state[name])
        opt_gen.load_state_dict(state["opt_gen"]); opt_disc.load_state_dict(state["opt_disc"])
        for s, s_state in zip(schedulers, state["schedulers"]):
            s.load_state_dict(s_state)
        pool_x.load_state_dict(state["pool_x"]); pool_y.load_state_dict(state["pool_y"])
        generator.set_state(state["generator"])
        run.history, run.steps, run.seconds = state["history"], state["steps"], state["seconds"]

    def save() -> None:
        if checkpoint is not None:
            save_checkpoint(checkpoint, {
                **{name: net.state_dict() for name, net in nets.items()},
                "opt_gen": opt_gen.state_dict(), "opt_disc": opt_disc.state_dict(),
                "schedulers": [s.state_dict() for s in schedulers],
                "pool_x": pool_x.state_dict(), "pool_y": pool_y.state_dict(),
                "generator": generator.get_state(), "history": run.history,
                "steps": run.steps, "seconds": run.seconds})

    bar = tqdm(total=steps, initial=run.steps, desc="CycleGAN", disable=not progress)
    start = time.perf_counter() - run.seconds
    while run.steps < steps and (max_seconds is None or time.perf_counter() - start < max_seconds):
        x = x_data[torch.randint(len(x_data), (batch_size,), generator=generator)].to(device)
        y = y_data[torch.randint(len(y_data), (batch_size,), generator=generator)].to(device)
        # ---- generators G: X -> Y and F: Y -> X
        fake_y, fake_x = G(x), F(y)                      # (B, C, H, W) each
        gan_G = g_loss_lsgan(D_Y(fake_y))                # L_GAN(G, D_Y): fool D_Y
        gan_F = g_loss_lsgan(D_X(fake_x))                # L_GAN(F, D_X): fool D_X
        # back-translation: the translation a cycle starts from is a constant, so only the
        # generator that rebuilds learns from the cycle, and hiding the input in it earns nothing
        start_y, start_x = (fake_y.detach(), fake_x.detach()) if back_translation else (fake_y, fake_x)
        start_y = diff_augment(start_y, augment_forward, generator)   # what F must read through
        cycle_forward = cycle_consistency_loss(x, F(start_y))    # x -> G(x) -> F(G(x)) ≈ x
        cycle_backward = cycle_consistency_loss(y, G(start_x))   # y -> F(y) -> G(F(y)) ≈ y
        cycle = cycle_forward + cycle_backward
        identity = identity_loss(y, G(y)) + identity_loss(x, F(x)) if lambda_id else torch.zeros((), device=device)
        loss_G = gan_G + gan_F + lambda_forward * cycle_forward + lambda_backward * cycle_backward \
            + lambda_id * identity
        opt_gen.zero_grad(set_to_none=True)
        loss_G.backward()
        opt_gen.step()
        # ---- discriminators, on real images and on fakes from the history pools
        loss_D_Y = d_loss_lsgan(D_Y(y), D_Y(pool_y.query(fake_y)))
        loss_D_X = d_loss_lsgan(D_X(x), D_X(pool_x.query(fake_x)))
        opt_disc.zero_grad(set_to_none=True)
        (loss_D_X + loss_D_Y).backward()
        opt_disc.step()
        for s in schedulers:
            s.step()
        run.steps += 1
        for key, value in zip(keys, (loss_G, gan_G, gan_F, cycle, identity, loss_D_X, loss_D_Y)):
            run.history[key].append(value.item())
        if not math.isfinite(run.history["loss_G"][-1]):
            raise FloatingPointError(f"NaN loss at step {run.steps}; lower the learning rate "
                                     f"or resume from the last checkpoint")
        run.seconds = time.perf_counter() - start
        if run.steps % checkpoint_every == 0:
            save()
        bar.update(1)
        if run.steps % 20 == 0:
            bar.set_postfix(G=f"{loss_G.item():.2f}", cyc=f"{cycle.item():.3f}",
                            D_X=f"{loss_D_X.item():.3f}", D_Y=f"{loss_D_Y.item():.3f}")
    bar.close()
    run.seconds = time.perf_counter() - start
    save()
    for net in nets.values():
        net.eval()
    return run
