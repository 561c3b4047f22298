import math
import urllib.error

import numpy as np
import pytest
import torch

from course_lib.data import load_digits
from course_lib.metrics import (accuracy, classifier_two_sample_test, copying_verdict, data_copying_test, density_coverage, evaluate,
                                extract, feature_statistics, format_leaderboard, frechet_distance,
                                frechet_terms, inception_score, kernel_inception_distance, load_leaderboard,
                                mmd2_unbiased, precision_recall, record_to_leaderboard)
from course_lib.metrics import protocol as protocol_module
from course_lib.metrics import evaluator as evaluator_module
from course_lib.metrics.frechet import pytorch_fid_frechet_distance
from course_lib.metrics.scores import copying_by_cell, copying_null_sd, copying_reading

CPU = torch.device("cpu")


# ------------------------------------------------------------------------- Fréchet
def _covariances(kind: str, d: int = 64, seed: int = 0):
    rng = np.random.default_rng(seed)
    if kind == "random":
        a, b = rng.standard_normal((4 * d, d)), rng.standard_normal((4 * d, d)) * 1.3 + 0.2
    elif kind == "low_rank":  # fewer samples than dimensions: singular covariances
        a, b = rng.standard_normal((d // 2, d)), rng.standard_normal((d // 3, d))
    else:  # nearly singular: a few directions with almost no variance
        scale = np.ones(d)
        scale[: d // 4] = 1e-5
        a, b = rng.standard_normal((4 * d, d)) * scale, rng.standard_normal((4 * d, d)) * scale[::-1]
    return a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False)


@pytest.mark.parametrize("kind", ["random", "low_rank", "nearly_singular"])
def test_frechet_agrees_with_pytorch_fid(kind):
    mu1, s1, mu2, s2 = _covariances(kind)
    ours = frechet_distance(mu1, s1, mu2, s2)
    theirs = pytorch_fid_frechet_distance(mu1, s1, mu2, s2)
    assert abs(ours - theirs) <= 1e-6 * abs(theirs)


def test_frechet_closed_form_for_diagonal_gaussians():
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 4.0, 1.0])
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    expected = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()  # 5 + 5
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-12)
    mean_term, cov_term = frechet_terms(mu1, np.diag(a), mu2, np.diag(b))
    assert mean_term == pytest.approx(5.0) and cov_term == pytest.approx(5.0)


def test_frechet_of_identical_gaussians_is_zero():
    mu, sigma, _, _ = _covariances("random")
    assert abs(frechet_distance(mu, sigma, mu, sigma)) < 1e-9


def test_frechet_bad_inputs():
    mu, sigma, _, _ = _covariances("random", d=8)
    with pytest.raises(ValueError, match="different dimensions"):
        frechet_distance(mu, sigma, mu[:4], sigma[:4, :4])
    with pytest.raises(ValueError, match=r"\(D, D\)"):
        frechet_distance(mu, sigma[:4], mu, sigma)
    bad = sigma.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        frechet_distance(mu, bad, mu, sigma)
    with pytest.raises(ValueError, match="at least 2 samples"):
        feature_statistics(np.zeros((1, 8)))
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        feature_statistics(np.zeros(8))
    with pytest.warns(UserWarning, match="singular"):
        feature_statistics(np.random.default_rng(0).standard_normal((5, 8)))


def test_feature_statistics_match_numpy():
    f = np.random.default_rng(1).standard_normal((50, 3))
    mu, sigma = feature_statistics(torch.from_numpy(f).float())
    assert mu.dtype == np.float64 and sigma.shape == (3, 3)
    assert np.allclose(sigma, np.cov(f.astype(np.float32).astype(np.float64), rowvar=False))


# ------------------------------------------------------------------- Inception Score
def test_inception_score_hand_computed():
    p = np.array([[0.9, 0.1], [0.2, 0.8]])
    p_y = p.mean(0)
    expected = math.exp(np.mean((p * np.log(p / p_y)).sum(1)))
    score, std = inception_score(p, splits=1)
    assert score == pytest.approx(expected, rel=1e-9) and std == 0


def test_inception_score_bounds():
    one_hot = torch.eye(10).repeat(100, 1)  # confident and balanced: the ceiling
    assert inception_score(one_hot, splits=1)[0] == pytest.approx(10.0)
    same = torch.full((100, 10), 0.1)  # no information: the floor
    assert inception_score(same, splits=10)[0] == pytest.approx(1.0)


