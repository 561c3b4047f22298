"""Plain DCGAN against the best configuration of lesson 03, for the same wall-clock budget.

    python benchmarks/dcgan.py [--seconds 360] [--configs plain,best]

Each configuration trains for ``--seconds`` of wall-clock time on this machine (2 CPU cores in
the course's reference setting), then is scored with the digits protocol (1,000 samples vs the
1,000 test digits). Prints FID_digits, IS_digits, seconds and iterations for each.
"""
from __future__ import annotations

import argparse
import warnings

import torch

from course_lib.config import get_device, seed_everything
from course_lib.data import load_digits
from course_lib.metrics import evaluate
from course_lib.models.gan import DCGANDiscriminator, DCGANGenerator
from course_lib.training import sample_images, train_gan

CONFIGS = {
    "plain": dict(conditional=False, norm="batch", loss="nonsaturating", ema_decay=None,
                  label="plain DCGAN (BN, non-saturating)"),
    "plain_ema": dict(conditional=False, norm="batch", loss="nonsaturating", ema_decay=0.995,
                      label="plain DCGAN + EMA"),
    "best": dict(conditional=True, norm="spectral", loss="hinge", ema_decay=0.995,
                 label="conditional DCGAN (SN + hinge + EMA)"),
}


def run(name: str, seconds: float, device: torch.device) -> dict:
    config = CONFIGS[name]
    x, y = load_digits("train")
    classes = 10 if config["conditional"] else None
    seed_everything(0)
    G = DCGANGenerator(width=32, num_classes=classes)
    D = DCGANDiscriminator(width=32, norm=config["norm"], num_classes=classes)
    result = train_gan(G, D, x, labels=y if classes else None, loss=config["loss"], steps=10**9,
                       max_seconds=seconds, ema_decay=config["ema_decay"], device=device, progress=False)
    z = torch.randn(1000, G.latent_dim, generator=torch.Generator().manual_seed(2024))
    labels = torch.arange(10).repeat_interleave(100) if classes else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores = evaluate(sample_images(result.sampler, z, labels), device=device)
    return {"label": config["label"], "fid": scores.fid, "is": scores.inception_score,
            "seconds": result.seconds, "steps": result.steps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=360.0)
    parser.add_argument("--configs", default="plain,best")
    args = parser.parse_args()
    device = get_device()
    print(f"device {device}, {torch.get_num_threads()} threads, {args.seconds:.0f} s per configuration")
    print(f"{'configuration':<40}{'FID_digits':>11}{'IS_digits':>10}{'seconds':>9}{'steps':>7}")
    for name in args.configs.split(","):
        r = run(name, args.seconds, device)
        print(f"{r['label']:<40}{r['fid']:>11.2f}{r['is']:>10.2f}{r['seconds']:>9.0f}{r['steps']:>7}", flush=True)


if __name__ == "__main__":
    main()
