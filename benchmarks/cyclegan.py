"""Class preservation of lesson 05's CycleGAN over seeds: how far the single run in the notebook
can be trusted.

    python benchmarks/cyclegan.py [--seeds 0,1,2] [--configs full,paper] [--steps 2800]

Each configuration trains ResnetGenerator(width=16, n_blocks=3) for G and F and
PatchDiscriminator(width=16) for D_X and D_Y on the 2,000 + 2,000 training images of the domain
pair, batch 16, for ``--steps`` steps; networks and batches are seeded with the seed. Seed 0 of
``full`` is lesson 05's full model. It reports, on the 500 + 500 test images, the share of
translations that keep their class: G(x) read by a domain-Y classifier (trained as in the lesson:
seed 0, 8 epochs), F(y) read by the digits evaluator, and F(y) on the 150 light patches alone.

- full:  λ_cyc 10, no identity term, back-translation and inversion, lr 4e-4 (lesson 05)
- paper: λ_cyc 10, λ_id 5, the paper's coupled cycle, lr 2e-4
"""
from __future__ import annotations

import argparse

import torch

from course_lib.config import get_device, seed_everything
from course_lib.data import load_domain_pair
from course_lib.metrics import load_digits_evaluator
from course_lib.metrics.evaluator import DigitsEvaluator
from course_lib.metrics.train_evaluator import fit_classifier
from course_lib.models.cyclegan import PatchDiscriminator, ResnetGenerator
from course_lib.training import sample_images, train_cyclegan

CONFIGS = {
    "full": dict(lambda_cyc=10.0, lambda_id=0.0, back_translation=True, augment_forward="inversion", lr=4e-4),
    "paper": dict(lambda_cyc=10.0, lambda_id=5.0, lr=2e-4),
}


@torch.no_grad()
def predict(classifier: torch.nn.Module, images: torch.Tensor, device: torch.device) -> torch.Tensor:
    return torch.cat([classifier(b.to(device)).argmax(1).cpu() for b in images.split(500)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--configs", default="full")
    parser.add_argument("--steps", type=int, default=2800)
    args = parser.parse_args()
    device = get_device()
    train, test = load_domain_pair("train"), load_domain_pair("test")
    evaluator_x = load_digits_evaluator(device)
    seed_everything(0)
    classifier_y = DigitsEvaluator(in_channels=3)
    fit_classifier(classifier_y, train.x_b, train.y_b, test.x_b, test.y_b, torch.Generator().manual_seed(0),
                   epochs=8, progress=False)
    classifier_y = classifier_y.to(device).eval()
    light = test.x_b.mean((1, 2, 3)) > 0  # the stroke is darker than its patch
    print(f"device {device}, {torch.get_num_threads()} threads, {args.steps} steps; judges on real test digits: "
          f"X {(predict(evaluator_x, test.x_a.mean(1, keepdim=True), device) == test.y_a).float().mean():.1%}, "
          f"Y {(predict(classifier_y, test.x_b, device) == test.y_b).float().mean():.1%}")
    print(f"{'configuration':<14}{'seed':>5}{'X -> Y':>9}{'Y -> X':>9}{'light':>8}{'seconds':>9}")
    for name in args.configs.split(","):
        for seed in map(int, args.seeds.split(",")):
            seed_everything(seed)
            nets = (ResnetGenerator(width=16, n_blocks=3), ResnetGenerator(width=16, n_blocks=3),
                    PatchDiscriminator(width=16), PatchDiscriminator(width=16))
            run = train_cyclegan(*nets, train.x_a, train.x_b, steps=args.steps, batch_size=16, pool_size=50,
                                 seed=seed, device=device, progress=False, **CONFIGS[name])
            fake_y = sample_images(run.G, test.x_a, batch_size=250)   # G(x), (500, 3, 28, 28)
            fake_x = sample_images(run.F, test.x_b, batch_size=250)   # F(y), (500, 3, 28, 28)
            to_y = (predict(classifier_y, fake_y, device) == test.y_a).float().mean()
            kept_x = predict(evaluator_x, fake_x.mean(1, keepdim=True), device) == test.y_b
            print(f"{name:<14}{seed:>5}{to_y:>9.1%}{kept_x.float().mean():>9.1%}{kept_x[light].float().mean():>8.1%}"
                  f"{run.seconds:>9.0f}", flush=True)


if __name__ == "__main__":
    main()
