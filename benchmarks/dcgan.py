"""The plain DCGAN against lesson 03's unconditional recipe, for the same wall clock.

    python benchmarks/dcgan.py [--seconds 360] [--configs plain,best] [--seeds 0]
    python benchmarks/dcgan.py --steps plain=2900,best=5600 --seeds 1,2

Each configuration trains for ``--seconds`` of wall-clock time on this machine (2 CPU cores in
the course's reference setting) on the 4,000 embedded train digits, then is scored with the
digits protocol (1,000 samples vs the 1,000 test digits). The last lines, one per
configuration and seed, begin with the configuration's name:

    plain: seed 0 FID_digits 8.52 IS_digits 7.55 seconds 360 steps 3381

On a machine that is busy with other work, wall-clock budgets shrink; ``--steps`` then trains each
named configuration for a fixed number of steps instead (the steps a quiet run of ``--seconds``
reached), which gives the same result on a busy machine as on a quiet one.

Configurations: ``plain`` (Radford et al.'s Adam 2e-4, batch 64, no averaging), ``best`` (lesson
03's recipe: Adam 1e-3, batch 32, sampled from the EMA of G's weights), and the recipe with
spectral normalisation and the hinge loss (``best_sn_hinge``) or with DiffAugment
(``best_diffaug``), for the lesson's table at equal wall clock.
"""
from __future__ import annotations

import argparse
import dataclasses
import warnings

import torch

from course_lib.config import get_device, seed_everything
from course_lib.data import load_digits
from course_lib.metrics import evaluate
from course_lib.models.gan import DCGANDiscriminator, DCGANGenerator
from course_lib.training import GANConfig, sample_images, train_gan

RECIPE = dict(batch_size=32, lr_g=1e-3, lr_d=1e-3, ema_decay=0.999)
CONFIGS = {  # the same networks (width 32, batch norm in G and D) and non-saturating loss
    "plain": GANConfig(batch_size=64, lr_g=2e-4, lr_d=2e-4),          # Radford et al.'s settings, batch 64
    "best": GANConfig(**RECIPE),                                       # lesson 03's unconditional recipe
    "best_sn_hinge": GANConfig(**RECIPE, loss="hinge"),                # + spectral norm in D, hinge loss
    "best_diffaug": GANConfig(**RECIPE, augment="translation,cutout"),  # + DiffAugment
}
NORM = {"best_sn_hinge": "spectral"}  # the discriminator's normalisation, batch norm unless named here


def run(name: str, seconds: float, seed: int, device: torch.device, steps: int | None = None) -> dict:
    x, _ = load_digits("train")
    seed_everything(seed)
    G, D = DCGANGenerator(width=32), DCGANDiscriminator(width=32, norm=NORM.get(name, "batch"))
    limit = dict(steps=10**9, max_seconds=seconds) if steps is None else dict(steps=steps)
    config = dataclasses.replace(CONFIGS[name], **limit, seed=seed)
    result = train_gan(G, D, x, config, device=device, progress=False)
    z = torch.randn(1000, G.latent_dim, generator=torch.Generator().manual_seed(seed + 2024))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores = evaluate(sample_images(result.sampler, z), device=device)
    return {"fid": scores.fid, "is": scores.inception_score, "seconds": result.seconds, "steps": result.steps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=360.0)
    parser.add_argument("--configs", default="plain,best")
    parser.add_argument("--seeds", default="0", help="comma-separated, e.g. 0,1,2")
    parser.add_argument("--steps", default="", help="fixed steps instead of --seconds: plain=2900,best=5600")
    args = parser.parse_args()
    fixed = {name: int(n) for name, n in (item.split("=") for item in args.steps.split(",") if item)}
    unknown = set(fixed) - set(CONFIGS)
    if unknown:
        parser.error(f"--steps names unknown configurations {sorted(unknown)}; known: {sorted(CONFIGS)}")
    configs = list(fixed) if fixed else args.configs.split(",")
    device = get_device()
    budget = f"fixed steps {fixed}" if fixed else f"{args.seconds:.0f} s per configuration and seed"
    print(f"device {device}, {torch.get_num_threads()} threads, {budget}")
    for seed in map(int, args.seeds.split(",")):
        for name in configs:
            r = run(name, args.seconds, seed, device, fixed.get(name))
            print(f"{name}: seed {seed} FID_digits {r['fid']:.2f} IS_digits {r['is']:.2f} "
                  f"seconds {r['seconds']:.0f} steps {r['steps']}", flush=True)


if __name__ == "__main__":
    main()