def test_inception_score_shuffles_class_ordered_samples():
    ordered = torch.eye(10).repeat_interleave(100, dim=0)  # 100 zeros, then 100 ones, ...
    score, _ = inception_score(ordered, splits=10)
    assert score > 8.5  # without shuffling every split would hold one class: IS = 1


def test_inception_score_bad_inputs():
    with pytest.raises(ValueError, match="5 samples for 10 splits"):
        inception_score(torch.eye(5), splits=10)
    with pytest.raises(ValueError, match="sum to 1"):
        inception_score(torch.ones(20, 10), splits=2)
    with pytest.raises(ValueError, match="NaN"):
        inception_score(torch.full((20, 2), float("nan")), splits=2)


# ---------------------------------------------------------------------------- KID
def test_mmd2_unbiased_against_loops():
    rng = np.random.default_rng(0)
    x, y = torch.from_numpy(rng.standard_normal((5, 3))), torch.from_numpy(rng.standard_normal((4, 3)) + 1)
    k = lambda a, b: (float(a @ b) / 3 + 1) ** 3
    xx = sum(k(x[i], x[j]) for i in range(5) for j in range(5) if i != j) / 20
    yy = sum(k(y[i], y[j]) for i in range(4) for j in range(4) if i != j) / 12
    xy = sum(k(x[i], y[j]) for i in range(5) for j in range(4)) / 20
    assert mmd2_unbiased(x, y) == pytest.approx(xx + yy - 2 * xy, rel=1e-10)


def test_kid_near_zero_for_same_distribution_and_positive_otherwise():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(600, 16, generator=g), torch.randn(600, 16, generator=g)
    same, same_std = kernel_inception_distance(a, b, subsets=20, subset_size=200)
    shifted, _ = kernel_inception_distance(a, b + 0.5, subsets=20, subset_size=200)
    assert abs(same) < 3 * same_std + 1e-3
    assert shifted > 10 * abs(same) and shifted > 0
    with pytest.raises(ValueError, match="dimensions differ"):
        kernel_inception_distance(a, b[:, :3])


# ----------------------------------------------------------------- precision / recall
def test_precision_recall_hand_computed():
    real = torch.tensor([[0.0], [1.0], [2.0], [3.0]])  # k=1 radii: 1 each
    fake = torch.tensor([[0.5], [10.0]])              # k=1 radii: 9.5 each
    precision, recall = precision_recall(real, fake, k=1)
    assert precision == 0.5  # 0.5 lies in the real manifold, 10 does not
    assert recall == 1.0     # the ball around 0.5 (radius 9.5) covers every real point


def test_precision_recall_of_identical_sets_and_of_collapse():
    g = torch.Generator().manual_seed(0)
    real = torch.randn(300, 8, generator=g)
    assert precision_recall(real, real.clone()) == (1.0, 1.0)
    collapsed = real[:1].repeat(300, 1) + 1e-3 * torch.randn(300, 8, generator=g)
    precision, recall = precision_recall(real, collapsed)
    assert precision == 1.0 and recall < 0.05  # realistic but no variety
    with pytest.raises(ValueError, match="more than 3 samples"):
        precision_recall(real[:3], real[:3])


def test_density_coverage_hand_computed():
    real = torch.tensor([[0.0], [1.0], [2.0], [3.0]])  # k=1 radii: 1 each
    fake = torch.tensor([[0.5], [1.0], [10.0]])
    density, coverage = density_coverage(real, fake, k=1)
    # 0.5 lies in the balls of 0 and 1; 1.0 in those of 0, 1 and 2; 10 in none: 5 / (1 · 3)
    assert density == pytest.approx(5 / 3) and coverage == pytest.approx(3 / 4)  # balls of 0, 1, 2 hold one
    with pytest.raises(ValueError, match="more than 5 samples"):
        density_coverage(real, fake)


