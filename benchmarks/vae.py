"""Which habits lesson 04 keeps: each configuration of the convolutional VAE scored on validation
digits, and only the chosen one on the test digits.

    python benchmarks/vae.py [--k 1000] [--configs plain,binarize,...] [--seed 0] [--steps-scale 1]

Each configuration trains ConvVAE(latent_dim=16) with Adam 1e-3, batch 64, on the 3,600 training
digits that lesson 04 fits. The other 400 training digits (the last 40 of each class) are the
**validation** digits: every configuration is scored on them, binarised once (fixed seed 0, the
same binary digits for every configuration and every ``--seed``): the negative ELBO and the
importance-weighted NLL with ``--k`` samples, in nats, each with its standard error over the 400
digits, the step whose weights were kept (the last one, or the best validation -ELBO's with early
stopping), and the change in IW-NLL from the row above with the standard error of that paired
difference (the same digits score both rows, so the difference is far less noisy than either
figure). The configuration with the best validation IW-NLL is the choice; only it is then scored
on the 1,000 test digits (binarised once, fixed seed 0), which nothing else here looks at.

The configurations add one change at a time, in this order (each row keeps the rows above it):

- plain:      grey values read as Bernoulli probabilities, no warm-up, last weights (5,000 steps)
- binarize:   + dynamic binarisation, a fresh Bernoulli draw of every pixel at every step
- warmup:     + KL warm-up over the first tenth of training (an aid to optimisation, not a
              remedy for over-fitting)
- early_stop: + early stopping: keep the weights of the best validation -ELBO (checked 40 times)
- shift:      + random shifts of each training digit by up to one pixel
- longer:     + twice as many steps (10,000), the warm-up and validation schedules scaled with them
- ema:        + an exponential moving average of the weights, its decay warmed up as
              min(0.999, (1 + k)/(10 + k)) after k updates (lesson 04's run)

Caveat: early stopping picks its weights on the validation digits (with the -ELBO, on another
binarisation of them), so the validation figures of early_stop and the rows below it lean a
little in their favour; the test figure of the final choice carries no such bias.

The full run (k = 1000, every configuration) takes about 25-30 minutes on 2 CPU cores. For a quick
check that the script runs: ``--k 10 --steps-scale 0.01`` (a few seconds per configuration).
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import time

import torch

from course_lib.config import get_device, seed_everything
from course_lib.data import load_digits, validation_mask
from course_lib.figures import record_benchmark, start_trace
from course_lib.losses import iwae_log_likelihood
from course_lib.models.vae import ConvVAE
from course_lib.training import VAEConfig, binarize, train_vae
from course_lib.training.vae import negative_elbo_per_image

EVALUATION_SEED = 0  # the once-binarised validation and test digits: the same for every --seed


def configurations(seed: int) -> dict[str, tuple[str, VAEConfig, bool]]:
    """name -> (what changed, configuration, early stopping on the validation digits)."""
    plain = VAEConfig(steps=5000, dynamic_binarization=False, seed=seed)
    binarize_ = dataclasses.replace(plain, dynamic_binarization=True)
    warmup = dataclasses.replace(binarize_, kl_warmup_steps=500)
    early_stop = dataclasses.replace(warmup, validate_every=125)
    shift = dataclasses.replace(early_stop, shift=1)
    longer = dataclasses.replace(shift, steps=10000, kl_warmup_steps=1000, validate_every=250)
    ema = dataclasses.replace(longer, ema_decay=0.999)
    return {
        "plain": ("grey values as probabilities, no warm-up, last weights", plain, False),
        "binarize": ("+ dynamic binarisation", binarize_, False),
        "warmup": ("+ KL warm-up (first tenth of training)", warmup, False),
        "early_stop": ("+ early stopping on validation -ELBO", early_stop, True),
        "shift": ("+ random shifts of up to one pixel", shift, True),
        "longer": ("+ twice as many steps", longer, True),
        "ema": ("+ a weight average, decay warmed up to 0.999: lesson 04", ema, True),
    }


def scaled(config: VAEConfig, scale: float) -> VAEConfig:
    """The configuration with its step counts multiplied by ``scale`` (for quick checks only)."""
    if scale == 1:
        return config
    steps = lambda n: max(1, round(n * scale)) if n else 0
    return dataclasses.replace(config, steps=steps(config.steps), kl_warmup_steps=steps(config.kl_warmup_steps),
                               validate_every=steps(config.validate_every))


@torch.no_grad()
def score(model: torch.nn.Module, x: torch.Tensor, k: int, seed: int) -> dict[str, torch.Tensor]:
    """Per-digit -ELBO and IW-NLL (k samples) of binary images ``x``: ``(N,)`` each."""
    return {"elbo": negative_elbo_per_image(model, x, torch.Generator().manual_seed(seed + 12)).cpu(),
            "nll": -iwae_log_likelihood(model, x, k, generator=torch.Generator().manual_seed(seed + 13)).cpu()}


def mean_se(values: torch.Tensor) -> str:
    """'mean ± standard error' of per-digit values."""
    return f"{values.mean():.2f} ± {values.std() / math.sqrt(len(values)):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=1000, help="importance samples of the IW-NLL (default 1000)")
    parser.add_argument("--configs", default="all", help="comma-separated names, in order (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the training runs (lesson 04's COURSE_SEED)")
    parser.add_argument("--steps-scale", type=float, default=1.0,
                        help="multiply every step count (only for a quick check that the script runs)")
    args = parser.parse_args()
    start_trace()
    record = args.steps_scale == 1  # a quick check is not the benchmark: its rows are not recorded
    table = configurations(args.seed)
    names = list(table) if args.configs == "all" else args.configs.split(",")
    unknown = [n for n in names if n not in table]
    if unknown:
        parser.error(f"unknown configurations {unknown}; choose from {', '.join(table)}")

    device = get_device()
    x, y = load_digits("train", value_range=(0, 1))
    holdout = validation_mask(y)                                    # the 400 validation digits
    x_val = binarize(x[holdout], torch.Generator().manual_seed(EVALUATION_SEED)).to(device)  # (400, 1, 28, 28)
    x_test, _ = load_digits("test", value_range=(0, 1))
    x_test = binarize(x_test, torch.Generator().manual_seed(EVALUATION_SEED)).to(device)     # (1000, 1, 28, 28)
    print(f"device {device}, {torch.get_num_threads()} threads, seed {args.seed}, IW-NLL with k = {args.k}"
          + (f", steps x {args.steps_scale:g} (a quick check, not the benchmark)" if args.steps_scale != 1 else ""))
    print(f"validation: the {len(x_val)} held-out training digits, binarised once (seed {EVALUATION_SEED}); "
          f"nats, mean ± standard error over digits\n")
    print("| configuration | change | steps | weights kept from step | val -ELBO | val IW-NLL | Δ IW-NLL vs row above "
          "| train s |")
    print("|---|---|---|---|---|---|---|---|")

    models, validation, previous = {}, {}, None
    for name in names:
        change, config, early_stopping = table[name]
        config = scaled(config, args.steps_scale)
        seed_everything(args.seed)                                  # the same initial weights for every row
        run = train_vae(ConvVAE(latent_dim=16), x[~holdout], config,
                        validation=x[holdout] if early_stopping else None, device=device, progress=False)
        models[name] = run.model
        validation[name] = score(run.model, x_val, args.k, args.seed)
        delta = "" if previous is None else mean_se(validation[name]["nll"] - validation[previous]["nll"])
        kept = run.best_step if early_stopping else run.steps   # early stopping: the step of the best validation ELBO
        print(f"| {name} | {change} | {run.steps:,} | {kept:,} | {mean_se(validation[name]['elbo'])} | "
              f"{mean_se(validation[name]['nll'])} | {delta} | {run.seconds:.0f} |", flush=True)
        if record:
            record_benchmark("vae", {"config": name, "seed": args.seed, "split": "validation", "k": args.k,
                                     "steps": run.steps, "kept_step": kept, "train_seconds": round(run.seconds, 1),
                                     **figures_of(validation[name]),
                                     **({} if previous is None else {"delta_nll_vs_previous":
                                         figures_of({"d": validation[name]["nll"] - validation[previous]["nll"]})["d"]})})
        previous = name

    chosen = min(validation, key=lambda n: validation[n]["nll"].mean().item())
    start = time.perf_counter()
    test = score(models[chosen], x_test, args.k, args.seed)
    print(f"\nchosen on validation IW-NLL: {chosen} ({mean_se(validation[chosen]['nll'])} nats)")
    print(f"test, {len(x_test)} digits binarised once (seed {EVALUATION_SEED}), {chosen} only: "
          f"-ELBO {mean_se(test['elbo'])}, IW-NLL (k = {args.k}) {mean_se(test['nll'])} nats "
          f"({time.perf_counter() - start:.0f} s)")
    if record:
        record_benchmark("vae", {"config": chosen, "seed": args.seed, "split": "test", "k": args.k, **figures_of(test)})


def figures_of(scores: dict[str, torch.Tensor]) -> dict[str, list[float]]:
    """``{name: [mean, standard error over the digits]}`` of per-digit scores."""
    return {name: [v.mean().item(), (v.std() / math.sqrt(len(v))).item()] for name, v in scores.items()}


if __name__ == "__main__":
    main()
