"""Lesson 05's CycleGAN over seeds: the 500-step ablation and the full-budget models, recorded.

    python benchmarks/cyclegan.py --seeds 0,1,2                       # every row the lesson reads
    python benchmarks/cyclegan.py --seeds 0 --configs ablation        # one group
    python benchmarks/cyclegan.py --seeds 1 --configs paper@2800,no_cycle@500
    python benchmarks/cyclegan.py --quick                             # a quick check: records nothing

Runs (``--configs`` takes groups or ``name@steps``; default ``ablation,full_budget``):

- ``ablation``, 500 steps, lr 2e-4 each, one change from ``no_identity`` (lesson 05's ablation,
  the variants of its ``variants`` dict, named in :data:`LABELS`): ``paper`` (λ_cyc 10, λ_id 5,
  the paper's recipe), ``no_identity`` (paper without identity), ``forward_only`` (λ_cyc = (10,
  0): no backward cycle), ``back_translation`` (back-translation only), ``inversion`` (inversion
  only), ``back_translation_inversion`` (back-translation + inversion), ``no_cycle`` (λ_cyc 0,
  λ_id 0);
- ``full_budget``, 2,800 steps (the lesson's cpu budget): ``paper`` (the paper's recipe, lr 2e-4),
  ``back_translation`` (back-translation only, lr 2e-4) and ``full`` (the lesson's model:
  back-translation + inversion, no identity term, lr 4e-4).

Each run trains ResnetGenerator(width=16, n_blocks=3) for G and F and PatchDiscriminator(width=16)
for D_X and D_Y, initialised by ``seed_everything(seed)`` in that order, on the 2,000 + 2,000
training images of the domain pair with :class:`~course_lib.training.CycleGANConfig` (batch 16,
pool 50, Adam (0.5, 0.999), the paper's LSGAN: G's term not halved, D's halved), exactly as lesson
05 trains it with ``COURSE_SEED`` = seed (:func:`make_config`; a test compares the two). Scoring
uses the lesson's judges: the digits evaluator for grey images and the domain-Y judge of
:func:`~course_lib.metrics.translation.fit_domain_judge` (seed 0, 8 epochs, one thread: the same
judge for every seed and thread count).

Each row (``benchmarks/results/cyclegan.json``, one per run and seed, with the command, the
machine and the code that ran) holds: ``config`` (``name@steps``, e.g. ``paper@500`` and
``paper@2800``: one key per run for :func:`~course_lib.figures.benchmark_rows`), ``name``,
``label`` (the lesson's name for it), ``group``, ``seed``, ``steps``, ``seconds`` (training
only) and ``ms_per_step`` (median); class preservation ``X->Y`` (G(x) read by the domain-Y
judge), ``Y->X`` (F(y) greyed, read by the digits evaluator), ``light`` and ``dark`` (Y->X of
the 150 photo test digits on light patches and of the 350 on dark ones); realism
``FID G(x)``, ``KID G(x)`` (against the 500 real domain-Y test images in the domain-Y judge's
features) and ``colours G(x)`` (the spread of G(x)'s mean colours); F(y) under the digits
protocol against the 500 grey test digits of domain A, which exclude B's sources
(:func:`~course_lib.metrics.translation.domain_a_reference`): ``FID F(y)``, ``KID F(y)``,
``precision F(y)``, ``recall F(y)``, ``density F(y)``, ``coverage F(y)``, ``C_T F(y)`` and
``reference F(y)``; and what real images give on the same instruments, the same in every row:
``judge X->Y`` and ``judge Y->X`` (each judge's accuracy on real test images), ``floor FID G(x)``,
``floor KID G(x)``, ``floor FID F(y)``, ``floor KID F(y)`` (500 real training images, 50 a class,
against the same test images) and ``colours real Y``.

Time: every row records its training ``seconds`` and median ``ms_per_step``, so the file says what
each run cost on the machine that ran it (``threads``, ``cores``); on 2 CPU cores at 2 threads a seed
took about half an hour, the identity term making a step about a third slower. Run it on an otherwise idle machine with one
thread count for all rows (``threads`` is recorded): the runs' figures depend on it, and a busy
core slows two OpenMP threads many times over. ``--quick`` trains every selected run for 20 steps
with a 1-epoch judge and records nothing (``--results FOLDER`` records it there instead, never
in ``benchmarks/results``).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from course_lib.config import get_device, seed_everything
from course_lib.data import load_domain_pair
from course_lib.figures import benchmark_path, record_benchmark, start_trace
from course_lib.metrics import accuracy, colour_spread, feature_distances, load_digits_evaluator, to_grey
from course_lib.metrics.protocol import evaluate_against
from course_lib.metrics.translation import domain_a_reference, fit_domain_judge, score_translations
from course_lib.models.cyclegan import PatchDiscriminator, ResnetGenerator
from course_lib.training import CycleGANConfig, train_cyclegan

ABLATION_LR = 2e-4        # the paper's learning rate
FULL_LR = 4e-4            # the lesson's full model: twice the paper's
ABLATION_STEPS = 500      # lesson 05's ablation at the cpu budget
FULL_STEPS = 2800         # lesson 05's full budget (cpu)
JUDGE_EPOCHS = 8          # lesson 05's domain-Y judge at the cpu budget
TRAINING = dict(batch_size=16, pool_size=50)  # the paper's pool of 50, at the lesson's batch of 16
CONFIGS = {  # the settings of each run that differ from CycleGANConfig's defaults, but steps and seed
    "paper": dict(lambda_cyc=10.0, lambda_id=5.0, lr=ABLATION_LR),
    "no_identity": dict(lambda_cyc=10.0, lambda_id=0.0, lr=ABLATION_LR),
    "forward_only": dict(lambda_cyc=(10.0, 0.0), lambda_id=0.0, lr=ABLATION_LR),
    "back_translation": dict(lambda_cyc=10.0, lambda_id=0.0, back_translation=True, lr=ABLATION_LR),
    "inversion": dict(lambda_cyc=10.0, lambda_id=0.0, augment_forward="inversion", lr=ABLATION_LR),
    "back_translation_inversion": dict(lambda_cyc=10.0, lambda_id=0.0, back_translation=True,
                                       augment_forward="inversion", lr=ABLATION_LR),
    "no_cycle": dict(lambda_cyc=0.0, lambda_id=0.0, lr=ABLATION_LR),
    "full": dict(lambda_cyc=10.0, lambda_id=0.0, back_translation=True, augment_forward="inversion", lr=FULL_LR),
}
GROUPS = {  # group: (steps, runs)
    "ablation": (ABLATION_STEPS, ["paper", "no_identity", "forward_only", "back_translation", "inversion",
                                  "back_translation_inversion", "no_cycle"]),
    "full_budget": (FULL_STEPS, ["paper", "back_translation", "full"]),
}
LABELS = {"paper": "paper (λ_cyc 10, λ_id 5)", "no_identity": "paper without identity",
          "forward_only": "forward cycle only", "back_translation": "back-translation only",
          "inversion": "inversion only", "back_translation_inversion": "back-translation + inversion",
          "no_cycle": "no cycle loss", "full": "full model (back-translation + inversion, lr 4e-4)"}
COLUMNS = {  # what the table prints: column -> format (% as points in the summary)
    "X->Y": ".1%", "Y->X": ".1%", "light": ".1%", "dark": ".1%", "FID G(x)": ".2f", "KID G(x)": ".4f",
    "colours G(x)": ".3f", "FID F(y)": ".2f", "KID F(y)": ".4f", "precision F(y)": ".3f", "recall F(y)": ".3f",
    "seconds": ".0f"}
QUICK_STEPS, QUICK_JUDGE_EPOCHS = 20, 1


def make_config(name: str, steps: int, seed: int) -> CycleGANConfig:
    """The configuration of run ``name`` for ``steps`` steps and ``seed``, as lesson 05 builds it."""
    return CycleGANConfig(steps=steps, seed=seed, **TRAINING, **CONFIGS[name])


def new_networks(seed: int) -> tuple:
    """G, F, D_X, D_Y initialised from ``seed``, as lesson 05's ``new_networks()``."""
    seed_everything(seed)
    return (ResnetGenerator(width=16, n_blocks=3), ResnetGenerator(width=16, n_blocks=3),
            PatchDiscriminator(width=16), PatchDiscriminator(width=16))