def test_density_coverage_are_robust_to_one_outlier_where_recall_is_not():
    g = torch.Generator().manual_seed(0)
    real = torch.randn(500, 4, generator=g)
    collapsed = real[:1] + 0.01 * torch.randn(499, 4, generator=g)
    with_outlier = torch.cat([collapsed, torch.full((1, 4), 30.0)])    # one sample far away
    _, recall = precision_recall(real, with_outlier)
    _, coverage = density_coverage(real, with_outlier)
    assert recall > 0.9 and coverage < 0.05  # the outlier's huge ball "covers" everything for recall
    density, coverage = density_coverage(real, torch.randn(500, 4, generator=g))
    assert 0.8 < density < 1.2 and coverage > 0.9


def test_data_copying_flags_a_memoriser_and_not_fresh_samples():
    g = torch.Generator().manual_seed(0)
    train, test, fresh = (torch.randn(n, 6, generator=g) for n in (2000, 500, 500))
    copies = train[:500] + 1e-3 * torch.randn(500, 6, generator=g)
    far = fresh * 1.5
    assert data_copying_test(train, test, copies)["C_T"] < -5
    assert abs(data_copying_test(train, test, fresh)["C_T"]) < 3
    assert data_copying_test(train, test, far)["C_T"] > 3               # farther than unseen data: under-fitting
    result = data_copying_test(train, test, copies)
    assert result["distance_ratio"] < 0.1 and result["cells_used"] >= 5


def test_copying_verdict_reads_the_thresholds():
    assert copying_verdict(-5.0).startswith("DATA COPYING")
    assert copying_verdict(-3.0).startswith("no evidence") and copying_verdict(2.9).startswith("no evidence")
    assert copying_verdict(3.1).startswith("farther")
    assert copying_verdict(float("nan")).startswith("not tested")


def test_copying_null_sd_is_the_spread_of_c_t_when_samples_are_unseen_data():
    """C_T divided by the closed form over the cells used has standard deviation 1 when samples
    and held-out points come from one mixture (800 draws: a standard error of about 2.5 %). The
    mixture's cells are far from equal and its small components never hold 40 samples, so the
    formula with 1/sqrt(cells), or with the shares of all cells instead of the cells used, is off
    by far more than the 10 % tolerance: the test tells them apart."""
    from sklearn.cluster import KMeans

    rng = np.random.default_rng(0)
    centres = rng.normal(0, 10, (10, 8))
    weights = np.array([0.45, 0.25, 0.1] + [0.2 / 7] * 7)
    draw = lambda n: torch.as_tensor(centres[rng.choice(10, n, p=weights)] + rng.normal(0, 1, (n, 8)))
    train = draw(2000)
    partition = KMeans(n_clusters=10, n_init=4, random_state=0).fit(train.numpy())
    standardised, c_t, all_shares_sd = [], [], []
    for _ in range(800):
        held_out = draw(600)
        pieces = copying_by_cell(train, held_out, draw(600), partition, min_per_cell=40)
        c_t.append(pieces["C_T"])
        standardised.append(pieces["C_T"] / pieces["null_sd"])
        all_shares_sd.append(copying_null_sd(pieces["shares"].numpy()))
    assert int(pieces["used"].sum()) == 3                          # the three large components' cells
    assert np.std(standardised) == pytest.approx(1.0, rel=0.1)
    assert abs(np.mean(standardised)) < 4 / math.sqrt(800)
    assert not np.std(c_t) * math.sqrt(10) == pytest.approx(1.0, rel=0.1)           # 1/sqrt(cells) is wrong here
    assert not np.std(c_t) / np.mean(all_shares_sd) == pytest.approx(1.0, rel=0.1)  # so are all cells' shares
    assert copying_null_sd(np.full(10, 0.1)) == pytest.approx(1 / math.sqrt(10))


def test_copying_by_cell_is_the_data_copying_test_in_pieces():
    from sklearn.cluster import KMeans

    g = torch.Generator().manual_seed(0)
    train, test = torch.randn(600, 5, generator=g).double(), torch.randn(300, 5, generator=g).double()
    generated = torch.cat([train[:100], torch.randn(200, 5, generator=g).double()])       # a third of them copies
    partition = KMeans(n_clusters=6, n_init=4, random_state=0).fit(train.numpy())
    pieces = copying_by_cell(train, test, generated, partition)
    assert pieces["C_T"] == pytest.approx(data_copying_test(train, test, generated, partition=partition)["C_T"], abs=1e-12)
    assert pieces["shares"].sum().item() == pytest.approx(1.0)
    used = pieces["used"]
    assert pieces["null_sd"] == pytest.approx(copying_null_sd(pieces["shares"][used].numpy()))


