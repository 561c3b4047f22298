"""One call to score generated images: ``evaluate(samples, protocol="digits")``.

Protocols (never mix their numbers in one table without saying which is which):

* ``digits`` -- the course's own DigitsEvaluator (128-d features, 10 classes); samples are
  ``(N, 1, 28, 28)``.
* ``lenet`` -- the course's second judge, LeNet-5 (84-d features, 10 classes), another
  architecture trained by other code on the same digits (:mod:`.lenet`): a verdict that
  the two protocols disagree on is undecided.
* ``inception`` -- pytorch-fid's InceptionV3 (2048-d pool features, 1008 logits), images
  scaled to [0, 1], grey repeated to 3 channels and resized to 299x299 as pytorch-fid does.

References (what generated samples are compared with), by the data a model trained on:

* ``digits`` -- the 1,000 embedded ``test`` digits (the 4,000 ``train`` digits are the
  training set that the data-copying test measures against);
* ``mnist`` -- 1,000 digits of MNIST's official *test* split, 100 per class (the embedded
  digits are all MNIST *training* digits, so a model trained on the full MNIST must not be
  compared with them); its training set is MNIST's 60,000 training digits.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache

import torch

from ..config import get_device
from ..data import load_digits, load_torchvision
from .evaluator import load_digits_evaluator
from .frechet import feature_statistics, frechet_terms
from .scores import (data_copying_test, density_coverage, inception_score, kernel_inception_distance,
                     precision_recall)

PROTOCOLS = ("digits", "lenet", "inception")
DIGIT_PROTOCOLS = ("digits", "lenet")  # 28x28 grey digits in, judges trained by the course
REFERENCES = ("digits", "mnist")
PROTOCOL_SAMPLES = 1000  # the protocol compares 1,000 samples with the 1,000 test digits


@dataclass
class EvaluationResult:
    """Figures of one evaluation; ``str()`` prints them with their N and reference."""
    protocol: str
    n_samples: int
    reference: str
    fid: float
    fid_mean_term: float
    fid_covariance_term: float
    inception_score: float
    inception_score_std: float
    kid: float
    kid_std: float
    precision: float
    recall: float
    density: float
    coverage: float
    copying: float

    def __str__(self) -> str:
        return (f"[{self.protocol} protocol, N={self.n_samples} vs {self.reference}] "
                f"FID {self.fid:.2f} (mean {self.fid_mean_term:.2f} + cov {self.fid_covariance_term:.2f}) | "
                f"IS {self.inception_score:.2f} ± {self.inception_score_std:.2f} | "
                f"KID {self.kid:.4f} ± {self.kid_std:.4f} | "
                f"precision {self.precision:.3f} | recall {self.recall:.3f} | "
                f"density {self.density:.3f} | coverage {self.coverage:.3f} | copying C_T {self.copying:+.1f}")


def check_images(images: torch.Tensor, value_range=(-1, 1), channels=(1, 3),
                 size: tuple[int, int] | None = None, min_samples: int = 2) -> None:
    """Raise a clear ``ValueError`` unless ``images`` is a finite ``(N, C, H, W)`` tensor with
    values in ``value_range``."""
    if not isinstance(images, torch.Tensor):
        raise ValueError(f"expected a torch.Tensor of images, got {type(images).__name__}")
    if images.ndim != 4 or images.shape[1] not in channels:
        raise ValueError(f"expected images of shape (N, C, H, W) with C in {channels}, "
                         f"got {tuple(images.shape)}")
    if size is not None and tuple(images.shape[2:]) != tuple(size):
        raise ValueError(f"expected images of size {size[0]}x{size[1]}, got {tuple(images.shape[2:])}")
    if len(images) < min_samples:
        raise ValueError(f"need at least {min_samples} samples, got {len(images)}")
    if not torch.isfinite(images).all():
        raise ValueError("images contain NaN or Inf (did training diverge?)")
    lo, hi = value_range
    if images.min() < lo - 1e-3 or images.max() > hi + 1e-3:
        raise ValueError(f"image values lie in [{images.min():.3g}, {images.max():.3g}], outside "
                         f"value_range=({lo}, {hi}); pass the range your model produces "
                         f"(tanh: (-1, 1), sigmoid: (0, 1)) or clamp the samples")


def _to_unit(images: torch.Tensor, value_range) -> torch.Tensor:
    lo, hi = value_range
    return ((images.float() - lo) / (hi - lo)).clamp(0, 1)


@lru_cache(maxsize=2)
def _network(protocol: str, device_type: str, random_weights: bool = False):
    if protocol == "digits":
        return load_digits_evaluator(device_type)
    if protocol == "lenet":
        from .lenet import load_lenet

        return load_lenet(device_type)
    from .inception import InceptionNetwork

    return InceptionNetwork(random_weights=random_weights).to(device_type)


@torch.no_grad()
def extract(images: torch.Tensor, protocol: str = "digits", value_range=(-1, 1),
            device: torch.device | None = None, batch_size: int = 200,
            random_weights: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Features ``(N, D)`` and class probabilities ``(N, C)`` of images under a protocol."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; use one of {', '.join(PROTOCOLS)}")
    device = device or get_device()
    if protocol in DIGIT_PROTOCOLS:
        check_images(images, value_range, channels=(1,), size=(28, 28))
    else:
        check_images(images, value_range, channels=(1, 3))
    network = _network(protocol, device.type, random_weights)
    network.eval()
    features, probabilities = [], []
    for batch in images.split(batch_size):
        x = _to_unit(batch, value_range).to(device)          # (B, C, H, W) in [0, 1]
        if protocol in DIGIT_PROTOCOLS:
            x = x * 2 - 1                                    # the course's judges read [-1, 1]
        elif x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)                         # grey -> RGB
        f, p = network.embed(x)                              # (B, D), (B, C)
        features.append(f.double().cpu())
        probabilities.append(p.double().cpu())
    return torch.cat(features), torch.cat(probabilities)


@torch.no_grad()
def feature_distances(network: torch.nn.Module, real: torch.Tensor, fake: torch.Tensor, seed: int = 0) -> dict:
    """FID and KID between two sets of images in the features of any classifier with an
    ``embed`` method (a :class:`DigitsEvaluator`, e.g. a judge of another domain): how
    realistic ``fake`` looks next to ``real``, images ``(N, C, H, W)`` in [-1, 1] each.
    Returns ``{"fid", "kid", "kid_std"}``; compare only figures of the same network and N."""
    network.eval()
    device = next(network.parameters()).device
    embed = lambda x: torch.cat([network.embed(b.to(device))[0].double().cpu() for b in x.split(500)])
    f_real, f_fake = embed(real), embed(fake)
    fid = frechet_terms(*feature_statistics(f_fake), *feature_statistics(f_real))
    subset = min(500, len(f_real) // 2, len(f_fake) // 2)  # subsets smaller than the sets, so their spread means something
    kid, kid_std = kernel_inception_distance(f_real, f_fake, subset_size=subset, seed=seed)
    return {"fid": sum(fid), "kid": kid, "kid_std": kid_std}


def reference_images(reference: str = "digits") -> tuple[torch.Tensor, torch.Tensor]:
    """The images a reference compares with ``(1000, 1, 28, 28)`` in [-1, 1], and the training
    images of the same data ``(N, 1, 28, 28)`` (for the data-copying test)."""
    if reference not in REFERENCES:
        raise ValueError(f"unknown reference {reference!r}; use one of {', '.join(REFERENCES)}")
    if reference == "digits":
        return load_digits("test")[0], load_digits("train")[0]
    x_test, y_test = load_torchvision("mnist", "test")            # MNIST's official test split
    first = torch.cat([torch.nonzero(y_test == c).squeeze(1)[:PROTOCOL_SAMPLES // 10] for c in range(10)])
    return x_test[first], load_torchvision("mnist", "train")[0]


@lru_cache(maxsize=4)
def _reference(protocol: str, device_type: str, random_weights: bool, reference: str = "digits"):
    x_test, x_train = reference_images(reference)
    device = torch.device(device_type)
    from sklearn.cluster import KMeans

    features, _ = extract(x_test, protocol, device=device, random_weights=random_weights)
    train_features, _ = extract(x_train, protocol, device=device, random_weights=random_weights)
    cells = KMeans(n_clusters=10, n_init=10, random_state=0).fit(train_features.numpy())  # for the copying test
    return features, feature_statistics(features), train_features, cells


def reference_features(protocol: str = "digits", reference: str = "digits",
                       device: torch.device | None = None) -> torch.Tensor:
    """Features ``(1000, D)`` of the images of ``reference`` under ``protocol`` (computed once
    per process)."""
    device = device or get_device()
    return _reference(protocol, device.type, False, reference)[0]


def evaluate(samples: torch.Tensor, protocol: str = "digits", value_range=(-1, 1),
             device: torch.device | None = None, seed: int = 0, random_weights: bool = False,
             reference: str = "digits") -> EvaluationResult:
    """FID, IS, KID, precision/recall, density/coverage and the data-copying statistic C_T of
    generated ``samples`` against the 1,000 images of ``reference`` (see the module's text).

    ``samples``: ``(N, 1, 28, 28)`` for the digits protocol (``(N, 1 or 3, H, W)`` for
    inception) with values in ``value_range``. The protocol uses N = 1,000; FID is biased
    upwards at smaller N, so compare only figures with the same N (a warning says so).
    ``random_weights`` (inception only) is for offline tests of the code path.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; use one of {', '.join(PROTOCOLS)}")
    device = device or get_device()
    if isinstance(samples, torch.Tensor) and len(samples) < 10:
        raise ValueError(f"evaluate needs at least 10 samples (the Inception Score uses 10 "
                         f"splits); got {len(samples)}. The protocol uses {PROTOCOL_SAMPLES}.")
    features, probabilities = extract(samples, protocol, value_range, device,
                                      random_weights=random_weights)
    n = len(features)
    if n != PROTOCOL_SAMPLES:
        warnings.warn(f"evaluating {n} samples; the {protocol} protocol uses {PROTOCOL_SAMPLES}. "
                      f"FID depends on N (biased upwards for small N): compare only figures "
                      f"computed with the same N", stacklevel=2)
    ref_features, (mu_ref, sigma_ref), train_features, cells = _reference(protocol, device.type, random_weights,
                                                                          reference)
    mean_term, covariance_term = frechet_terms(*feature_statistics(features), mu_ref, sigma_ref)
    is_mean, is_std = inception_score(probabilities, splits=10, seed=seed)
    kid_mean, kid_std = kernel_inception_distance(ref_features, features, seed=seed)
    precision, recall = precision_recall(ref_features, features, k=3)
    density, coverage = density_coverage(ref_features, features, k=5)
    copying = data_copying_test(train_features, ref_features, features, partition=cells)["C_T"]
    name = {"digits": "test digits", "mnist": "MNIST test digits"}[reference]
    return EvaluationResult(protocol, n, f"{len(ref_features)} {name}", mean_term + covariance_term, mean_term,
                            covariance_term, is_mean, is_std, kid_mean, kid_std, precision, recall,
                            density, coverage, copying)


@torch.no_grad()
def evaluate_against(samples: torch.Tensor, real: torch.Tensor, name: str, protocol: str = "digits",
                     value_range=(-1, 1), device: torch.device | None = None, seed: int = 0) -> EvaluationResult:
    """:func:`evaluate`'s figures of ``samples`` against the given ``real`` images instead of a
    protocol reference, under the ``digits`` or ``lenet`` judge; ``name`` says what ``real``
    is, and the result's ``reference`` reads ``"<len(real)> <name>"`` (so a leaderboard groups it
    apart from rows scored against the 1,000 test digits).

    For samples made *from* some of the reference's own images -- lesson 05's F(y) translates
    photo digits whose sources are half of the 1,000 test digits, so it can hand the reference
    back -- score them against real images that exclude those sources (e.g. the grey test
    digits of the other domain). Both sets are ``(N, 1, 28, 28)`` in ``value_range``. FID and
    KID depend on both N; KID uses subsets of half the smaller set (so its spread means
    something). C_T measures distances to the 4,000 training digits, in the digits
    reference's cells, with ``real`` as the held-out set."""
    if protocol not in DIGIT_PROTOCOLS:
        raise ValueError(f"evaluate_against scores 28x28 digits: use one of {', '.join(DIGIT_PROTOCOLS)}")
    device = device or get_device()
    if len(samples) < 10:
        raise ValueError(f"evaluate_against needs at least 10 samples (the Inception Score uses 10 splits); "
                         f"got {len(samples)}")
    features, probabilities = extract(samples, protocol, value_range, device)
    real_features, _ = extract(real, protocol, value_range, device)
    _, _, train_features, cells = _reference(protocol, device.type, False, "digits")
    mean_term, covariance_term = frechet_terms(*feature_statistics(features), *feature_statistics(real_features))
    is_mean, is_std = inception_score(probabilities, splits=10, seed=seed)
    subset = min(500, len(real_features) // 2, len(features) // 2)
    kid_mean, kid_std = kernel_inception_distance(real_features, features, subset_size=subset, seed=seed)
    precision, recall = precision_recall(real_features, features, k=3)
    density, coverage = density_coverage(real_features, features, k=5)
    copying = data_copying_test(train_features, real_features, features, partition=cells)["C_T"]
    return EvaluationResult(protocol, len(features), f"{len(real_features)} {name}", mean_term + covariance_term,
                            mean_term, covariance_term, is_mean, is_std, kid_mean, kid_std, precision, recall,
                            density, coverage, copying)
