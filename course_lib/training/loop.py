"""The one training loop of the course, shared by every model family.

A trainer (``train_gan``, ``train_vae``, ``train_cyclegan``, ...) builds its networks and
optimisers, writes its update as a **step** -- a function that draws a batch, updates the
networks and returns the scalars worth recording -- and hands it to :func:`run_loop`, which
does the plumbing once for all of them:

* resume from a checkpoint, but only one written with the same configuration (a changed
  learning rate or width trains anew into a file of its own; nothing trained is overwritten);
* atomic checkpoints every ``checkpoint_every`` steps and at the end;
* a progress bar, a time limit (``max_seconds``), a guard that stops at the first NaN;
* the history of every recorded scalar, weight averages (EMA), and hooks (snapshots,
  validation, live plots) every so many steps.

Batches and noise come from one seeded ``torch.Generator`` that is checkpointed with
everything else, so a run interrupted and resumed ends bit for bit where an uninterrupted run
ends (on the CPU).
"""
from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from .. import figures
from ..config import shown_path
from ..io import load_checkpoint, save_checkpoint
from ..progress import progress as progress_bar

# Settings that do not change what a run learns: a run resumes a checkpoint across them.
RESUMABLE_FIELDS = ("steps", "max_seconds", "checkpoint_every")


@dataclass
class LoopConfig:
    """What every trainer's configuration holds; each model family's config extends it.

    ``steps`` updates, or fewer if ``max_seconds`` of training pass first; ``seed`` seeds the
    generator of batches and noise; a checkpoint is written every ``checkpoint_every`` steps."""
    steps: int = 2000
    max_seconds: float | None = None
    seed: int = 0
    checkpoint_every: int = 500


@dataclass
class TrainingRun:
    """What a trainer returns: its networks by name (``run.G``, ``run.model``, ...), the
    history of every recorded scalar (one entry per step), the steps and seconds done, and
    ``extras`` (snapshots, validation, ...; also readable as attributes)."""
    nets: dict[str, nn.Module]
    history: dict[str, list[float]] = field(default_factory=dict)
    steps: int = 0
    seconds: float = 0.0
    extras: dict[str, Any] = field(default_factory=dict)
    checkpoint: Path | None = None

    def __getattr__(self, name: str):
        for part in ("nets", "extras"):
            values = self.__dict__.get(part, {})
            if name in values:
                return values[name]
        raise AttributeError(f"this run has no network or record {name!r}")


@torch.no_grad()
def ema_update(ema: nn.Module, model: nn.Module, decay: float, step: int | None = None) -> None:
    """θ_ema ← decay·θ_ema + (1 − decay)·θ, for the weights and for the batch-norm running
    statistics, averaged the same way: an average of the statistics of the generators averaged,
    not the statistics the averaged weights would produce (``recompute_batch_norm`` estimates
    those); integer buffers (batch counts) are copied.

    With ``step`` (updates done so far) the decay warms up as min(decay, (1 + step)/(10 + step)):
    early on the average spans about the steps taken, not the random initial weights."""
    if step is not None:
        decay = min(decay, (1 + step) / (10 + step))
    for e, p in zip(ema.parameters(), model.parameters()):
        e.lerp_(p, 1.0 - decay)
    for e, b in zip(ema.buffers(), model.buffers()):
        if e.is_floating_point():
            e.lerp_(b, 1.0 - decay)
        else:
            e.copy_(b)


@torch.no_grad()
def sample_images(net: nn.Module, inputs: torch.Tensor, labels: torch.Tensor | None = None,
                  batch_size: int = 500) -> torch.Tensor:
    """Outputs of ``net`` for ``inputs`` in eval mode, in batches, on the CPU: a generator's
    samples for latents ``(N, latent_dim)``, or a translator's outputs for images."""
    was_training = net.training
    net.eval()
    device = next(net.parameters()).device
    kwargs = lambda i: {"labels": labels[i:i + batch_size].to(device)} if labels is not None else {}
    out = torch.cat([net(inputs[i:i + batch_size].to(device), **kwargs(i)).cpu()
                     for i in range(0, len(inputs), batch_size)])
    net.train(was_training)
    return out


# ----------------------------------------------------------------- checkpoint identity
def architecture(nets: dict[str, nn.Module]) -> dict[str, list]:
    """A fingerprint of the networks' architecture: each one's class and the name and shape
    of every parameter and buffer (a changed width or depth changes it)."""
    return {name: [type(net).__name__] + [f"{k}:{tuple(v.shape)}" for k, v in net.state_dict().items()]
            for name, net in nets.items()}


def data_digest(*tensors: torch.Tensor | None) -> str:
    """A short sha1 of the training data (shapes and values)."""
    digest = hashlib.sha1()
    for t in tensors:
        if t is not None:
            t = t.detach().cpu().contiguous()
            digest.update(str((tuple(t.shape), t.dtype)).encode())
            digest.update(t.numpy().tobytes())
    return digest.hexdigest()[:12]


def fingerprint(config: LoopConfig, nets: dict[str, nn.Module], **more) -> dict:
    """What identifies a run: its configuration (without :data:`RESUMABLE_FIELDS`), the
    networks' architecture and anything else that changes what it learns (e.g. the data)."""
    settings = {k: v for k, v in asdict(config).items() if k not in RESUMABLE_FIELDS}
    return json.loads(json.dumps({"config": settings, "nets": architecture(nets), **more}, default=str))