def test_copying_reading_uses_the_null_band_and_the_copying_threshold():
    assert copying_reading(-5.0, 0.32).startswith("DATA COPYING")
    assert copying_reading(-1.0, 0.32).startswith("closer") and "not flagged" in copying_reading(-1.0, 0.32)
    assert copying_reading(0.5, 0.32).startswith("as far") and copying_reading(-0.6, 0.32).startswith("as far")
    assert copying_reading(2.2, 0.32).startswith("farther") and "+7 null s.d." in copying_reading(2.2, 0.32)
    assert "cannot rule out copying" in copying_reading(2.2, 0.32)
    assert copying_reading(2.6, 0.32, z_by_cell=[3.0, -3.2, 2.0, float("nan")]).endswith("cell 1 reads Z < -3: look at its samples")
    assert "cells 0, 1 read Z < -3" in copying_reading(2.6, 0.32, z_by_cell=[-3.1, -3.2])
    assert "read Z" not in copying_reading(2.6, 0.32, z_by_cell=[3.0, -2.9])
    assert copying_reading(float("nan"), 0.32).startswith("not tested")
    with pytest.raises(ValueError, match="null_sd"):
        copying_reading(1.0, 0.0)
    with pytest.raises(ValueError, match="cell_shares"):
        copying_null_sd([])


def test_mann_whitney_z_hand_computed():
    from course_lib.metrics.scores import mann_whitney_z

    a, b = torch.tensor([1.0, 2.0]), torch.tensor([1.5, 3.0, 4.0])
    u = 1  # pairs with a_i > b_j: only 2 > 1.5
    assert mann_whitney_z(a, b) == pytest.approx((u - 3) / math.sqrt(2 * 3 * 6 / 12))


# ------------------------------------------------------------ against torch-fidelity
def test_inception_score_kid_and_precision_recall_agree_with_torch_fidelity():
    pytest.importorskip("torch_fidelity")
    from torch_fidelity.metric_isc import isc_features_to_metric
    from torch_fidelity.metric_kid import kid_features_to_metric
    from torch_fidelity.metric_prc import calculate_precision_recall_full

    g = torch.Generator().manual_seed(0)
    logits = 3 * torch.randn(1000, 10, generator=g, dtype=torch.float64)
    order = torch.randperm(1000, generator=torch.Generator().manual_seed(0))  # our split order (seed 0)
    ours, ours_std = inception_score(logits.softmax(1), splits=10, seed=0)
    theirs = isc_features_to_metric(logits[order], splits=10, shuffle=False)
    assert ours == pytest.approx(theirs["inception_score_mean"], rel=1e-6)
    assert ours_std == pytest.approx(theirs["inception_score_std"], rel=1e-5)
    real, fake = torch.randn(300, 16, generator=g), torch.randn(300, 16, generator=g) * 1.2 + 0.1
    kid, _ = kernel_inception_distance(real, fake, subsets=1, subset_size=300)  # whole sets: no subset draw
    theirs = kid_features_to_metric(real.double(), fake.double(), kid_subsets=1, kid_subset_size=300, verbose=False)
    assert kid == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-6)
    precision, recall = precision_recall(real, fake, k=3)
    their_precision, their_recall = calculate_precision_recall_full(fake, real, neighborhood=3)
    assert precision == pytest.approx(their_precision, abs=1e-6) and recall == pytest.approx(their_recall, abs=1e-6)


# -------------------------------------------------------- classifier two-sample test
def test_two_sample_test_separates_shifted_sets_only():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(400, 10, generator=g), torch.randn(400, 10, generator=g)
    same = classifier_two_sample_test(a, b)
    different = classifier_two_sample_test(a, b + 1.0)
    assert 0.4 < same["accuracy"] < 0.6 and same["p_value"] > 0.01
    assert different["accuracy"] > 0.9 and different["p_value"] < 1e-6
    assert same["n_test"] == 400


# ------------------------------------------------------------------ digits evaluator
@pytest.fixture(scope="module")
def test_digits():
    return load_digits("test")


def test_evaluator_accuracy_at_least_97_percent(test_digits):
    x, y = test_digits
    model = evaluator_module.load_digits_evaluator()
    assert not model.training
    predictions = model.probabilities(x).argmax(1)
    assert float((predictions == y).float().mean()) >= 0.97


