"""Inception Score, KID, precision/recall and the classifier two-sample test, from scratch.

Each takes what a feature network produced (class probabilities or features) as tensors or
arrays, so the same code serves the digits evaluator and Inception.
"""
from __future__ import annotations

import math

import numpy as np
import torch


def _as_tensor(x, name: str) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x).detach().cpu()
    x = x.to(torch.float64)
    if x.ndim != 2:
        raise ValueError(f"{name} must have shape (N, D), got {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or Inf; check the samples (did training diverge?)")
    return x


# ------------------------------------------------------------------- Inception Score
def inception_score(probabilities, splits: int = 10, seed: int = 0) -> tuple[float, float]:
    r"""IS = exp E_x KL(p(y|x) ‖ p(y)), mean and std over ``splits`` disjoint splits.

    ``probabilities``: ``(N, C)`` rows of p(y|x). The marginal p(y) is the mean row of each
    split, as in torch-fidelity and the original code. Samples are shuffled (with ``seed``)
    before splitting, because class-ordered samples would give each split a skewed p(y).
    The score lies in [1, C].
    """
    p = _as_tensor(probabilities, "probabilities")
    n, classes = p.shape
    if (p < -1e-6).any() or not torch.allclose(p.sum(1), torch.ones(n, dtype=p.dtype), atol=1e-4):
        raise ValueError("probabilities must be non-negative rows that sum to 1 (apply softmax)")
    if splits < 1 or n < splits:
        raise ValueError(f"the Inception Score needs at least one sample per split: "
                         f"got {n} samples for {splits} splits")
    p = p.clamp_min(0)[torch.randperm(n, generator=torch.Generator().manual_seed(seed))]
    scores = []
    for part in p.chunk(splits):
        p_y = part.mean(0, keepdim=True)                                   # (1, C)
        kl = (part * (torch.log(part + 1e-12) - torch.log(p_y + 1e-12))).sum(1)  # (n_k,)
        scores.append(float(kl.mean().exp()))
    scores = np.array(scores)
    return float(scores.mean()), float(scores.std())


# --------------------------------------------------------------------------- KID
def polynomial_kernel(x: torch.Tensor, y: torch.Tensor, degree: int = 3) -> torch.Tensor:
    """k(x, y) = (x·y / D + 1)^degree for rows of ``x`` (N, D) and ``y`` (M, D): (N, M)."""
    return (x @ y.T / x.shape[1] + 1) ** degree


def mmd2_unbiased(x: torch.Tensor, y: torch.Tensor, degree: int = 3) -> float:
    r"""Unbiased MMD² with the cubic polynomial kernel:
    Σ_{i≠j} k(x_i,x_j)/(m(m−1)) + Σ_{i≠j} k(y_i,y_j)/(n(n−1)) − 2 Σ_{i,j} k(x_i,y_j)/(mn)."""
    m, n = len(x), len(y)
    k_xx, k_yy, k_xy = polynomial_kernel(x, x, degree), polynomial_kernel(y, y, degree), polynomial_kernel(x, y, degree)
    return float((k_xx.sum() - k_xx.diagonal().sum()) / (m * (m - 1))
                 + (k_yy.sum() - k_yy.diagonal().sum()) / (n * (n - 1))
                 - 2 * k_xy.mean())


def kernel_inception_distance(features_real, features_fake, subsets: int = 50,
                              subset_size: int = 500, seed: int = 0) -> tuple[float, float]:
    """KID (Bińkowski et al., 2018): unbiased MMD² between features, mean ± std over random
    subsets of ``subset_size`` drawn without replacement. Unbiased, so ~0 for equal
    distributions (it can be slightly negative)."""
    real, fake = _as_tensor(features_real, "features_real"), _as_tensor(features_fake, "features_fake")
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"feature dimensions differ: {real.shape[1]} and {fake.shape[1]}")
    size = min(subset_size, len(real), len(fake))
    if size < 2:
        raise ValueError("KID needs at least 2 samples in each set")
    generator = torch.Generator().manual_seed(seed)
    values = np.array([
        mmd2_unbiased(real[torch.randperm(len(real), generator=generator)[:size]],
                      fake[torch.randperm(len(fake), generator=generator)[:size]])
        for _ in range(subsets)])
    return float(values.mean()), float(values.std())