def keyed_checkpoint(path: str | Path, identity: dict) -> Path:
    """``name.pt`` -> ``name-<hash of identity>.pt``: each configuration has a checkpoint of its
    own, so a changed cell trains anew and returning to the old settings resumes the old run."""
    path = Path(path)
    key = hashlib.sha1(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:10]
    return path.with_name(f"{path.stem}-{key}{path.suffix or '.pt'}")


# -------------------------------------------------------------------------- the loop
def _save(path: Path | None, run: TrainingRun, stateful: dict[str, Any], generator: torch.Generator,
          identity: dict) -> None:
    if path is not None:  # "code": what trained it, when the runner records it (lesson figures, benchmarks)
        save_checkpoint(path, {"identity": identity, "state": {k: v.state_dict() for k, v in stateful.items()},
                               "generator": generator.get_state(), "history": run.history,
                               "extras": run.extras, "steps": run.steps, "seconds": run.seconds,
                               "code": figures.traced_code() if figures.tracing() else None})


def _resume(path: Path | None, run: TrainingRun, stateful: dict[str, Any], generator: torch.Generator,
            identity: dict, progress: bool, steps: int, start_from: Path | None = None) -> None:
    if path is None:
        return
    if not path.is_file():
        if start_from is not None:  # continue a shorter run of the same configuration, leaving its file as it is
            path = Path(start_from)
            if not path.is_file():
                raise FileNotFoundError(f"start_from={path}: no such checkpoint; train that run first")
        else:
            others = sorted(path.parent.glob(f"{path.stem.rsplit('-', 1)[0]}-*.pt"))
            if others and progress:
                print(f"training anew: no checkpoint of this configuration yet; the {len(others)} of other "
                      f"configurations in {shown_path(path.parent)} are kept")
            return
    state = load_checkpoint(path)
    if state.get("identity") != identity:  # a hash collision, a hand-renamed file, or start_from of another run
        raise RuntimeError(f"checkpoint {path} was written by another configuration; delete it to "
                           f"train this one afresh")
    if state["steps"] > steps:  # returning it would pass a longer run off as the one asked for
        raise ValueError(f"checkpoint {path} holds {state['steps']} steps, more than the {steps} asked for. "
                         f"Ask for at least {state['steps']} steps to use it, or give this run another "
                         f"checkpoint name to train {steps} steps afresh")
    for key, obj in stateful.items():
        obj.load_state_dict(state["state"][key])
    generator.set_state(state["generator"])
    figures.inherit(state.get("code"))  # the figures of this run now come from that run's code too
    run.history, run.extras, run.steps, run.seconds = (state["history"], state["extras"], state["steps"],
                                                       state["seconds"])
    if progress:
        print(f"resumed from {path.name} at step {run.steps}")


def _record(run: TrainingRun, values: dict[str, torch.Tensor | float], path: Path | None) -> None:
    for key, value in values.items():
        value = value.item() if isinstance(value, torch.Tensor) else float(value)
        run.history.setdefault(key, []).append(value)
        if not math.isfinite(value):
            raise FloatingPointError(
                f"{key} is {value} at step {run.steps}: training diverged. Lower the learning rate, "
                f"or resume from the last checkpoint" + (f" ({path})" if path else ""))


def run_loop(run: TrainingRun, step: Callable[[], dict[str, torch.Tensor | float]], config: LoopConfig, *,
             stateful: dict[str, Any], generator: torch.Generator, checkpoint: str | Path | None = None,
             identity: dict | None = None, averages: tuple = (), hooks: tuple = (),
             description: str = "training", progress: bool = True, start_from: str | Path | None = None) -> TrainingRun:
    """Call ``step()`` until ``config.steps`` updates are done (or ``config.max_seconds`` pass).

    ``stateful``: everything with a ``state_dict`` that a resumed run needs (networks, weight
    averages, optimisers, schedulers, image pools); ``averages``: ``(ema, model, decay)`` triples
    updated after every step; ``hooks``: ``(every, function(run))`` pairs called after every
    ``every``-th step, before the checkpoint (snapshots, validation, live plots); ``start_from``:
    the checkpoint of a shorter run of the same configuration to continue while ``checkpoint``
    holds none yet (it is read, never written: that run stays as it was)."""
    identity = identity or {}
    path = keyed_checkpoint(checkpoint, identity) if checkpoint is not None else None
    run.checkpoint = path
    _resume(path, run, stateful, generator, identity, progress, config.steps, start_from)
    bar = progress_bar(total=config.steps, initial=run.steps, desc=description, disable=not progress)
    start = time.perf_counter() - run.seconds
    while run.steps < config.steps and (config.max_seconds is None
                                        or time.perf_counter() - start < config.max_seconds):
        began = time.perf_counter()
        values = step()
        for ema, model, decay in averages:
            ema_update(ema, model, decay, step=run.steps)
        run.steps += 1
        _record(run, values | {"step_seconds": time.perf_counter() - began}, path)
        run.seconds = time.perf_counter() - start
        for every, hook in hooks:
            if every and run.steps % every == 0:
                hook(run)
        if run.steps % config.checkpoint_every == 0:
            _save(path, run, stateful, generator, identity)
        bar.update(1)
        if run.steps % 20 == 0:
            bar.set_postfix({k: f"{run.history[k][-1]:.3g}" for k in list(values)[:4]})
    bar.close()
    run.seconds = time.perf_counter() - start
    _save(path, run, stateful, generator, identity)
    return run