def test_evaluator_checksum_and_missing_file(tmp_path):
    weights = evaluator_module.WEIGHTS_PATH
    recorded = evaluator_module.checksum_path(weights).read_text().strip()
    assert evaluator_module.file_sha256(weights) == recorded and len(recorded) == 64
    tampered = tmp_path / "evaluator.pt"
    tampered.write_bytes(weights.read_bytes() + b"x")
    with pytest.raises(RuntimeError, match="no sha256 beside"):          # no checksum file at all
        evaluator_module.load_digits_evaluator(path=tampered)
    evaluator_module.checksum_path(tampered).write_text(recorded)       # the original's checksum
    with pytest.raises(RuntimeError, match="train_evaluator"):
        evaluator_module.load_digits_evaluator(path=tampered)
    with pytest.raises(FileNotFoundError, match="train_evaluator"):
        evaluator_module.load_digits_evaluator(path=tmp_path / "missing.pt")


def test_feature_networks_run_in_eval_mode(test_digits):
    x = test_digits[0][:50]
    before, _ = extract(x, device=CPU)
    protocol_module._network("digits", "cpu").train()  # someone switched the cached network
    after, _ = extract(x, device=CPU)
    assert torch.equal(before, after)


def test_evaluator_shapes(test_digits):
    model = evaluator_module.load_digits_evaluator()
    x = test_digits[0][:7]
    assert model.features(x).shape == (7, evaluator_module.FEATURE_DIM)
    p = model.probabilities(x)
    assert p.shape == (7, 10) and torch.allclose(p.sum(1), torch.ones(7))


# ------------------------------------------------------------------------- evaluate
def test_evaluate_real_digits_sit_at_the_floor(test_digits):
    x_test, _ = test_digits
    same = evaluate(x_test, device=CPU)
    assert abs(same.fid) < 1e-4 and same.precision == 1.0 and same.recall == 1.0
    x_train, _ = load_digits("train")
    train = evaluate(x_train[torch.randperm(4000, generator=torch.Generator().manual_seed(0))[:1000]],
                     device=CPU)
    assert train.n_samples == 1000 and train.protocol == "digits"
    assert train.fid < 10 and train.inception_score > 8.0 and train.inception_score <= 10
    noisy = evaluate((x_train[:1000] + 0.5 * torch.randn(1000, 1, 28, 28)).clamp(-1, 1), device=CPU)
    assert noisy.fid > 5 * train.fid
    assert "N=1000" in str(train) and "test digits" in str(train)


def test_evaluate_bad_inputs(test_digits):
    x, _ = test_digits
    with pytest.raises(ValueError, match=r"shape \(N, C, H, W\)"):
        evaluate(x[:, 0], device=CPU)
    with pytest.raises(ValueError, match="C in"):
        evaluate(x.repeat(1, 3, 1, 1), device=CPU)
    with pytest.raises(ValueError, match="28x28"):
        evaluate(torch.zeros(20, 1, 32, 32), device=CPU)
    with pytest.raises(ValueError, match="outside value_range"):
        evaluate(x * 255, device=CPU)
    with pytest.raises(ValueError, match="value_range=\\(0, 1\\)"):
        evaluate(x, value_range=(0, 1), device=CPU)
    with pytest.raises(ValueError, match="at least 10 samples"):
        evaluate(x[:5], device=CPU)
    with pytest.raises(ValueError, match="NaN"):
        evaluate(torch.full((20, 1, 28, 28), float("nan")), device=CPU)
    with pytest.raises(ValueError, match="unknown protocol"):
        evaluate(x, protocol="clip", device=CPU)
    with pytest.warns(UserWarning, match="uses 1000"):
        evaluate(x[:100], device=CPU)


