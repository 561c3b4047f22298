"""Pictures: image grids, 2-D toy scatter plots and training curves."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from torchvision.utils import make_grid

from .data import Toy


def image_grid(images: torch.Tensor, nrow: int = 10, value_range: tuple[float, float] | None = None,
               padding: int = 2) -> np.ndarray:
    """Tile images ``(B, C, H, W)`` into one ``(H', W', C)`` array in [0, 1] for ``imshow``.

    ``value_range`` is the range of ``images``; by default (-1, 1) when any value is negative,
    else (0, 1).
    """
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"expected images of shape (B, 1 or 3, H, W), got {tuple(images.shape)}")
    images = images.detach().float().cpu()
    if value_range is None:
        value_range = (-1.0, 1.0) if images.min() < 0 else (0.0, 1.0)
    lo, hi = value_range
    images = ((images - lo) / (hi - lo)).clamp(0, 1)
    grid = make_grid(images, nrow=nrow, padding=padding, pad_value=1.0)  # (3, H', W')
    return grid.permute(1, 2, 0).numpy()


def show_images(images: torch.Tensor, nrow: int = 10, title: str | None = None, ax=None,
                value_range: tuple[float, float] | None = None):
    """Show a grid of images; returns the matplotlib axes."""
    if ax is None:
        cols = min(nrow, len(images))
        rows = int(np.ceil(len(images) / nrow))
        _, ax = plt.subplots(figsize=(0.6 * cols + 0.4, 0.6 * rows + 0.6))
    ax.imshow(image_grid(images, nrow, value_range), interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def plot_toy(points: torch.Tensor, toy: Toy | None = None, ax=None, title: str | None = None,
             lim: float = 4.5, **scatter):
    """Scatter 2-D points ``(n, 2)``; with ``toy``, mark its mode centres with crosses."""
    if ax is None:
        _, ax = plt.subplots(figsize=(3.2, 3.2))
    points = points.detach().cpu()
    ax.scatter(points[:, 0], points[:, 1], s=scatter.pop("s", 2), alpha=scatter.pop("alpha", 0.5),
               **scatter)
    if toy is not None:
        ax.scatter(toy.centers[:, 0], toy.centers[:, 1], marker="x", color="red", s=12, linewidths=0.8, zorder=3)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    return ax


@torch.no_grad()
def discriminator_surface(D, lim: float = 4.0, points: int = 121) -> torch.Tensor:
    """D(x) = sigmoid(logit) on a ``points`` x ``points`` grid over [-lim, lim]², indexed
    ``[x, y]`` (for ``imshow`` transpose it): where a 2-D discriminator says "real"."""
    ticks = torch.linspace(-lim, lim, points)
    grid = torch.cartesian_prod(ticks, ticks)                     # (points², 2), x-major
    device = next(D.parameters()).device
    return torch.sigmoid(D(grid.to(device))).cpu().view(points, points)


def toy_frames(frames: list, steps=None, n: int = 1000, surface_steps=()):
    """A ``train_gan`` callback that appends ``(step, samples of n fixed latents, D's surface)``
    to ``frames`` at the ``steps`` it runs on (every one when None); the surface only at
    ``surface_steps`` (else None)."""
    from .training import sample_images

    def record(run):
        if steps is not None and run.steps not in steps:
            return
        z = torch.randn(n, run.G.latent_dim, generator=torch.Generator().manual_seed(0))
        surface = discriminator_surface(run.D) if run.steps in surface_steps else None
        frames.append((run.steps, sample_images(run.G, z), surface))
    return record


def show_toy_frames(frames: list, toy: Toy, title: str, lim: float = 3.0, surface_lim: float = 4.0) -> None:
    """One panel per frame of :func:`toy_frames`: D's surface (red: "real", blue: "fake") under the
    generator's samples (black) and the toy's mode centres (red crosses)."""
    fig, axes = plt.subplots(1, len(frames), figsize=(3.2 * len(frames), 3.2))
    for ax, (step, samples, surface) in zip(np.atleast_1d(axes), frames):
        if surface is not None:
            ax.imshow(surface.T, origin="lower", extent=(-surface_lim, surface_lim) * 2, vmin=0, vmax=1,
                      cmap="RdBu_r", alpha=0.6)
        plot_toy(samples, toy, ax=ax, lim=lim, title=f"step {step}", color="black", s=1)
    fig.suptitle(title)
    plt.tight_layout()
    plt.show()


def smooth(values, window: int = 25) -> np.ndarray:
    """Moving average of a curve over ``window`` points (the curve itself when shorter)."""
    values = np.asarray(values, dtype=float)
    if len(values) < window:
        return values
    return np.convolve(values, np.ones(window) / window, mode="valid")


def show_source(obj) -> None:
    """Display the source code of a ``course_lib`` function or class in a notebook, so the
    learner reads the real helper rather than a copy."""
    import inspect

    from IPython.display import Markdown, display

    display(Markdown(f"```python\n{inspect.getsource(obj).rstrip()}\n```"))


def interpolate(z0: torch.Tensor, z1: torch.Tensor, steps: int = 8, spherical: bool = False) -> torch.Tensor:
    r"""Points between latents ``z0`` and ``z1`` ``(D,)``: ``(steps, D)``.

    Linear: (1 − t) z0 + t z1. Spherical (slerp, Shoemake 1985; White 2016 for GANs):
    sin((1 − t)Ω)/sin Ω · z0 + sin(tΩ)/sin Ω · z1 with cos Ω = ẑ0·ẑ1 -- it keeps the norm
    constant only when ‖z0‖ = ‖z1‖; otherwise the norm changes along the path, which still stays
    near the shell Gaussian latents concentrate at (≈ √D), where linear paths cut through the middle.
    """
    t = torch.linspace(0, 1, steps, dtype=z0.dtype).unsqueeze(1)  # (steps, 1)
    if not spherical:
        return (1 - t) * z0 + t * z1
    omega = torch.arccos((z0 / z0.norm() * z1 / z1.norm()).sum().clamp(-1 + 1e-7, 1 - 1e-7))
    return (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / torch.sin(omega)


def live_gan_plot(run, fixed_z: torch.Tensor | None = None, fixed_labels: torch.Tensor | None = None,
                  window: int = 25) -> None:
    """Callback for ``train_gan``: redraw the losses, D(x) and D(G(z)), and samples of the fixed
    latent batch, in place in a notebook."""
    from IPython.display import clear_output, display

    from .training import sample_images

    fig, axes = plt.subplots(1, 3, figsize=(13, 3))
    for key in ("loss_D", "loss_G"):
        axes[0].plot(smooth(run.history[key], window), label=key)
    axes[0].set_title(f"losses (step {run.steps})"); axes[0].legend()
    for key, label in (("D_real", "D(x)"), ("D_fake", "D(G(z))")):
        axes[1].plot(smooth(run.history[key], window), label=label)
    axes[1].set_ylim(0, 1); axes[1].set_title("discriminator outputs"); axes[1].legend()
    if fixed_z is not None:
        axes[2].imshow(image_grid(sample_images(run.sampler, fixed_z, fixed_labels), nrow=8))
    axes[2].set_axis_off(); axes[2].set_title("fixed latent batch")
    clear_output(wait=True)
    display(fig)
    plt.close(fig)
