"""Lesson 03's DCGAN recipe against one change at a time, at the lesson's full budget, over seeds.

    python benchmarks/dcgan.py [--seeds 0] [--configs recipe,spectral_norm,...] [--steps 4500]

``--seeds`` defaults to seed 0 alone; lesson 03 reads every seed recorded (the course records
0, 1 and 2: ``--seeds 0,1,2``, or one process per seed). ``--configs`` defaults to every
configuration but ``lr_2e-4``; name it to record it.

Every configuration trains lesson 03's networks (width 32, batch norm in G; in D unless a row
says otherwise) on the 4,000 embedded train digits and is scored on 1,000 samples of the same
latents with the digits protocol. Each row changes **one thing** from the recipe (Adam 1e-3 for
both networks, batch 32, sampled from the warmed-up weight average of G, non-saturating loss):

- ``recipe``: the recipe itself; ``recipe_raw_g`` is the same run sampled from G instead of
  its weight average (no second training);
- ``spectral_norm``: spectral normalisation in D instead of batch norm;
- ``hinge``: the hinge loss instead of the non-saturating one;
- ``diffaugment``: DiffAugment (translation and cutout) on everything D sees;
- ``lr_2e-4``: Radford et al.'s learning rate for both networks;
- ``batch_64``: batches of 64 instead of 32;
- ``plain`` changes three things at once, the classic recipe (Adam 2e-4, batch 64, no average):
  the whole recipes side by side, not one change.

The first five train ``--steps`` steps each (equal steps: their steps cost about the same).
``batch_64`` and ``plain`` pay about twice as much per step, so they train for the wall clock
the recipe's run of the same seed took (equal wall clock) -- their rows give steps and seconds.

Each row is compared with the recipe's samples of the same seed by
:func:`course_lib.metrics.compare_samples`: FID under the digits evaluator and under the second
judge (LeNet-5), and KID, each with a bootstrap standard error; the verdict is ``helped`` or
``hurt`` only when all three agree beyond two standard errors. Each row also gives how much D
memorised the training digits (:func:`~course_lib.training.discriminator_memorisation`, on clean
digits, and for DiffAugment also on augmented ones, which is what its D saw), and the gap between
D's mean rating of real and fake images over the last 200 steps.
Every row is appended to ``benchmarks/results/dcgan.json`` with the command and the code that
ran, where lesson 03 reads it (only runs of the lesson's 4,500 steps: a shorter check needs a
``--results`` folder of its own). About an hour per seed for the default configurations on one thread; the course runs two
processes of one thread each side by side on 2 CPU cores (``OMP_NUM_THREADS=1``, other seeds).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from course_lib.augment import diff_augment
from course_lib.config import get_device, seed_everything
from course_lib.data import load_digits
from course_lib.figures import record_benchmark, start_trace
from course_lib.metrics import compare_samples, evaluate, verdict
from course_lib.models.gan import DCGANDiscriminator, DCGANGenerator
from course_lib.training import GANConfig, discriminator_memorisation, sample_images, train_gan

RECIPE = dict(loss="nonsaturating", batch_size=32, lr_g=1e-3, lr_d=1e-3, betas=(0.5, 0.999), ema_decay=0.999)
STEPS = 4500  # lesson 03's recipe at the cpu budget
CHANGES = {  # name: (changes to the recipe's settings, D's normalisation, budget)
    "recipe": ({}, "batch", "steps"),
    "spectral_norm": ({}, "spectral", "steps"),
    "hinge": ({"loss": "hinge"}, "batch", "steps"),
    "diffaugment": ({"augment": "translation,cutout"}, "batch", "steps"),
    "lr_2e-4": ({"lr_g": 2e-4, "lr_d": 2e-4}, "batch", "steps"),
    "batch_64": ({"batch_size": 64}, "batch", "wall clock"),
    "plain": ({"batch_size": 64, "lr_g": 2e-4, "lr_d": 2e-4, "ema_decay": None}, "batch", "wall clock"),
}


def train(name: str, seed: int, steps: int, seconds: float | None, device: torch.device):
    """Train configuration ``name``; ``seconds`` caps the wall clock (then ``steps`` is a ceiling)."""
    changes, norm, _ = CHANGES[name]
    x, _ = load_digits("train")
    seed_everything(seed)
    G, D = DCGANGenerator(width=32), DCGANDiscriminator(width=32, norm=norm)
    config = GANConfig(**{**RECIPE, **changes}, steps=steps, max_seconds=seconds, seed=seed)
    return train_gan(G, D, x, config, device=device, progress=False)


def memorisation_sets(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Lesson 03's 1,000 training digits D has seen and the 1,000 test digits it has not."""
    x = load_digits("train")[0]
    return x[torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:1000]], load_digits("test")[0]