def test_a_model_trained_on_mnist_is_compared_with_mnist_test_digits(monkeypatch):
    """At the gpu budget lesson 03 trains on MNIST's 60,000 training digits, of which the embedded
    digits are a part: its reference must be MNIST's official test split."""
    from course_lib import data
    from course_lib.metrics.protocol import reference_images

    g = torch.Generator().manual_seed(0)
    fake_sets = {"train": (torch.rand(3000, 1, 28, 28, generator=g) * 2 - 1, torch.arange(3000) % 10),
                 "test": (torch.rand(1200, 1, 28, 28, generator=g) * 2 - 1, torch.arange(1200) % 10)}
    asked = []

    def fake_torchvision(name, split="train", value_range=(-1, 1), download=True):
        asked.append((name, split))
        return fake_sets[split]

    monkeypatch.setattr(protocol_module, "load_torchvision", fake_torchvision)
    x_ref, x_train = reference_images("mnist")
    assert ("mnist", "test") in asked and ("mnist", "train") in asked
    assert x_ref.shape == (1000, 1, 28, 28) and torch.equal(x_train, fake_sets["train"][0])
    labels = fake_sets["test"][1]
    chosen = torch.cat([torch.nonzero(labels == c).squeeze(1)[:100] for c in range(10)])
    assert torch.equal(x_ref, fake_sets["test"][0][chosen])                         # 100 test digits per class
    assert not any(torch.equal(x_ref[:5], d[:5]) for d in (load_digits("test")[0], load_digits("train")[0]))
    result = evaluate(x_ref, device=CPU, reference="mnist")
    assert abs(result.fid) < 1e-6 and "MNIST test digits" in str(result)
    with pytest.raises(ValueError, match="unknown reference"):
        evaluate(x_ref, device=CPU, reference="cifar10")
    protocol_module._reference.cache_clear()  # forget the fake set


# ------------------------------------------------------------------ inception path
def test_inception_path_offline_with_random_weights():
    images = torch.rand(3, 1, 28, 28)  # grey, [0, 1]
    features, probabilities = extract(images, "inception", value_range=(0, 1), device=CPU,
                                      random_weights=True)
    assert features.shape == (3, 2048) and probabilities.shape == (3, 1008)
    assert torch.allclose(probabilities.sum(1), torch.ones(3, dtype=torch.float64))
    # grey is repeated to RGB: the same picture given as RGB gives the same features
    rgb, _ = extract(images.repeat(1, 3, 1, 1), "inception", value_range=(0, 1), device=CPU,
                     random_weights=True)
    assert torch.allclose(features, rgb)


def test_inception_weights_missing_names_the_file(monkeypatch, tmp_path):
    from course_lib.metrics import inception

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(RuntimeError, match=inception.WEIGHTS_NAME) as error:
        inception.InceptionNetwork()
    assert str(tmp_path) in str(error.value)


# ---------------------------------------------------------------------- leaderboard
def test_leaderboard_records_and_replaces(tmp_path, monkeypatch, test_digits):
    monkeypatch.setenv("COURSE_BUDGET", "smoke")
    monkeypatch.delenv("COURSE_SEED", raising=False)
    path = tmp_path / "leaderboard.csv"
    result = evaluate(test_digits[0], device=CPU)
    record_to_leaderboard("real test digits", "06", result, 0.0, kind="reference", path=path)
    record_to_leaderboard("real test digits", "06", result, 1.0, kind="reference", path=path)
    record_to_leaderboard("other", "06", result, 2.0, path=path)
    monkeypatch.setenv("COURSE_SEED", "1")
    record_to_leaderboard("other", "06", result, 3.0, path=path)  # another seed: a row of its own
    rows = load_leaderboard(path)
    assert [(r["model"], r["seed"]) for r in rows] == [("real test digits", "0"), ("other", "0"), ("other", "1")]
    assert rows[0]["train_seconds"] == "1.0" and rows[0]["budget"] == "smoke" and rows[0]["kind"] == "reference"
    assert rows[0]["n_samples"] == "1000" and rows[0]["reference"] == "1000 test digits"
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporary files
    assert "real test digits" in format_leaderboard(rows)
    assert "no models" in format_leaderboard([])
    with pytest.raises(ValueError, match="kind must be"):
        record_to_leaderboard("x", "06", result, 0.0, kind="great", path=path)


