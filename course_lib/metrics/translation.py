"""Scoring translations between two domains (lesson 05): does a translation keep its class, and
does it look like its target domain?"""
from __future__ import annotations

import torch
from torch import nn

from .classifier import accuracy, predict
from .protocol import feature_distances


def to_grey(images: torch.Tensor) -> torch.Tensor:
    """Colour images ``(N, 3, H, W)`` -> grey ``(N, 1, H, W)`` (the mean over the channels)."""
    return images.mean(1, keepdim=True)


def colour_spread(images: torch.Tensor) -> float:
    """Standard deviation over images of each image's mean colour, averaged over the channels:
    real photo digits vary with their patch; a generator that paints one patch for every digit
    does not. ``images`` ``(N, 3, H, W)``."""
    return images.mean((2, 3)).std(0).mean().item()   # (N, 3) -> scalar


def score_translations(G: nn.Module, F: nn.Module, pair, judge_x: nn.Module, judge_y: nn.Module) -> dict[str, float]:
    """Class preservation and realism of G: X -> Y and F: Y -> X on a test ``DomainPair``.

    ``judge_x`` reads grey digits (one channel, e.g. the digits evaluator), ``judge_y`` images of
    domain Y. Returns the share of test digits whose translation keeps its class (``X->Y``,
    ``Y->X``, and ``light``: F on the photo digits whose patch is light), FID and KID of G(x)
    against the real Y test images in ``judge_y``'s features and of F(y) (grey) against the grey
    X test digits in ``judge_x``'s, and the colour spread of G(x)."""
    from ..training import sample_images

    fake_y = sample_images(G, pair.x_a)                         # G(x), (N, 3, H, W)
    fake_x = to_grey(sample_images(F, pair.x_b))                # F(y) in grey, (N, 1, H, W)
    kept_x = predict(judge_x, fake_x) == pair.y_b
    light = pair.x_b.mean((1, 2, 3)) > 0                        # a light patch: the stroke is darker
    realism_y = feature_distances(judge_y, pair.x_b, fake_y)
    realism_x = feature_distances(judge_x, to_grey(pair.x_a), fake_x)
    return {"X->Y": accuracy(judge_y, fake_y, pair.y_a), "Y->X": kept_x.float().mean().item(),
            "light": kept_x[light].float().mean().item(), "FID G(x)": realism_y["fid"],
            "KID G(x)": realism_y["kid"], "colours G(x)": colour_spread(fake_y),
            "FID F(y)": realism_x["fid"], "KID F(y)": realism_x["kid"]}
