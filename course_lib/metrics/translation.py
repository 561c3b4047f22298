"""Scoring translations between two domains (lesson 05): does a translation keep its class, and
does it look like its target domain?"""
from __future__ import annotations

import torch
from torch import nn

from ..config import seed_everything
from .classifier import accuracy, fit_classifier, predict
from .evaluator import DigitsEvaluator
from .protocol import EvaluationResult, evaluate_against, feature_distances


def to_grey(images: torch.Tensor) -> torch.Tensor:
    """Colour images ``(N, 3, H, W)`` -> grey ``(N, 1, H, W)`` (the mean over the channels)."""
    return images.mean(1, keepdim=True)


def colour_spread(images: torch.Tensor) -> float:
    """Standard deviation over images of each image's mean colour, averaged over the channels:
    real photo digits vary with their patch; a generator that paints one patch for every digit
    does not. ``images`` ``(N, 3, H, W)``."""
    return images.mean((2, 3)).std(0).mean().item()   # (N, 3) -> scalar


def domain_a_reference(pair) -> tuple[torch.Tensor, str]:
    """The real images that translations into X are scored against: the grey test digits of
    ``pair``'s domain A ``(N, 1, H, W)``, and their name. Domain B's photo digits are made from
    *other* test digits (the disjoint half B), so F(y) cannot hand these back; the digits
    protocol's 1,000 test digits hold B's sources, so ``evaluate(to_grey(F(y)))`` would."""
    return to_grey(pair.x_a), "grey test digits of domain A (disjoint from B's sources)"


def evaluate_f(F: nn.Module, pair, device: torch.device | None = None, seed: int = 0) -> EvaluationResult:
    """Every figure of :func:`~course_lib.metrics.evaluate` for F(y), the domain-B test images of
    ``pair`` translated to X and greyed, under the digits protocol against
    :func:`domain_a_reference` (not against the 1,000 test digits, which hold F(y)'s sources)."""
    from ..training import sample_images

    return evaluate_against(to_grey(sample_images(F, pair.x_b)), *domain_a_reference(pair), device=device, seed=seed)


def fit_domain_judge(train_pair, test_pair, epochs: int = 8, seed: int = 0, threads: int | None = 1,
                     device: torch.device | None = None, progress: bool = True) -> tuple[nn.Module, float]:
    """Lesson 05's judge of domain Y, the same wherever it is trained (the lesson, its benchmark):
    a 3-channel :class:`DigitsEvaluator` seeded with ``seed`` (not the course seed) and fitted
    for ``epochs`` to the photo digits of ``train_pair``'s domain B on ``threads`` CPU threads
    (the fit depends on the thread count; ``None``: the process's own). Returns the judge in eval
    mode on ``device`` and its accuracy on ``test_pair``'s domain B."""
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        seed_everything(seed)
        judge = DigitsEvaluator(in_channels=3)
        fit_classifier(judge, train_pair.x_b, train_pair.y_b, test_pair.x_b, test_pair.y_b,
                       torch.Generator().manual_seed(seed), epochs=epochs, seed=seed, progress=progress)
    finally:
        torch.set_num_threads(previous)
    judge = judge.to(device or torch.device("cpu")).eval()
    return judge, accuracy(judge, test_pair.x_b, test_pair.y_b)


def score_translations(G: nn.Module, F: nn.Module, pair, judge_x: nn.Module, judge_y: nn.Module) -> dict[str, float]:
    """Class preservation and realism of G: X -> Y and F: Y -> X on a test ``DomainPair``.

    ``judge_x`` reads grey digits (one channel, e.g. the digits evaluator), ``judge_y`` images of
    domain Y. Returns the share of test digits whose translation keeps its class (``X->Y``,
    ``Y->X``, and F on the photo digits whose patch is ``light`` or ``dark``); FID and KID of G(x)
    against the real Y test images in ``judge_y``'s features; the colour spread of G(x); and
    F(y) (grey) under the digits protocol against the grey X test digits
    (:func:`domain_a_reference`, disjoint from F(y)'s sources): FID, KID, precision, recall,
    density, coverage and C_T (:func:`~course_lib.metrics.protocol.evaluate_against`)."""
    from ..training import sample_images

    fake_y = sample_images(G, pair.x_a)                         # G(x), (N, 3, H, W)
    fake_x = to_grey(sample_images(F, pair.x_b))                # F(y) in grey, (N, 1, H, W)
    kept_x = predict(judge_x, fake_x) == pair.y_b
    light = pair.x_b.mean((1, 2, 3)) > 0                        # a light patch: the stroke is darker
    realism_y = feature_distances(judge_y, pair.x_b, fake_y)
    device = next(judge_x.parameters()).device
    realism_x = evaluate_against(fake_x, *domain_a_reference(pair), device=device)
    return {"X->Y": accuracy(judge_y, fake_y, pair.y_a), "Y->X": kept_x.float().mean().item(),
            "light": kept_x[light].float().mean().item(), "dark": kept_x[~light].float().mean().item(),
            "FID G(x)": realism_y["fid"], "KID G(x)": realism_y["kid"], "colours G(x)": colour_spread(fake_y),
            "FID F(y)": realism_x.fid, "KID F(y)": realism_x.kid, "precision F(y)": realism_x.precision,
            "recall F(y)": realism_x.recall, "density F(y)": realism_x.density,
            "coverage F(y)": realism_x.coverage, "C_T F(y)": realism_x.copying}