def test_leaderboard_never_ranks_rows_of_different_n_or_budget_together(tmp_path, monkeypatch, test_digits):
    path = tmp_path / "leaderboard.csv"
    with pytest.warns(UserWarning, match="uses 1000"):
        small = evaluate(test_digits[0][:500], device=CPU)
    full = evaluate(test_digits[0], device=CPU)
    for budget in ("cpu", "smoke"):
        monkeypatch.setenv("COURSE_BUDGET", budget)
        record_to_leaderboard("A", "03", full, 1.0, path=path)
        record_to_leaderboard("B (N=500)", "05", small, 1.0, kind="translation", path=path)
    text = format_leaderboard(load_leaderboard(path))
    headers = [line for line in text.splitlines() if line.startswith("--")]
    assert len(headers) == 4  # (N 1000, N 500) x (cpu, smoke): four separate tables
    assert all(block.count("\n") == 2 for block in text.split("\n\n"))  # header, columns, one row each
    path.write_text("model,fid\nold row,1.0\n")  # a file of an older course version
    assert load_leaderboard(path) == []


def test_leaderboard_never_ranks_kinds_together(tmp_path, monkeypatch, test_digits):
    """Conditional samples, a VAE's decoder means and unconditional samples answer different
    questions: each kind is a table of its own, and recording returns nothing to print."""
    monkeypatch.setenv("COURSE_BUDGET", "cpu")
    path = tmp_path / "leaderboard.csv"
    result = evaluate(test_digits[0], device=CPU)
    for model, kind in (("GAN", "unconditional"), ("cGAN", "conditional"), ("VAE", "decoder means")):
        assert record_to_leaderboard(model, "03", result, 1.0, kind=kind, path=path) is None
    blocks = format_leaderboard(load_leaderboard(path)).split("\n\n")
    assert len(blocks) == 3 and all(block.count("\n") == 2 for block in blocks)
    assert {b.split("\n")[0].split("kind ")[1].rstrip(" -"): b.split("\n")[2].split()[0] for b in blocks} == \
        {"unconditional": "GAN", "conditional": "cGAN", "decoder means": "VAE"}


def test_feature_distances_in_another_networks_features(test_digits):
    from course_lib.metrics import feature_distances

    judge = evaluator_module.load_digits_evaluator()
    x = test_digits[0]
    same = feature_distances(judge, x, x)
    assert abs(same["fid"]) < 1e-5 and abs(same["kid"]) < 0.03
    noisy = feature_distances(judge, x, (x + 0.5 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))).clamp(-1, 1))
    assert noisy["fid"] > 10 and noisy["kid"] > 0.1


# ------------------------------------------------------------- the second judge and verdicts
def test_second_judge_is_checked_and_reads_digits(test_digits):
    from course_lib.metrics import lenet

    weights = lenet.WEIGHTS_PATH
    assert evaluator_module.file_sha256(weights) == evaluator_module.checksum_path(weights).read_text().strip()
    model = lenet.load_lenet()
    assert accuracy(model, *test_digits) >= 0.96
    features, probabilities = extract(test_digits[0][:10], "lenet", device=CPU)
    assert features.shape == (10, 84) and torch.allclose(probabilities.sum(1), torch.ones(10, dtype=torch.float64))
    real = evaluate(load_digits("train")[0][::4], protocol="lenet", device=CPU)
    assert real.fid < 5 and real.protocol == "lenet"


def test_verdict_needs_every_reading_to_agree_beyond_its_noise():
    from course_lib.metrics import verdict

    better = {"FID digits": (10.0, 8.0, 0.5), "FID lenet": (5.0, 4.0, 0.2), "KID digits": (0.02, 0.01, 0.002)}
    assert verdict(better) == "helped"
    assert verdict({k: (b, a, se) for k, (a, b, se) in better.items()}) == "hurt"
    assert verdict({**better, "FID lenet": (5.0, 6.0, 0.2)}) == "undecided"       # the second judge disagrees
    assert verdict({**better, "KID digits": (0.02, 0.019, 0.002)}) == "undecided"  # within two standard errors
    assert verdict({**better, "KID digits": (0.02, 0.01, float("nan"))}) == "undecided"  # no noise estimate


def test_against_target_needs_a_margin_beyond_the_noise():
    from course_lib.metrics import against_target

    assert against_target(4.0, 0.3, 5.0) == "met"                       # lower is better
    assert against_target(4.6, 0.3, 5.0) == "within noise"
    assert against_target(5.7, 0.3, 5.0) == "MISSED"
    assert against_target(8.5, 0.1, 8.0, higher_is_better=True) == "met"
    assert against_target(7.5, 0.1, 8.0, higher_is_better=True) == "MISSED"
    assert against_target(float("nan"), 0.1, 8.0) == "within noise"


