r"""The Fréchet distance between two Gaussians, the heart of FID.

For :math:`X_1 \sim \mathcal N(\mu_1, \Sigma_1)` and :math:`X_2 \sim \mathcal N(\mu_2, \Sigma_2)`

.. math:: d^2 = \lVert\mu_1-\mu_2\rVert^2 + \operatorname{Tr}\big(\Sigma_1+\Sigma_2-2(\Sigma_1\Sigma_2)^{1/2}\big).

:math:`\Sigma_1\Sigma_2` is not symmetric, but it has the eigenvalues of the symmetric positive
semi-definite :math:`M=\Sigma_1^{1/2}\Sigma_2\Sigma_1^{1/2}` (:math:`AB` and :math:`BA` share their
eigenvalues, with :math:`A=\Sigma_1^{1/2}`, :math:`B=\Sigma_1^{1/2}\Sigma_2`; no inverse needed), so
:math:`\operatorname{Tr}(\Sigma_1\Sigma_2)^{1/2}=\sum_i\sqrt{\lambda_i(M)}`: two symmetric
eigen-decompositions in float64, no complex numbers and no ``scipy.linalg.sqrtm``.
"""
from __future__ import annotations

import warnings

import numpy as np
import torch


def _as_float64(x, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    x = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or Inf; check the features (did training diverge?)")
    return x


def feature_statistics(features) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``(D,)`` and covariance ``(D, D)`` (unbiased, float64) of features ``(N, D)``.

    Warns when ``N`` is not larger than ``D``: the covariance is then singular and FID is
    strongly biased (compare only figures computed with the same ``N``).
    """
    f = _as_float64(features, "features")
    if f.ndim != 2:
        raise ValueError(f"features must have shape (N, D), got {f.shape}")
    n, d = f.shape
    if n < 2:
        raise ValueError(f"a covariance needs at least 2 samples, got {n}")
    if n <= d:
        warnings.warn(f"only N={n} samples for D={d} feature dimensions: the covariance is "
                      f"singular and FID is strongly biased; use more samples than dimensions",
                      stacklevel=2)
    return f.mean(axis=0), np.cov(f, rowvar=False).reshape(d, d)


def _check_gaussian(mu: np.ndarray, sigma: np.ndarray, which: str) -> None:
    if mu.ndim != 1 or sigma.shape != (mu.shape[0], mu.shape[0]):
        raise ValueError(f"mu{which} must be (D,) and sigma{which} (D, D); "
                         f"got {mu.shape} and {sigma.shape}")


def _sqrt_psd(sigma: np.ndarray) -> np.ndarray:
    """Symmetric square root of a PSD matrix; tiny negative eigenvalues (round-off) -> 0."""
    w, v = np.linalg.eigh(sigma)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_terms(mu1, sigma1, mu2, sigma2) -> tuple[float, float]:
    """The two terms of the squared Fréchet distance: ``(mean_term, covariance_term)``,
    ``‖μ₁−μ₂‖²`` and ``Tr(Σ₁ + Σ₂ − 2 (Σ₁Σ₂)^½)``."""
    mu1, mu2 = _as_float64(mu1, "mu1"), _as_float64(mu2, "mu2")
    sigma1, sigma2 = _as_float64(sigma1, "sigma1"), _as_float64(sigma2, "sigma2")
    _check_gaussian(mu1, sigma1, "1")
    _check_gaussian(mu2, sigma2, "2")
    if mu1.shape != mu2.shape:
        raise ValueError(f"the two Gaussians have different dimensions: {mu1.shape[0]} and {mu2.shape[0]}")
    diff = mu1 - mu2
    sqrt_sigma1 = _sqrt_psd((sigma1 + sigma1.T) / 2)
    M = sqrt_sigma1 @ sigma2 @ sqrt_sigma1                  # (D, D), symmetric PSD
    eigenvalues = np.linalg.eigvalsh((M + M.T) / 2)         # of Σ₁^½ Σ₂ Σ₁^½ = those of Σ₁Σ₂
    trace_sqrt = np.sqrt(np.clip(eigenvalues, 0, None)).sum()  # Tr (Σ₁Σ₂)^½
    mean_term = float(diff @ diff)
    covariance_term = float(np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt)
    return mean_term, covariance_term


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """Squared Fréchet distance between ``N(mu1, sigma1)`` and ``N(mu2, sigma2)`` (float64).

    ``mu``: ``(D,)``; ``sigma``: ``(D, D)`` symmetric PSD. This is what "FID" reports.
    """
    mean_term, covariance_term = frechet_terms(mu1, sigma1, mu2, sigma2)
    return mean_term + covariance_term


def pytorch_fid_frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """pytorch-fid's ``calculate_frechet_distance`` on the same inputs, for comparison.

    Raises ``RuntimeError`` saying why when pytorch-fid cannot run here (pytorch-fid 0.3.0
    calls ``scipy.linalg.sqrtm(..., disp=False)``, which SciPy 1.18 removes).
    """
    try:
        import scipy
        from pytorch_fid.fid_score import calculate_frechet_distance

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # sqrtm's `disp` argument
            return float(calculate_frechet_distance(mu1, sigma1, mu2, sigma2))
    except TypeError as exc:
        raise RuntimeError(f"pytorch-fid cannot run against SciPy {scipy.__version__} ({exc}); "
                           f"install the dev extra (`pip install -e '.[dev]'`), which keeps "
                           f"a SciPy it supports") from exc
