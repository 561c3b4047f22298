"""Did a change help? A verdict that two judges and two distances must agree on.

One FID under one feature network is that network's opinion, and at N = 1,000 it moves by
chance too. :func:`compare_samples` reads the same two sample sets three ways -- FID under the
digits evaluator, FID under the second judge (LeNet-5, another architecture and training), and
KID under the digits evaluator -- each as a difference ``variant - base`` with its bootstrap
standard error over the samples. :func:`verdict` says ``helped`` or ``hurt`` only when all three
differences point the same way by more than ``z`` standard errors, and ``undecided`` otherwise.
What it cannot see is the spread over training seeds: a verdict on one seed is one seed's.
"""
from __future__ import annotations

import numpy as np
import torch

from ..config import get_device
from .frechet import feature_statistics, frechet_terms
from .protocol import _reference, extract
from .scores import polynomial_kernel

READINGS = ("FID digits", "FID lenet", "KID digits")


def _fid_to(mu_ref: np.ndarray, sigma_ref: np.ndarray):
    """features ``(N, D)`` -> their FID to the reference."""
    return lambda features: sum(frechet_terms(*feature_statistics(features), mu_ref, sigma_ref))


def _kid_terms(k_ss: torch.Tensor, k_rs: torch.Tensor, index: torch.Tensor) -> float:
    """The terms of the unbiased MMD² between the reference and the samples ``index`` picks
    that depend on the samples (the reference-reference term is the same for every set)."""
    n = len(index)
    k = k_ss[index][:, index]
    return float((k.sum() - k.diagonal().sum()) / (n * (n - 1)) - 2 * k_rs[:, index].mean())


@torch.no_grad()
def compare_samples(base: torch.Tensor, variant: torch.Tensor, reference: str = "digits",
                    n_boot: int = 50, seed: int = 0, device: torch.device | None = None) -> dict:
    """``{reading: (base value, variant value, standard error of the difference)}`` for the
    :data:`READINGS` of two sample sets ``(N, 1, 28, 28)`` in [-1, 1] against ``reference``.
    The standard error comes from ``n_boot`` bootstrap resamples of both sets."""
    device = device or get_device()
    generator = torch.Generator().manual_seed(seed)
    draws = [(torch.randint(len(base), (len(base),), generator=generator),
              torch.randint(len(variant), (len(variant),), generator=generator)) for _ in range(n_boot)]
    out = {}
    for protocol in ("digits", "lenet"):
        ref, (mu_ref, sigma_ref), _, _ = _reference(protocol, device.type, False, reference)
        f_base, f_variant = extract(base, protocol, device=device)[0], extract(variant, protocol, device=device)[0]
        fid = _fid_to(mu_ref, sigma_ref)
        values = (fid(f_base), fid(f_variant))
        boot = [fid(f_variant[v]) - fid(f_base[b]) for b, v in draws]
        out[f"FID {protocol}"] = (*values, float(np.std(boot)))
        if protocol == "digits":
            k = {name: (polynomial_kernel(f, f), polynomial_kernel(ref, f)) for name, f in
                 (("base", f_base), ("variant", f_variant))}
            whole = lambda name, f: _kid_terms(*k[name], torch.arange(len(f)))
            k_rr = polynomial_kernel(ref, ref)
            constant = float((k_rr.sum() - k_rr.diagonal().sum()) / (len(ref) * (len(ref) - 1)))
            boot = [_kid_terms(*k["variant"], v) - _kid_terms(*k["base"], b) for b, v in draws]
            out["KID digits"] = (constant + whole("base", f_base), constant + whole("variant", f_variant),
                                 float(np.std(boot)))
    return {name: out[name] for name in READINGS}


def verdict(readings: dict, z: float = 2.0) -> str:
    """``"helped"`` when every reading of :func:`compare_samples` is lower for the variant by
    more than ``z`` standard errors, ``"hurt"`` when every one is higher by as much, else
    ``"undecided"`` (the readings disagree, or a difference is within its noise)."""
    signs = []
    for base, variant, se in readings.values():
        difference = variant - base
        signs.append(0 if abs(difference) <= z * se else (1 if difference > 0 else -1))
    if all(s == -1 for s in signs):
        return "helped"
    if all(s == 1 for s in signs):
        return "hurt"
    return "undecided"
