"""Budgets, device choice, seeding and paths: the few settings every lesson shares.

One environment variable, ``COURSE_BUDGET``, chooses how much each notebook trains:

* ``smoke`` -- CI: about a minute per notebook, checks that every code path runs;
* ``cpu``   -- the laptop experience: results worth looking at within minutes on 2 cores;
* ``gpu``   -- full datasets where they can be downloaded, about 10 minutes per notebook.

Without the variable the budget is ``gpu`` when CUDA is available, else ``cpu``.
"""
from __future__ import annotations

import os
import platform
import random
import sys
import tempfile
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

BUDGETS = ("smoke", "cpu", "gpu")

# Minutes each notebook is expected to take at each budget (measured; see the README).
EXPECTED_MINUTES: dict[str, dict[str, float]] = {
    "00_welcome": {"smoke": 0.3, "cpu": 0.3, "gpu": 0.3},
    "01_generative_modeling": {"smoke": 1, "cpu": 2, "gpu": 2},
    "02_gan_from_scratch": {"smoke": 1, "cpu": 7, "gpu": 5},
    "03_dcgan": {"smoke": 1, "cpu": 13, "gpu": 10},
    "04_vae": {"smoke": 1, "cpu": 11, "gpu": 8},
    "05_cyclegan": {"smoke": 1, "cpu": 13, "gpu": 10},
    "06_evaluation": {"smoke": 1, "cpu": 1, "gpu": 2},
}

T = TypeVar("T")


def get_budget() -> str:
    """The budget from ``COURSE_BUDGET`` (``smoke``, ``cpu`` or ``gpu``); default ``gpu``
    when CUDA is available, else ``cpu``."""
    value = os.environ.get("COURSE_BUDGET", "").strip().lower()
    if not value:
        return "gpu" if torch.cuda.is_available() else "cpu"
    if value not in BUDGETS:
        raise ValueError(
            f"COURSE_BUDGET={os.environ['COURSE_BUDGET']!r} is not a budget of this course; "
            f"use one of {', '.join(BUDGETS)} (or unset it for the default: "
            f"'gpu' with CUDA, else 'cpu')."
        )
    return value


def by_budget(smoke: T, cpu: T, gpu: T, budget: str | None = None) -> T:
    """Pick the value for the current budget: ``epochs = by_budget(smoke=1, cpu=20, gpu=50)``."""
    budget = budget or get_budget()
    if budget not in BUDGETS:
        raise ValueError(f"unknown budget {budget!r}; use one of {', '.join(BUDGETS)}")
    return {"smoke": smoke, "cpu": cpu, "gpu": gpu}[budget]


def get_device() -> torch.device:
    """The best device available: CUDA, then Apple's MPS, then the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int = 0) -> torch.Generator:
    """Seed Python, NumPy and PyTorch so that a CPU run repeats bit for bit.

    Returns a ``torch.Generator`` seeded with ``seed`` for code that wants its own stream
    (data loaders, fixed latent batches).
    """
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # seeds CPU and every CUDA device
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    return torch.Generator().manual_seed(seed)


def repo_root() -> Path | None:
    """The repository root when ``course_lib`` runs from a checkout, else ``None``."""
    root = Path(__file__).resolve().parents[1]
    return root if (root / "pyproject.toml").is_file() else None


def data_dir() -> Path:
    """Where datasets land: ``COURSE_DATA`` if set, else ``data/`` of the repository
    (``./data`` when the package is installed without a checkout, as on Colab)."""
    if os.environ.get("COURSE_DATA"):
        path = Path(os.environ["COURSE_DATA"]).expanduser()
    else:
        path = (repo_root() or Path.cwd()) / "data"
    path.mkdir(parents=True, exist_ok=True)
    return path


def results_dir() -> Path:
    """Where the lessons write figures and checkpoints: ``COURSE_RESULTS`` if set, else
    ``results/`` of the repository (git-ignored)."""
    if os.environ.get("COURSE_RESULTS"):
        path = Path(os.environ["COURSE_RESULTS"]).expanduser()
    else:
        path = (repo_root() or Path.cwd()) / "results"
    path.mkdir(parents=True, exist_ok=True)
    return path


def setup_notebook(name: str, seed: int = 0) -> tuple[torch.device, str]:
    """First call of every notebook: seed, pick the device and budget, and print them with
    the minutes the notebook should take. Returns ``(device, budget)``."""
    if name not in EXPECTED_MINUTES:
        raise ValueError(f"unknown notebook {name!r}; known: {', '.join(EXPECTED_MINUTES)}")
    seed_everything(seed)
    device, budget = get_device(), get_budget()
    minutes = EXPECTED_MINUTES[name][budget]
    print(f"notebook : {name}")
    print(f"device   : {device}" + (f" ({torch.cuda.get_device_name(0)})" if device.type == "cuda" else ""))
    print(f"budget   : {budget}   (set COURSE_BUDGET=smoke|cpu|gpu to change)")
    print(f"expected : about {minutes:g} min at this budget"
          + (" on 2 CPU cores" if device.type == "cpu" else ""))
    print(f"python {platform.python_version()} | torch {torch.__version__} | seed {seed}")
    return device, budget


def versions() -> dict[str, str]:
    """Versions of the course's main dependencies (for the environment check)."""
    from importlib.metadata import PackageNotFoundError, version

    names = ["torch", "torchvision", "numpy", "scipy", "scikit-learn", "matplotlib",
             "ipywidgets", "tqdm", "mlxtend", "pytorch-fid"]
    out = {"python": sys.version.split()[0]}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def write_atomic(path: Path, content: str | bytes) -> None:
    """Write ``content`` (text or bytes) to ``path`` through a temporary file and a rename:
    a crash never leaves a half-written file behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content.encode("utf-8") if isinstance(content, str) else content)
        os.chmod(tmp, 0o644)  # mkstemp creates owner-only files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def checkpoint_path(name: str, budget: str | None = None) -> Path:
    """``results/checkpoints/<name>_<budget>.pt``: a lesson's model for the current budget.
    Training resumes from it when it exists; delete it to train afresh."""
    path = results_dir() / "checkpoints"
    path.mkdir(parents=True, exist_ok=True)
    return path / f"{name}_{budget or get_budget()}.pt"
