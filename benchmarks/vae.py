"""What each habit of lesson 04 buys: the test likelihood of the convolutional VAE, step by step.

    python benchmarks/vae.py [--k 1000] [--configs plain,habits,shift,shift_ema]

Each configuration trains ConvVAE(latent_dim=16) with Adam 1e-3, batch 64, seed 0, on the 3,600
training digits that lesson 04 fits (400 held out for validation), then reports on all 1,000
test digits (binarised once, seed 0): −ELBO and the importance-weighted NLL with ``--k`` samples,
in nats, with the training seconds. The configurations add one habit at a time:

- plain:     static data in [0, 1] read as probabilities, no warm-up, last weights (5,000 steps)
- habits:    + dynamic binarisation, KL warm-up, early stopping on validation (5,000 steps)
- shift:     + random shifts of up to one pixel (10,000 steps)
- shift_ema: + an exponential moving average of the weights, decay 0.999 (10,000 steps; lesson 04)
"""
from __future__ import annotations

import argparse

import torch

from course_lib.config import get_device, seed_everything
from course_lib.data import load_digits, validation_mask
from course_lib.losses import iwae_log_likelihood
from course_lib.models.vae import ConvVAE
from course_lib.training import VAEConfig, binarize, negative_elbo, train_vae

CONFIGS = {  # (configuration, early stopping on the validation digits)
    "plain": (VAEConfig(steps=5000, dynamic_binarization=False), False),
    "habits": (VAEConfig(steps=5000, kl_warmup_steps=500, validate_every=125), True),
    "shift": (VAEConfig(steps=10000, kl_warmup_steps=1000, validate_every=250, shift=1), True),
    "shift_ema": (VAEConfig(steps=10000, kl_warmup_steps=1000, validate_every=250, shift=1, ema_decay=0.999), True),
}


def run(name: str, k: int, device: torch.device) -> dict:
    config, early_stopping = CONFIGS[name]
    x, y = load_digits("train", value_range=(0, 1))
    holdout = validation_mask(y)  # lesson 04's 400 validation digits
    x_test, _ = load_digits("test", value_range=(0, 1))
    x_test = binarize(x_test, torch.Generator().manual_seed(0)).to(device)
    seed_everything(0)
    result = train_vae(ConvVAE(latent_dim=16), x[~holdout], config, validation=x[holdout] if early_stopping else None,
                       device=device, progress=False)
    vae = result.model
    elbo = negative_elbo(vae, x_test, torch.Generator().manual_seed(12))
    nll = -iwae_log_likelihood(vae, x_test, k, generator=torch.Generator().manual_seed(13)).mean().item()
    return {"elbo": elbo, "nll": nll, "seconds": result.seconds, "steps": result.steps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=1000)
    parser.add_argument("--configs", default=",".join(CONFIGS))
    args = parser.parse_args()
    device = get_device()
    print(f"device {device}, {torch.get_num_threads()} threads, IW-NLL with k = {args.k}")
    print(f"{'configuration':<12}{'-ELBO':>9}{'IW-NLL':>9}{'seconds':>9}{'steps':>7}")
    for name in args.configs.split(","):
        r = run(name, args.k, device)
        print(f"{name:<12}{r['elbo']:>9.2f}{r['nll']:>9.2f}{r['seconds']:>9.0f}{r['steps']:>7}", flush=True)


if __name__ == "__main__":
    main()