# ------------------------------------------------------------------ precision / recall
def _knn_radius(x: torch.Tensor, k: int) -> torch.Tensor:
    """Distance from each row of ``x`` to its k-th nearest other row: (N,)."""
    distances = torch.cdist(x, x)                       # (N, N), 0 on the diagonal
    return distances.kthvalue(k + 1, dim=1).values      # +1 skips the point itself


def _inside_manifold(points: torch.Tensor, support: torch.Tensor, radius: torch.Tensor) -> torch.Tensor:
    """Whether each point lies inside at least one ball (support_j, radius_j): (N,) bool."""
    return (torch.cdist(points, support) <= radius[None, :]).any(dim=1)


def precision_recall(features_real, features_fake, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al., 2019).

    Each set's manifold is the union of balls around its points reaching their k-th nearest
    neighbour. Precision: share of fake samples inside the real manifold (are the samples
    realistic?). Recall: share of real samples inside the fake manifold (is the variety covered?).
    """
    real, fake = _as_tensor(features_real, "features_real"), _as_tensor(features_fake, "features_fake")
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"feature dimensions differ: {real.shape[1]} and {fake.shape[1]}")
    if min(len(real), len(fake)) <= k:
        raise ValueError(f"precision/recall with k={k} needs more than {k} samples in each set")
    precision = _inside_manifold(fake, real, _knn_radius(real, k)).double().mean()
    recall = _inside_manifold(real, fake, _knn_radius(fake, k)).double().mean()
    return float(precision), float(recall)


def density_coverage(features_real, features_fake, k: int = 5) -> tuple[float, float]:
    """Density and coverage (Naeem et al., 2020), the outlier-robust cousins of precision and recall.

    With B(x_i) the ball around real point x_i reaching its k-th nearest real neighbour:
    density = (1/(kM)) Σ_j Σ_i 1[y_j ∈ B(x_i)] (how many real balls each fake sample sits in,
    1 on average for real data, can exceed 1); coverage = (1/N) Σ_i 1[some y_j ∈ B(x_i)]
    (the share of real balls that hold a fake sample). Only *real* balls are used, so one
    outlying fake sample cannot inflate either.
    """
    real, fake = _as_tensor(features_real, "features_real"), _as_tensor(features_fake, "features_fake")
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"feature dimensions differ: {real.shape[1]} and {fake.shape[1]}")
    if min(len(real), len(fake)) <= k:
        raise ValueError(f"density/coverage with k={k} needs more than {k} samples in each set")
    inside = torch.cdist(fake, real) <= _knn_radius(real, k)[None, :]   # (M, N): y_j in B(x_i)
    density = inside.double().sum() / (k * len(fake))
    coverage = inside.any(dim=0).double().mean()
    return float(density), float(coverage)


# ------------------------------------------------------------------ data copying
def nearest_distances(points, reference, chunk: int = 2000) -> torch.Tensor:
    """Distance from each row of ``points`` ``(N, D)`` to its nearest row of ``reference``: ``(N,)``."""
    points, reference = _as_tensor(points, "points"), _as_tensor(reference, "reference")
    return torch.cat([torch.cdist(part, reference).min(dim=1).values for part in points.split(chunk)])


def probability_greater(a: torch.Tensor, b: torch.Tensor) -> float:
    r"""P(A > B) (+½ P(A = B)) for a random value of ``a`` (m,) and one of ``b`` (n,):
    the Mann–Whitney U of :func:`mann_whitney_z` divided by mn, the area under the ROC curve of
    telling ``a`` from ``b`` by value; ½ when they do not differ."""
    return ((a[:, None] > b[None, :]).double().mean() + 0.5 * (a[:, None] == b[None, :]).double().mean()).item()


def mann_whitney_z(a: torch.Tensor, b: torch.Tensor) -> float:
    r"""Z-scored Mann–Whitney statistic of samples ``a`` (m,) against ``b`` (n,):
    U = Σ_{i,j} 1[a_i > b_j] (+½ for ties), Z = (U − mn/2) / √(mn(m+n+1)/12).
    Negative when the values of ``a`` tend to be smaller than those of ``b``."""
    m, n = len(a), len(b)
    u = ((a[:, None] > b[None, :]).double().sum() + 0.5 * (a[:, None] == b[None, :]).double().sum()).item()
    return (u - m * n / 2) / math.sqrt(m * n * (m + n + 1) / 12)


def data_copying_test(features_train, features_test, features_generated, cells: int = 10,
                      min_per_cell: int = 20, seed: int = 0, partition=None) -> dict[str, float]:
    r"""Does a generator copy its training set? The C_T statistic of Meehan et al. (2020).

    For every sample, the distance to its nearest *training* point. A model that generalises
    places its samples as far from the training set as held-out (test) data lie; a model that
    copies places them closer. The feature space is cut into ``cells`` by k-means on the
    training features; in each cell holding at least ``min_per_cell`` generated samples the
    generated distances are compared with the test distances by a Z-scored Mann–Whitney test,
    and C_T is the average of those Z scores weighted by each cell's share of test points.
    C_T ≈ 0: no difference; C_T ≪ 0 (say below −3): data copying; C_T ≫ 0: samples farther
    from the training data than real held-out data (under-fitting, or simply worse samples).
    Also returns ``distance_ratio``, the median distance of generated samples to the training
    set divided by that of the test samples (below 1: closer than real unseen data).
    ``partition``: a k-means already fitted to the training features (to reuse across calls).
    """
    from sklearn.cluster import KMeans

    train = _as_tensor(features_train, "features_train")
    test, generated = _as_tensor(features_test, "features_test"), _as_tensor(features_generated, "features_generated")
    kmeans = partition or KMeans(n_clusters=cells, n_init=10, random_state=seed).fit(train.numpy())
    cells = kmeans.n_clusters
    cell_test = torch.as_tensor(kmeans.predict(test.numpy()))
    cell_generated = torch.as_tensor(kmeans.predict(generated.numpy()))
    d_test, d_generated = nearest_distances(test, train), nearest_distances(generated, train)
    scores, weights = [], []
    for c in range(cells):
        in_test, in_generated = cell_test == c, cell_generated == c
        if in_generated.sum() >= min_per_cell and in_test.sum() > 0:
            scores.append(mann_whitney_z(d_generated[in_generated], d_test[in_test]))
            weights.append(float(in_test.double().mean()))
    c_t = float(np.dot(scores, weights) / np.sum(weights)) if scores else float("nan")
    return {"C_T": c_t, "cells_used": len(scores),
            "distance_ratio": float(d_generated.median() / d_test.median())}


def copying_verdict(c_t: float) -> str:
    """Meehan et al.'s reading of the data-copying statistic C_T (see :func:`data_copying_test`),
    with thresholds of ±3: below −3 copying, above +3 farther than unseen data, between no evidence."""
    if math.isnan(c_t):
        return "not tested (no cell held enough samples)"
    if c_t < -3:
        return "DATA COPYING: closer to the training digits than unseen digits are (memorisation)"
    if c_t > 3:
        return "farther from the training digits than unseen digits (under-fitting, or worse samples)"
    return "no evidence of copying: as far from the training digits as unseen digits are"


def copying_null_sd(cell_shares) -> float:
    r"""The standard deviation of C_T when generated and held-out data come from one distribution.

    Given the cells used and their counts, each cell's Mann–Whitney U has mean m n / 2 and variance
    m n (m + n + 1) / 12 exactly under that null hypothesis, and cells hold different points, so
    C_T = Σ π_c Z_c / Σ π_c has standard deviation √(Σ π_c²) / Σ π_c over **the cells used**,
    whatever the N: 1/√10 ≈ 0.32 for ten cells of equal share. ``cell_shares``: π_c of the cells
    used, ``(cells,)`` (:func:`copying_by_cell` returns them).
    """
    shares = np.asarray(cell_shares, dtype=np.float64)
    if shares.ndim != 1 or len(shares) == 0 or (shares < 0).any() or shares.sum() <= 0:
        raise ValueError(f"cell_shares must be a non-empty 1-D array of non-negative shares; got {shares!r}")
    return float(np.sqrt((shares ** 2).sum()) / shares.sum())


def copying_by_cell(features_train, features_test, features_generated, partition,
                    min_per_cell: int = 20) -> dict[str, object]:
    """The pieces of :func:`data_copying_test` for one fitted ``partition`` (a k-means of the
    training features): per cell its Mann–Whitney ``Z`` (``(cells,)``, NaN where fewer than
    ``min_per_cell`` samples fall), the held-out points' ``shares`` π_c, which cells are ``used``,
    and ``C_T`` with its ``null_sd`` over the cells used (:func:`copying_null_sd`)."""
    train = _as_tensor(features_train, "features_train")
    test, generated = _as_tensor(features_test, "features_test"), _as_tensor(features_generated, "features_generated")
    cells = partition.n_clusters
    cell_test = torch.as_tensor(partition.predict(test.numpy()))
    cell_generated = torch.as_tensor(partition.predict(generated.numpy()))
    d_test, d_generated = nearest_distances(test, train), nearest_distances(generated, train)
    z = torch.full((cells,), float("nan"), dtype=torch.float64)
    shares = torch.stack([(cell_test == c).double().mean() for c in range(cells)])           # (cells,)
    for c in range(cells):
        in_test, in_generated = cell_test == c, cell_generated == c
        if in_generated.sum() >= min_per_cell and in_test.sum() > 0:
            z[c] = mann_whitney_z(d_generated[in_generated], d_test[in_test])
    used = ~z.isnan()
    if not used.any():
        return {"Z": z, "shares": shares, "used": used, "C_T": float("nan"), "null_sd": float("nan")}
    c_t = float((shares[used] * z[used]).sum() / shares[used].sum())
    return {"Z": z, "shares": shares, "used": used, "C_T": c_t, "null_sd": copying_null_sd(shares[used].numpy())}


def copying_reading(c_t: float, null_sd: float, z_by_cell=None, z: float = 2.0) -> str:
    """C_T read against its null band (two null standard deviations, :func:`copying_null_sd`) and
    the course's copying threshold of −3. C_T is an average over cells: a value that is not
    flagged does not rule out copying in some cells, and ``z_by_cell`` (the per-cell Z of
    :func:`copying_by_cell`), when given, names the cells below −3."""
    if math.isnan(c_t):
        return "not tested (no cell held enough samples)"
    if not null_sd > 0:
        raise ValueError(f"null_sd must be positive; got {null_sd}")
    band = z * null_sd
    if c_t < -3:
        reading = "DATA COPYING: closer to the training digits than unseen digits are (below -3)"
    elif c_t < -band:
        reading = (f"closer to the training digits than unseen digits ({c_t / null_sd:+.0f} null s.d.), "
                   f"not flagged (above -3): look at the samples' nearest training digits")
    elif c_t > band:
        reading = (f"farther on average than unseen digits ({c_t / null_sd:+.0f} null s.d.): worse samples, "
                   f"under-fitting or perturbed copies; an average cannot rule out copying in some cells")
    else:
        reading = f"as far on average as unseen digits (within the null band ±{band:.2f})"
    if z_by_cell is not None and c_t >= -3:
        copying_cells = [c for c, value in enumerate(torch.as_tensor(z_by_cell).tolist()) if value < -3]
        if copying_cells:
            several = len(copying_cells) > 1
            reading += (f"; cell{'s' if several else ''} {', '.join(map(str, copying_cells))} read{'' if several else 's'} "
                        f"Z < -3: look at {'their' if several else 'its'} samples")
    return reading


# --------------------------------------------------------- classifier two-sample test
def classifier_two_sample_test(features_real, features_fake, seed: int = 0) -> dict[str, float]:
    """Can a classifier tell real from generated? (Lopez-Paz & Oquab, 2017.)

    A logistic regression on standardised features is fit on half of each set and tested on
    the other half. Held-out accuracy near 0.5 means the sets are indistinguishable to it;
    ``p_value`` is the chance of an accuracy at least this high if they were (binomial test).
    Returns ``{"accuracy", "p_value", "n_test"}``.
    """
    from scipy.stats import binomtest
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    real = _as_tensor(features_real, "features_real").numpy()
    fake = _as_tensor(features_fake, "features_fake").numpy()
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"feature dimensions differ: {real.shape[1]} and {fake.shape[1]}")
    if min(len(real), len(fake)) < 4:
        raise ValueError("the two-sample test needs at least 4 samples in each set")
    rng = np.random.default_rng(seed)
    x = np.concatenate([real, fake])
    y = np.concatenate([np.ones(len(real)), np.zeros(len(fake))])
    test = np.zeros(len(x), bool)
    for label in (0, 1):  # stratified halves
        index = rng.permutation(np.flatnonzero(y == label))
        test[index[: len(index) // 2]] = True
    scaler = StandardScaler().fit(x[~test])
    classifier = LogisticRegression(max_iter=2000).fit(scaler.transform(x[~test]), y[~test])
    correct = int((classifier.predict(scaler.transform(x[test])) == y[test]).sum())
    n_test = int(test.sum())
    p_value = binomtest(correct, n_test, 0.5, alternative="greater").pvalue
    return {"accuracy": correct / n_test, "p_value": float(p_value), "n_test": n_test}
