"""Budgets, device choice, seeding and paths: the few settings every lesson shares.

One environment variable, ``COURSE_BUDGET``, chooses how much each notebook trains:

* ``smoke`` -- CI: about a minute per notebook, checks that every code path runs;
* ``cpu``   -- the laptop experience: results worth looking at within minutes on 2 cores;
* ``gpu``   -- full datasets where they can be downloaded, about 10 minutes per notebook.

Without the variable the budget is ``gpu`` when CUDA is available, else ``cpu``. A second one,
``COURSE_SEED`` (default 0), is the seed every notebook derives all of its seeds from.
"""
from __future__ import annotations

import os
import platform
import random
import sys
import time
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

BUDGETS = ("smoke", "cpu", "gpu")

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


def get_seed() -> int:
    """The course seed from ``COURSE_SEED`` (default 0). Every seed of a notebook derives from it,
    so ``COURSE_SEED=1`` repeats the whole lesson with other random numbers."""
    value = os.environ.get("COURSE_SEED", "").strip()
    if not value:
        return 0
    if not value.isdigit():
        raise ValueError(f"COURSE_SEED={value!r} is not a non-negative integer; use e.g. COURSE_SEED=1 "
                         f"(or unset it for the default, 0)")
    return int(value)


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


def _folder(variable: str, name: str) -> Path:
    """``$variable`` if set, else ``name/`` of the repository (of the working folder without one)."""
    if os.environ.get(variable):
        return Path(os.environ[variable]).expanduser()
    return (repo_root() or Path.cwd()) / name


def data_dir() -> Path:
    """Where datasets land: ``COURSE_DATA`` if set, else ``data/`` of the repository
    (``./data`` when the package is installed without a checkout, as on Colab)."""
    path = _folder("COURSE_DATA", "data")
    path.mkdir(parents=True, exist_ok=True)
    return path


def results_dir() -> Path:
    """Where the lessons write figures and checkpoints: ``COURSE_RESULTS`` if set, else
    ``results/`` of the repository (git-ignored)."""
    path = _folder("COURSE_RESULTS", "results")
    path.mkdir(parents=True, exist_ok=True)
    return path


def shown_path(path: str | Path) -> str:
    """``path`` as the course prints it: under the results or data folder as ``results/...``
    or ``data/...`` (``$COURSE_RESULTS/...``, ``$COURSE_DATA/...`` when those are set), else
    relative to the checkout; a saved notebook then shows no path of the machine that ran it."""
    path = Path(path).expanduser().resolve()
    for variable, name in (("COURSE_RESULTS", "results"), ("COURSE_DATA", "data")):
        folder = _folder(variable, name).resolve()
        if path.is_relative_to(folder):
            prefix = f"${variable}" if os.environ.get(variable) else name
            return Path(prefix, path.relative_to(folder)).as_posix()
    root = repo_root()
    return path.relative_to(root).as_posix() if root and path.is_relative_to(root) else str(path)


_NOTEBOOK_START: dict[str, tuple[float, float]] = {}  # name -> (start time, expected minutes)


def setup_notebook(name: str, minutes: dict[str, float]) -> tuple[torch.device, str, int]:
    """First call of every notebook: seed everything with ``COURSE_SEED``, pick the device and
    budget, and print them with the minutes the notebook should take at this budget
    (``minutes={"smoke": 1, "cpu": 12, "gpu": 10}``, measured on 2 CPU cores and one GPU).
    Returns ``(device, budget, seed)``; derive every other seed of the notebook from ``seed``."""
    missing = [b for b in BUDGETS if b not in minutes]
    if missing:
        raise ValueError(f"minutes must give the expected minutes for every budget; missing {missing}")
    if os.environ.get("COURSE_TRACE") == "1":  # the runner records which code produced the figures
        from .figures import start_trace
        start_trace()
    seed = get_seed()
    seed_everything(seed)
    device, budget = get_device(), get_budget()
    _NOTEBOOK_START[name] = (time.perf_counter(), float(minutes[budget]))
    print(f"notebook : {name}")
    print(f"device   : {device}" + (f" ({torch.cuda.get_device_name(0)})" if device.type == "cuda" else ""))
    print(f"budget   : {budget}   (set COURSE_BUDGET=smoke|cpu|gpu to change)")
    print(f"expected : about {minutes[budget]:g} min at this budget"
          + (" on 2 CPU cores" if device.type == "cpu" else ""))
    print(f"seed     : {seed}   (set COURSE_SEED to repeat the lesson with other random numbers)")
    print(f"python {platform.python_version()} | torch {torch.__version__}")
    return device, budget, seed


def minutes_since_setup(name: str) -> tuple[float, float] | None:
    """``(minutes since setup_notebook(name) ran in this process, minutes it expected)``, or
    None if it did not run."""
    if name not in _NOTEBOOK_START:
        return None
    start, expected = _NOTEBOOK_START[name]
    return (time.perf_counter() - start) / 60, expected


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


def checkpoint_path(name: str, budget: str | None = None, seed: int | None = None) -> Path:
    """``results/checkpoints/<name>_<budget>_seed<seed>.pt``: a lesson's model for the current
    budget and ``COURSE_SEED``. Training resumes from it when it exists; delete it to train afresh."""
    path = results_dir() / "checkpoints"
    path.mkdir(parents=True, exist_ok=True)
    seed = get_seed() if seed is None else seed
    return path / f"{name}_{budget or get_budget()}_seed{seed}.pt"