def test_score_noise_matches_the_protocol_and_shrinks_with_distance(test_digits):
    from course_lib.metrics import score_noise

    x = load_digits("train")[0]
    clean = x[torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[:1000]]
    noise = score_noise(clean, n_boot=10, seed=3, device=CPU)
    result = evaluate(clean, device=CPU)                                # the same figures, whatever the seed
    assert noise["FID digits"][0] == pytest.approx(result.fid, rel=1e-6)
    assert noise["IS digits"][0] == pytest.approx(result.inception_score, rel=1e-6)
    assert all(0 < se < value for value, se in noise.values())
    assert score_noise(clean, n_boot=10, seed=3, device=CPU) == noise   # seeded: the same resamples


def test_compare_samples_sees_noise_added_to_digits(test_digits):
    from course_lib.metrics import compare_samples, verdict

    x = load_digits("train")[0]
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    clean, other = x[order[:1000]], x[order[1000:2000]]
    noisy = (x[order[2000:3000]] + 0.5 * torch.randn(1000, 1, 28, 28, generator=torch.Generator().manual_seed(1))).clamp(-1, 1)
    with pytest.raises(ValueError, match="paired=False"):
        compare_samples(clean, other[:500], device=CPU)
    same = compare_samples(clean, other, paired=False, n_boot=20, device=CPU)
    assert set(same) == {"FID digits", "FID lenet", "KID digits"} and verdict(same) == "undecided"
    assert all(se > 0 for _, _, se in same.values())
    assert verdict(compare_samples(clean, noisy, n_boot=20, device=CPU)) == "hurt"
    assert verdict(compare_samples(noisy, clean, n_boot=20, device=CPU)) == "helped"
    fid = evaluate(clean, device=CPU).fid
    assert same["FID digits"][0] == pytest.approx(fid, rel=1e-6)  # the same FID as the protocol's
    from course_lib.metrics import mmd2_unbiased, reference_features
    kid = mmd2_unbiased(reference_features("digits", device=CPU), extract(clean, device=CPU)[0])
    assert same["KID digits"][0] == pytest.approx(kid, rel=1e-6)  # and the unbiased MMD² of the full sets
    paired = compare_samples(clean, (clean + 0.3).clamp(-1, 1), n_boot=20, device=CPU)
    unpaired = compare_samples(clean, (clean + 0.3).clamp(-1, 1), paired=False, n_boot=20, device=CPU)
    assert paired["FID lenet"][2] < unpaired["FID lenet"][2], "pairs drawn from the same latents share their noise"


def test_saved_weights_load_back_checked_against_their_sha256(tmp_path):
    model = torch.nn.Linear(3, 2)
    path = tmp_path / "w.pt"
    digest = evaluator_module.save_weights(model, path)
    assert evaluator_module.checksum_path(path).read_text() == digest == evaluator_module.file_sha256(path)
    state = evaluator_module.load_weights(path, "retrain it")
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    path.write_bytes(path.read_bytes() + b"x")                      # a changed file no longer matches its sha256
    with pytest.raises(RuntimeError, match="do not match their sha256"):
        evaluator_module.load_weights(path, "retrain it")


def test_binomial_se_is_the_spread_of_a_share():
    from course_lib.metrics.compare import binomial_se

    assert binomial_se(0.9, 500) == pytest.approx((0.9 * 0.1 / 500) ** 0.5)
    assert binomial_se(1.0, 10) == 0.0
    with pytest.raises(ValueError, match="share"):
        binomial_se(1.2, 10)


def test_seed_reading_holds_only_when_every_seed_agrees():
    from course_lib.metrics.compare import seed_reading

    assert seed_reading([(5.0, 1.0), (3.0, 1.0), (2.5, 1.0)]) == "higher on every one of 3 recorded seeds"
    assert seed_reading([(-5.0, 1.0)]) == "lower on the one of 1 recorded seed"
    assert seed_reading([(1.0, 1.0), (-1.5, 1.0)]) == "within noise on every one of 2 recorded seeds"
    assert seed_reading([(5.0, 1.0), (1.0, 1.0), (-3.0, 1.0)]) == "higher, within noise, lower on 3 seeds: no finding"
    assert seed_reading([(-5.0, 1.0)], words=("hurt", "helped", "undecided")) == "helped on the one of 1 recorded seed"
    assert seed_reading([]) == "not recorded on this code"
