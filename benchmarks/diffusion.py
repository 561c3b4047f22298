"""DDPM, flow matching and lesson 03's DCGAN recipe, each trained for the same wall clock.

    python benchmarks/diffusion.py [--seconds 480] [--models ddpm,flow,dcgan] [--seeds 0]
    python benchmarks/diffusion.py --steps ddpm=5000,flow=5000,dcgan=7000 --seeds 1,2

Each model trains for ``--seconds`` of wall-clock time on this machine (2 CPU cores in the
course's reference setting) on the 4,000 embedded train digits, then draws 1,000 samples that
are scored with the digits protocol (against the 1,000 test digits). The last lines, one per
model and seed, begin with the model's name:

    flow: seed 0 FID_digits 5.84 IS_digits 8.09 train_seconds 480 steps 4256 sampling_steps 5 sampling_seconds_per_1000 13.2

(the default run, alone on 2 quiet CPU cores). The same flow run, autoguided (``--steps flow=4256``
on a busy machine, whose seconds mean nothing; its ``flow`` line came out identical):

    flow_autoguided_w3: seed 0 FID_digits 2.07 IS_digits 8.66 train_seconds 5357 steps 4256 sampling_steps 5 sampling_seconds_per_1000 54.2

- ``ddpm``: lesson 07's U-Net (``UNet()``, width 16; Adam 2e-3, batch 64, EMA 0.999: the defaults of
  ``DiffusionConfig``) predicting the noise on the cosine schedule (T = 1000), sampled
  with deterministic DDIM;
- ``flow``: the same U-Net predicting the velocity of the straight path (flow matching, times
  drawn logit-normal), sampled with Heun's method;
- ``flow_autoguided_w<w>``: the same flow run, sampled with autoguidance (lesson 07): its weight
  average at step 800 guides, with w chosen among 2, 3 and 4 by FID against 1,000 training digits;
  two networks at every evaluation;
- ``dcgan``: lesson 03's unconditional recipe (Adam 1e-3, batch 32, EMA 0.999 of G), which
  samples in one network evaluation.

``sampling_steps`` counts sampler steps (Heun evaluates the network twice per step but the last);
``sampling_seconds_per_1000`` is the wall clock of drawing the 1,000 scored images. On a busy
machine wall-clock budgets shrink; ``--steps`` then trains each named model for a fixed number of
steps (those a quiet run reached), which reproduces the quiet run's figures.
"""
from __future__ import annotations

import argparse
import copy
import time

import torch

from course_lib.config import get_device, seed_everything
from course_lib.data import load_digits
from course_lib.diffusion import ddim_sample, flow_sample, noise_schedule
from course_lib.figures import record_benchmark, start_trace
from course_lib.metrics import evaluate, feature_distances, load_digits_evaluator
from course_lib.models.gan import DCGANDiscriminator, DCGANGenerator
from course_lib.models.unet import UNet
from course_lib.training import GANConfig, sample_images, train_gan
from course_lib.training.diffusion import DiffusionConfig, train_diffusion
from dcgan import RECIPE  # lesson 03's recipe, defined once in benchmarks/dcgan.py

MODELS = ("ddpm", "flow", "dcgan")
SAMPLING_STEPS = {"ddpm": 20, "flow": 5, "dcgan": 1}   # lesson 07's choices (its sampler tables)
# lesson 07's autoguidance: the weight average at step 800 guides, w chosen among these by FID against
# 1,000 training digits (100 a class), so that the test digits only report
AUTOGUIDANCE = {"bad_steps": 800, "guidance": (2.0, 3.0, 4.0)}


def drawn(sample, seed: int) -> tuple[torch.Tensor, float]:
    """1,000 images of ``sample(n, generator)`` from the fixed noise of ``seed``, and the seconds they took."""
    start = time.perf_counter()
    images = sample(1000, torch.Generator().manual_seed(seed + 2024))
    return images, time.perf_counter() - start


