"""Lesson 05's CycleGAN over seeds: class preservation and realism of every configuration the
lesson trains, so that its single run per row can be judged.

    python benchmarks/cyclegan.py [--seeds 0,1,2] [--configs full,paper] [--steps 2800]
    python benchmarks/cyclegan.py --configs ablation --steps 500     # the lesson's ablation

Each configuration trains ResnetGenerator(width=16, n_blocks=3) for G and F and
PatchDiscriminator(width=16) for D_X and D_Y on the 2,000 + 2,000 training images of the domain
pair, batch 16, pool 50, for ``--steps`` steps; networks and batches are seeded with the seed
(COURSE_SEED in the lesson). Seed 0 of ``full`` at 2,800 steps is lesson 05's full model; seed 0
of the ablation rows at 500 steps are its ablation. On the 500 + 500 test images it reports:

- class preservation, the share of translations that keep their class: G(x) read by a domain-Y
  classifier (trained as in the lesson: fixed seed 0, 8 epochs, the same judge for every seed),
  F(y) in grey read by the digits evaluator, and F(y) of the 150 photo digits on light patches;
- realism: FID and KID of G(x) against the 500 real domain-Y test images in the domain-Y
  classifier's features, and of F(y) (grey: mean over channels) against the 500 grey test digits
  in the digits evaluator's features (``course_lib.metrics.feature_distances``). The first lines
  print each judge's accuracy on real test images and the same distances between 500 real
  *training* images and the test images: the floor at this N;
- the colour spread of G(x): the standard deviation over images of each image's mean colour (the
  domain-Y judge's features barely see colours; this number does).

Configurations (``--configs`` takes names, or ``ablation`` for the seven ablation rows):

- full:    λ_cyc 10, no identity term, back-translation and inversion, lr 4e-4 (the lesson's model)
- paper:   λ_cyc 10, λ_id 5, the paper's coupled cycle, lr 2e-4 (the paper's recipe)
- the ablation, lr 2e-4, each one change from ``no_identity``:
  no_identity (paper without identity), forward_only (λ_cyc = (10, 0): no backward cycle),
  back_translation (back-translation only), inversion (inversion only), back_translation_inversion
  (back-translation + inversion), no_cycle (λ_cyc 0, λ_id 0); ``paper`` is its first row.

Every configuration and seed takes about 0.11 s a step on 2 CPU cores (0.14 s with the identity
term): about 5 minutes at 2,800 steps, 1 minute at 500. After the runs, a Markdown table gives
each figure's mean and range over the seeds. Run it on an otherwise idle machine with the default
threads: the domain-Y judge's training depends on the thread count (92.6 % with 2 threads, 92.2 %
with 1), and a busy core slows two OpenMP threads many times over.
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

from course_lib.config import get_device, seed_everything
from course_lib.data import load_domain_pair
from course_lib.figures import record_benchmark, start_trace
from course_lib.metrics import (DigitsEvaluator, accuracy, colour_spread, feature_distances, fit_classifier,
                                load_digits_evaluator, score_translations, to_grey)
from course_lib.models.cyclegan import PatchDiscriminator, ResnetGenerator
from course_lib.training import CycleGANConfig, train_cyclegan

ABLATION_LR = 2e-4
CONFIGS = {
    "full": dict(lambda_cyc=10.0, lambda_id=0.0, back_translation=True, augment_forward="inversion", lr=4e-4),
    "paper": dict(lambda_cyc=10.0, lambda_id=5.0, lr=ABLATION_LR),
    "no_identity": dict(lambda_cyc=10.0, lambda_id=0.0, lr=ABLATION_LR),
    "forward_only": dict(lambda_cyc=(10.0, 0.0), lambda_id=0.0, lr=ABLATION_LR),
    "back_translation": dict(lambda_cyc=10.0, lambda_id=0.0, back_translation=True, lr=ABLATION_LR),
    "inversion": dict(lambda_cyc=10.0, lambda_id=0.0, augment_forward="inversion", lr=ABLATION_LR),
    "back_translation_inversion": dict(lambda_cyc=10.0, lambda_id=0.0, back_translation=True,
                                       augment_forward="inversion", lr=ABLATION_LR),
    "no_cycle": dict(lambda_cyc=0.0, lambda_id=0.0, lr=ABLATION_LR),
}
ABLATION = ["paper", "no_identity", "forward_only", "back_translation", "inversion",
            "back_translation_inversion", "no_cycle"]
LABELS = {"full": "full model", "paper": "paper (λ_cyc 10, λ_id 5)", "no_identity": "paper without identity",
          "forward_only": "forward cycle only", "back_translation": "back-translation only",
          "inversion": "inversion only", "back_translation_inversion": "back-translation + inversion",
          "no_cycle": "no cycle loss"}  # the rows' names in lesson 05
COLUMNS = ("X->Y", "Y->X", "light", "FID G(x)", "KID G(x)", "colours G(x)", "FID F(y)", "KID F(y)")
FORMATS = (".1%", ".1%", ".1%", ".2f", ".4f", ".3f", ".2f", ".4f")  # per column; in the summary, % as points


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--configs", default="full", help=f"comma-separated: {', '.join(CONFIGS)}, or ablation")
    parser.add_argument("--steps", type=int, default=2800)
    args = parser.parse_args()
    names = list(dict.fromkeys(n for part in args.configs.split(",")          # in order, each once
                               for n in (ABLATION if part == "ablation" else [part])))
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        parser.error(f"unknown configuration(s) {', '.join(unknown)}; use {', '.join(CONFIGS)} or ablation")
    seeds = [int(s) for s in args.seeds.split(",")]
    start_trace()
    device = get_device()
    train, test = load_domain_pair("train"), load_domain_pair("test")
    evaluator_x = load_digits_evaluator(device)
    seed_everything(0)  # the domain-Y judge is fixed: the same for every seed, as in the lesson
    classifier_y = DigitsEvaluator(in_channels=3)
    fit_classifier(classifier_y, train.x_b, train.y_b, test.x_b, test.y_b, torch.Generator().manual_seed(0),
                   epochs=8, seed=0, progress=False)
    classifier_y = classifier_y.to(device).eval()
    real_y, real_x = test.x_b, to_grey(test.x_a)                          # (500, 3, 28, 28), (500, 1, 28, 28)
    floor_y = feature_distances(classifier_y, real_y, train.x_b[::4])    # 500 real training images, 50 a class
    floor_x = feature_distances(evaluator_x, real_x, to_grey(train.x_a[::4]))
    print(f"device {device}, {torch.get_num_threads()} threads, {args.steps} steps, seeds {args.seeds}")
    print(f"judges on real test images: domain-Y classifier {accuracy(classifier_y, real_y, test.y_b):.1%} "
          f"(reads G(x)); digits evaluator {accuracy(evaluator_x, real_x, test.y_a):.1%} (reads F(y))")
    print(f"floor, 500 real training images vs the test images: domain Y FID {floor_y['fid']:.2f} "
          f"KID {floor_y['kid']:.4f}; grey FID {floor_x['fid']:.2f} KID {floor_x['kid']:.4f}; "
          f"colour spread of real photo test digits {colour_spread(real_y):.3f}")
    print(f"{'configuration':<28}{'seed':>5}" + "".join(f"{c:>13}" for c in COLUMNS) + f"{'seconds':>9}")
    results: dict[str, list[tuple[float, ...]]] = {}
    for name in names:
        for seed in seeds:
            seed_everything(seed)
            nets = (ResnetGenerator(width=16, n_blocks=3), ResnetGenerator(width=16, n_blocks=3),
                    PatchDiscriminator(width=16), PatchDiscriminator(width=16))
            config = CycleGANConfig(steps=args.steps, batch_size=16, pool_size=50, seed=seed, **CONFIGS[name])
            run = train_cyclegan(*nets, train.x_a, train.x_b, config, device=device, progress=False)
            scores = score_translations(run.G, run.F, test, evaluator_x, classifier_y)
            row = tuple(scores[column] for column in COLUMNS)
            results.setdefault(name, []).append(row)
            print(f"{name:<28}{seed:>5}" + "".join(f"{v:>13{f}}" for v, f in zip(row, FORMATS))
                  + f"{run.seconds:>9.0f}", flush=True)
            record_benchmark("cyclegan", {"config": name, "seed": seed, "steps": args.steps,
                                          "seconds": round(run.seconds, 1), **dict(zip(COLUMNS, row))})
    print(f"\nMean (min–max) over seeds {args.seeds}, {args.steps} steps:\n")
    print("| configuration | " + " | ".join(COLUMNS) + " |")
    print("|---|" + "---|" * len(COLUMNS))
    for name, rows in results.items():
        values = np.array(rows)                                         # (seeds, columns)
        cells = []
        for column, f in zip(values.T, FORMATS):
            scale, spec = (100, ".1f") if f.endswith("%") else (1, f)
            mean, lo, hi = scale * column.mean(), scale * column.min(), scale * column.max()
            cells.append(f"{mean:{spec}} ({lo:{spec}}–{hi:{spec}})" + (" %" if scale == 100 else ""))
        print(f"| {LABELS[name]} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