def runs_of(configs: str) -> list[tuple[str, str, int]]:
    """``(group, name, steps)`` of each run that ``--configs`` names, in order, each once."""
    runs = []
    for part in configs.split(","):
        if part in GROUPS:
            steps, names = GROUPS[part]
            runs += [(part, name, steps) for name in names]
            continue
        name, _, steps = part.partition("@")
        group = next((g for g, (s, names) in GROUPS.items() if steps == str(s) and name in names), None)
        if group is None:
            raise ValueError(f"unknown run {part!r}: give a group ({', '.join(GROUPS)}) or name@steps, one of "
                             + ", ".join(f"{n}@{s}" for s, names in GROUPS.values() for n in names))
        runs.append((group, name, int(steps)))
    return list(dict.fromkeys(runs))


def instruments(train, test, device, judge_epochs: int) -> tuple:
    """The judges and what real images give on them: ``(judge_x, judge_y, real)``."""
    judge_x = load_digits_evaluator(device)                                # reads F(y), grey
    judge_y, judge_y_accuracy = fit_domain_judge(train, test, epochs=judge_epochs, device=device,
                                                 progress=False)           # reads G(x)
    floor_y = feature_distances(judge_y, test.x_b, train.x_b[::4])          # 500 real training images, 50 a class
    floor_x = evaluate_against(to_grey(train.x_a[::4]), *domain_a_reference(test), device=device)
    real = {"judge X->Y": judge_y_accuracy, "judge Y->X": accuracy(judge_x, to_grey(test.x_a), test.y_a),
            "floor FID G(x)": floor_y["fid"], "floor KID G(x)": floor_y["kid"],
            "floor FID F(y)": floor_x.fid, "floor KID F(y)": floor_x.kid, "colours real Y": colour_spread(test.x_b)}
    return judge_x, judge_y, real


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated, e.g. 0,1,2")
    parser.add_argument("--configs", default="ablation,full_budget",
                        help=f"comma-separated groups ({', '.join(GROUPS)}) or name@steps, e.g. paper@2800")
    parser.add_argument("--quick", action="store_true",
                        help=f"a quick check: {QUICK_STEPS} steps a run, a {QUICK_JUDGE_EPOCHS}-epoch judge; "
                             f"records nothing unless --results is given")
    parser.add_argument("--results", type=Path, default=None,
                        help="folder of the results (default benchmarks/results; a --quick run needs one to record)")
    args = parser.parse_args(argv)
    try:
        runs = runs_of(args.configs)
    except ValueError as error:
        parser.error(str(error))
    if args.quick and args.results is not None and args.results.resolve() == benchmark_path("cyclegan").parent:
        parser.error("a quick check's rows never go to benchmarks/results: give a scratch --results folder")
    seeds = [int(s) for s in args.seeds.split(",")]
    record = not args.quick or args.results is not None
    command = sys.argv if argv is None else ["benchmarks/cyclegan.py", *argv]
    start_trace()
    device = get_device()
    train, test = load_domain_pair("train"), load_domain_pair("test")
    judge_x, judge_y, real = instruments(train, test, device, QUICK_JUDGE_EPOCHS if args.quick else JUDGE_EPOCHS)
    print(f"device {device}, {torch.get_num_threads()} threads, seeds {args.seeds}"
          + (f", QUICK CHECK ({QUICK_STEPS} steps a run)" if args.quick else "")
          + ("" if record else ", nothing recorded"))
    print("real images: " + ", ".join(f"{k} {v:.4g}" for k, v in real.items()))
    print(f"{'run':<36}{'seed':>5}" + "".join(f"{c:>15}" for c in COLUMNS), flush=True)
    results: dict[tuple, list[dict]] = {}
    if args.quick:  # each run for QUICK_STEPS: paper@500 and paper@2800 become one run
        names = list(dict.fromkeys(name for _, name, _ in runs))
        runs = [next((group, name, QUICK_STEPS) for group, n, _ in runs if n == name) for name in names]
    for seed in seeds:
        for group, name, steps in runs:
            run = train_cyclegan(*new_networks(seed), train.x_a, train.x_b, make_config(name, steps, seed),
                                 device=device, progress=False)
            scores = score_translations(run.G, run.F, test, judge_x, judge_y)
            row = {"config": f"{name}@{steps}", "name": name, "label": LABELS[name], "group": group, "seed": seed,
                   "steps": steps, "seconds": round(run.seconds, 1),
                   "ms_per_step": round(1000 * float(np.median(run.history["step_seconds"])), 1),
                   **scores, "reference F(y)": f"{len(test.x_a)} {domain_a_reference(test)[1]}", **real}
            results.setdefault((group, name), []).append(row)
            print(f"{name + '@' + str(steps):<36}{seed:>5}" + "".join(f"{row[c]:>15{f}}" for c, f in COLUMNS.items()),
                  flush=True)
            if record:
                record_benchmark("cyclegan", row, command, args.results)
    summary(results, args.seeds)


def summary(results: dict[tuple, list[dict]], seeds: str) -> None:
    """A Markdown table: each figure's mean (min–max) over the seeds, per run."""
    print(f"\nMean (min–max) over seeds {seeds}:\n")
    print("| run | steps | " + " | ".join(COLUMNS) + " |")
    print("|---|---|" + "---|" * len(COLUMNS))
    for (group, name), rows in results.items():
        cells = []
        for column, f in COLUMNS.items():
            values = np.array([row[column] for row in rows], dtype=float)
            scale, spec = (100, ".1f") if f.endswith("%") else (1, f)
            mean, lo, hi = scale * values.mean(), scale * values.min(), scale * values.max()
            cells.append(f"{mean:{spec}} ({lo:{spec}}–{hi:{spec}})" + (" %" if scale == 100 else ""))
        print(f"| {LABELS[name]} | {rows[0]['steps']} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
