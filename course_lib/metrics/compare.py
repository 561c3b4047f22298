"""Did a change help? A verdict that two judges and two distances must agree on.

One FID under one feature network is that network's opinion, and at N = 1,000 it moves by
chance too. :func:`compare_samples` reads the same two sample sets three ways -- FID under the
digits evaluator, FID under the second judge (LeNet-5, another architecture and training), and
KID under the digits evaluator -- each as a difference ``variant - base`` with its bootstrap
standard error: each resample redraws the generated samples (keeping pairs together when both
sets come from the same latents) and the reference digits, whose own sampling noise both figures
share. :func:`verdict` says ``helped`` or ``hurt`` only when all three differences point the same
way by more than ``z`` standard errors, and ``undecided`` otherwise. What it cannot see is the
spread over training seeds: a verdict on one seed is one seed's.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..config import get_device
from .frechet import feature_statistics, frechet_terms
from .protocol import extract, reference_features
from .scores import inception_score, polynomial_kernel

READINGS = ("FID digits", "FID lenet", "KID digits")


def _fid(features: torch.Tensor, reference_statistics) -> float:
    return sum(frechet_terms(*feature_statistics(features), *reference_statistics))


def _kid_terms(k_ss: torch.Tensor, k_rs: torch.Tensor, r: torch.Tensor, s: torch.Tensor) -> float:
    """The unbiased MMD² between reference rows ``r`` and sample rows ``s`` (kernel matrices
    ``k_ss`` of the samples, ``k_rs`` reference x samples), without its reference-reference term,
    which two sets compared against the same reference rows share."""
    n = len(s)
    k = k_ss[s][:, s]
    return float((k.sum() - k.diagonal().sum()) / (n * (n - 1)) - 2 * k_rs[r][:, s].mean())


@torch.no_grad()
def compare_samples(base: torch.Tensor, variant: torch.Tensor, reference: str = "digits", paired: bool = True,
                    n_boot: int = 50, seed: int = 0, device: torch.device | None = None) -> dict:
    """``{reading: (base value, variant value, standard error of the difference)}`` for the
    :data:`READINGS` of two sample sets ``(N, 1, 28, 28)`` in [-1, 1] against ``reference``.
    ``paired``: sample i of both sets comes from the same latent, so a resample keeps the pair."""
    if paired and len(base) != len(variant):
        raise ValueError(f"paired sets need the same size, got {len(base)} and {len(variant)}; "
                         f"pass paired=False for sets drawn independently")
    device = device or get_device()
    n_ref = len(reference_features("digits", reference, device))
    generator = torch.Generator().manual_seed(seed)
    draws = []
    for _ in range(n_boot):
        r = torch.randint(n_ref, (n_ref,), generator=generator)
        b = torch.randint(len(base), (len(base),), generator=generator)
        draws.append((r, b, b if paired else torch.randint(len(variant), (len(variant),), generator=generator)))
    out = {}
    for protocol in ("digits", "lenet"):
        ref = reference_features(protocol, reference, device)
        f_base, f_variant = extract(base, protocol, device=device)[0], extract(variant, protocol, device=device)[0]
        whole = feature_statistics(ref)
        boot = []
        for r, b, v in draws:
            statistics = feature_statistics(ref[r])
            boot.append(_fid(f_variant[v], statistics) - _fid(f_base[b], statistics))
        out[f"FID {protocol}"] = (_fid(f_base, whole), _fid(f_variant, whole), float(np.std(boot)))
        if protocol == "digits":
            k_rr = polynomial_kernel(ref, ref)
            ref_term = float((k_rr.sum() - k_rr.diagonal().sum()) / (n_ref * (n_ref - 1)))
            k = {name: (polynomial_kernel(f, f), polynomial_kernel(ref, f)) for name, f in
                 (("base", f_base), ("variant", f_variant))}
            everyone = lambda name, n: _kid_terms(*k[name], torch.arange(n_ref), torch.arange(n))
            boot = [_kid_terms(*k["variant"], r, v) - _kid_terms(*k["base"], r, b) for r, b, v in draws]
            out["KID digits"] = (ref_term + everyone("base", len(base)), ref_term + everyone("variant", len(variant)),
                                 float(np.std(boot)))
    return {name: out[name] for name in READINGS}


def verdict(readings: dict, z: float = 2.0) -> str:
    """``"helped"`` when every reading of :func:`compare_samples` is lower for the variant by
    more than ``z`` standard errors, ``"hurt"`` when every one is higher by as much, else
    ``"undecided"`` (the readings disagree, a difference is within its noise, or a figure is
    not finite)."""
    signs = []
    for base, variant, se in readings.values():
        difference = variant - base
        if not (math.isfinite(difference) and math.isfinite(se)):
            return "undecided"
        signs.append(0 if abs(difference) <= z * se else (1 if difference > 0 else -1))
    if all(s == -1 for s in signs):
        return "helped"
    if all(s == 1 for s in signs):
        return "hurt"
    return "undecided"


@torch.no_grad()
def score_noise(samples: torch.Tensor, reference: str = "digits", n_boot: int = 50, seed: int = 0,
                device: torch.device | None = None) -> dict:
    """``{"FID digits": (value, standard error), "IS digits": (value, standard error)}`` of one
    sample set ``(N, 1, 28, 28)`` in [-1, 1]: each standard error is the spread over ``n_boot``
    bootstrap resamples of the samples (and, for FID, of the reference digits), drawn with
    ``seed``. It says how far the figure moves by the chance of which samples were drawn, not by
    the training seed. The values are :func:`~course_lib.metrics.evaluate`'s (IS with its split
    order, seed 0)."""
    device = device or get_device()
    ref = reference_features("digits", reference, device)
    features, probabilities = extract(samples, "digits", device=device)
    generator = torch.Generator().manual_seed(seed)
    fids, scores = [], []
    for _ in range(n_boot):
        r = torch.randint(len(ref), (len(ref),), generator=generator)
        s = torch.randint(len(features), (len(features),), generator=generator)
        fids.append(_fid(features[s], feature_statistics(ref[r])))
        scores.append(inception_score(probabilities[s], splits=10)[0])
    return {"FID digits": (_fid(features, feature_statistics(ref)), float(np.std(fids))),
            "IS digits": (inception_score(probabilities, splits=10)[0], float(np.std(scores)))}


def binomial_se(share: float, n: int) -> float:
    """Standard error √(p(1 − p)/n) of a share ``p`` measured on ``n`` independent items (e.g. the
    share of 500 test digits a translation keeps): the ``se`` that :func:`against_target` reads."""
    if n < 1 or not 0.0 <= share <= 1.0:
        raise ValueError(f"binomial_se needs a share in [0, 1] and n >= 1; got {share}, {n}")
    return math.sqrt(share * (1 - share) / n)


def seed_reading(deltas: list[tuple[float, float]], z: float = 2.0,
                 words: tuple[str, str, str] = ("higher", "lower", "within noise")) -> str:
    """How one change reads over seeds. ``deltas``: one ``(difference, standard error)`` a seed,
    the change minus its base. Each seed reads ``words[0]`` when the difference exceeds ``z``
    standard errors, ``words[1]`` when it falls below ``-z`` of them, else ``words[2]``; the
    reading holds only when every seed agrees, and says "no finding" otherwise. Example:
    ``"higher on every one of 3 recorded seeds"``."""
    if not deltas:
        return "not recorded on this code"
    readings = [words[0] if d > z * se else words[1] if d < -z * se else words[2] for d, se in deltas]
    if len(set(readings)) == 1:
        return f"{readings[0]} on {'every one' if len(readings) > 1 else 'the one'} of {len(readings)} recorded " \
               f"seed{'s' if len(readings) > 1 else ''}"
    return ", ".join(readings) + f" on {len(readings)} seeds: no finding"


def against_target(value: float, se: float, threshold: float, higher_is_better: bool = False, z: float = 2.0) -> str:
    """``"met"`` when ``value`` is on the right side of ``threshold`` by more than ``z`` standard
    errors ``se``, ``"MISSED"`` when it is on the wrong side by as much, else ``"within noise"``
    (also when a figure is not finite)."""
    if not (math.isfinite(value) and math.isfinite(se)):
        return "within noise"
    margin = (value - threshold) if higher_is_better else (threshold - value)
    if margin > z * se:
        return "met"
    if margin < -z * se:
        return "MISSED"
    return "within noise"