def train(name: str, x: torch.Tensor, limit: dict, seed: int, device: torch.device):
    """Train one model; returns (a dict, keyed by the line's name, of functions that return the line's
    1,000 images and their sampling seconds; steps; seconds). Flow matching gives two lines from one
    run: its model alone, and autoguided by the weight average it had at step ``AUTOGUIDANCE["bad_steps"]``."""
    seed_everything(seed)
    if name == "dcgan":
        G, D = DCGANGenerator(width=32), DCGANDiscriminator(width=32)
        config = GANConfig(**RECIPE, seed=seed, **limit)
        run = train_gan(G, D, x, config, device=device, progress=False)
        draw = lambda n, g: sample_images(run.sampler, torch.randn(n, G.latent_dim, generator=g))
        return {name: lambda: drawn(draw, seed)}, run.steps, run.seconds
    config = DiffusionConfig(objective=name, seed=seed, **limit)
    snapshots = {}

    def keep(run):   # the weight average at step AUTOGUIDANCE["bad_steps"]: the "bad version" that guides
        if run.steps == AUTOGUIDANCE["bad_steps"]:
            snapshots[run.steps] = copy.deepcopy(run.model_ema)

    run = train_diffusion(UNet(time_scale=1000.0 if name == "flow" else 1.0), x, config, device=device, progress=False,
                          callback=keep, callback_every=AUTOGUIDANCE["bad_steps"])
    if name == "ddpm":
        schedule = noise_schedule(config.schedule, config.T)
        draw = lambda n, g: ddim_sample(run.model_ema, n, schedule, SAMPLING_STEPS[name], g)
        return {name: lambda: drawn(draw, seed)}, run.steps, run.seconds
    draw = lambda n, g, w=1.0, bad=None: flow_sample(run.model_ema, n, SAMPLING_STEPS[name], g, method="heun",
                                                     guidance=w, bad_model=bad)
    draws = {name: lambda: drawn(draw, seed)}
    if not snapshots:
        print(f"flow_autoguided: no line, the run stopped before step {AUTOGUIDANCE['bad_steps']}")
        return draws, run.steps, run.seconds
    bad, evaluator = snapshots[AUTOGUIDANCE["bad_steps"]], load_digits_evaluator(device)
    guided_draws = {w: drawn(lambda n, g: draw(n, g, w, bad), seed) for w in AUTOGUIDANCE["guidance"]}
    fid_train = {w: feature_distances(evaluator, x[::4], images)["fid"] for w, (images, _) in guided_draws.items()}
    w = min(fid_train, key=fid_train.get)
    print(f"autoguidance: FID against the training digits { {k: round(v, 2) for k, v in fid_train.items()} }: w = {w:g}")
    draws[f"flow_autoguided_w{w:g}"] = lambda: guided_draws[w]   # the images the choice saw, not drawn again
    return draws, run.steps, run.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=480.0)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--seeds", default="0", help="comma-separated, e.g. 0,1,2")
    parser.add_argument("--steps", default="", help="fixed steps instead of --seconds: flow=6000,dcgan=7000")
    args = parser.parse_args()
    fixed = {name: int(n) for name, n in (item.split("=") for item in args.steps.split(",") if item)}
    models = list(fixed) if fixed else args.models.split(",")
    unknown = set(models) - set(MODELS)
    if unknown:
        parser.error(f"unknown models {sorted(unknown)}; known: {', '.join(MODELS)}")
    start_trace()
    device = get_device()
    x, _ = load_digits("train")
    budget = f"fixed steps {fixed}" if fixed else f"{args.seconds:.0f} s of training per model and seed"
    print(f"device {device}, {torch.get_num_threads()} threads, {budget}")
    for seed in map(int, args.seeds.split(",")):
        for name in models:
            limit = dict(steps=fixed[name]) if name in fixed else dict(steps=10**9, max_seconds=args.seconds)
            draws, steps, seconds = train(name, x, limit, seed, device)
            for line, draw in draws.items():
                images, sampling = draw()
                scores = evaluate(images, device=device)
                print(f"{line}: seed {seed} FID_digits {scores.fid:.2f} IS_digits {scores.inception_score:.2f} "
                      f"train_seconds {seconds:.0f} steps {steps} sampling_steps {SAMPLING_STEPS[name]} "
                      f"sampling_seconds_per_1000 {sampling:.1f}", flush=True)
                record_benchmark("diffusion", {"config": line, "seed": seed, "fid": scores.fid,
                                               "is": scores.inception_score, "train_seconds": round(seconds, 1),
                                               "steps": steps, "sampling_steps": SAMPLING_STEPS[name],
                                               "sampling_seconds_per_1000": round(sampling, 1)})


if __name__ == "__main__":
    main()