def row(name: str, seed: int, run, samples: torch.Tensor, base: torch.Tensor | None, device) -> dict:
    """Everything the lesson reads of one configuration and seed."""
    scores = evaluate(samples, device=device)
    out = {"config": name, "seed": seed, "budget": CHANGES[name.replace("_raw_g", "")][2],
           "steps": run.steps, "seconds": round(run.seconds, 1),
           "ms_per_step": round(1000 * float(np.median(run.history["step_seconds"])), 1),
           "fid": scores.fid, "fid_lenet": evaluate(samples, protocol="lenet", device=device).fid,
           "is": scores.inception_score, "kid": scores.kid,
           "precision": scores.precision, "recall": scores.recall,
           "d_memorisation": discriminator_memorisation(run.D, *memorisation_sets(seed)),
           "d_gap": float(np.mean(run.history["D_real"][-200:]) - np.mean(run.history["D_fake"][-200:]))}
    policy = CHANGES[name.replace("_raw_g", "")][0].get("augment")
    if policy:  # what this D saw in training: augmented digits
        g = torch.Generator().manual_seed(seed)
        out["d_memorisation_augmented"] = discriminator_memorisation(
            run.D, *memorisation_sets(seed), augment=lambda x: diff_augment(x, policy, g))
    if base is not None:
        readings = compare_samples(base, samples, device=device, seed=seed)
        out |= {"vs_recipe": {k: list(v) for k, v in readings.items()}, "verdict": verdict(readings)}
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0", help="comma-separated, e.g. 0,1,2")
    parser.add_argument("--configs", default=",".join(c for c in CHANGES if c != "lr_2e-4"),
                        help="configurations (lr_2e-4 is left out by default: lesson 03 measures it at equal steps)")
    parser.add_argument("--steps", type=int, default=STEPS, help="steps of the equal-steps rows")
    parser.add_argument("--results", type=Path, default=None,
                        help="folder of the results (default benchmarks/results, which keeps only runs of --steps 4500)")
    args = parser.parse_args(argv)
    if args.steps != STEPS and args.results is None:
        parser.error(f"a run of --steps {args.steps} is not lesson 03's budget ({STEPS} steps): "
                     f"give it a --results folder of its own, so that it does not replace the lesson's rows")
    configs = args.configs.split(",")
    unknown = set(configs) - set(CHANGES)
    if unknown:
        parser.error(f"unknown configurations {sorted(unknown)}; known: {', '.join(CHANGES)}")
    start_trace()
    device = get_device()
    print(f"device {device}, {torch.get_num_threads()} threads, {args.steps} steps (equal-steps rows)")
    command = sys.argv if argv is None else ["benchmarks/dcgan.py", *argv]
    for seed in map(int, args.seeds.split(",")):
        z = torch.randn(1000, 100, generator=torch.Generator().manual_seed(seed + 2024))  # lesson 03's latents
        recipe = train("recipe", seed, args.steps, None, device)  # every row is compared with it
        base = sample_images(recipe.sampler, z)
        report(row("recipe", seed, recipe, base, None, device), command, args.results)
        report(row("recipe_raw_g", seed, recipe, sample_images(recipe.G, z), base, device), command, args.results)
        for name in configs:
            if name != "recipe":
                wall_clock = CHANGES[name][2] == "wall clock"
                run = train(name, seed, 10**9 if wall_clock else args.steps,
                            recipe.seconds if wall_clock else None, device)
                report(row(name, seed, run, sample_images(run.sampler, z), base, device), command, args.results)


def report(r: dict, command: list[str], folder: Path | None = None) -> None:
    """Record a row in benchmarks/results/dcgan.json (or ``folder``) and print it."""
    record_benchmark("dcgan", r, command, folder)
    print(f"{r['config']}: seed {r['seed']} FID_digits {r['fid']:.2f} IS_digits {r['is']:.2f} "
          f"steps {r['steps']} seconds {r['seconds']:.0f} D memorisation {r['d_memorisation']:.3f}"
          + (f" verdict vs recipe: {r['verdict']}" if "verdict" in r else ""), flush=True)


if __name__ == "__main__":
    main()
