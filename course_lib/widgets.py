"""ipywidgets explorers: move sliders, see what a generator or decoder makes of the latent."""
from __future__ import annotations

from typing import Callable

import matplotlib.pyplot as plt
import torch

from .viz import image_grid


def latent_explorer(decode: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor,
                    directions: torch.Tensor | None = None, n_sliders: int = 4,
                    span: float = 3.0, title: str = "latent explorer"):
    """Sliders that move latent ``z`` ``(D,)`` along ``n_sliders`` directions ``(n, D)``
    (default: the first coordinate axes); the decoded image ``decode(z[None])`` updates live.
    Returns the widget (display it as the last line of a cell)."""
    import ipywidgets as widgets

    if directions is None:
        directions = torch.eye(z.shape[0])[:n_sliders]
    sliders = [widgets.FloatSlider(value=0.0, min=-span, max=span, step=0.1,
                                   description=f"dir {i}", continuous_update=False)
               for i in range(len(directions))]
    output = widgets.Output()

    def redraw(_=None):
        shift = sum(s.value * d for s, d in zip(sliders, directions))
        with torch.no_grad():
            image = decode((z + shift).unsqueeze(0))  # (1, C, H, W)
        with output:
            output.clear_output(wait=True)
            fig, ax = plt.subplots(figsize=(2.2, 2.2))
            ax.imshow(image_grid(image, nrow=1)); ax.set_axis_off(); ax.set_title(title, fontsize=9)
            plt.show()

    for s in sliders:
        s.observe(redraw, names="value")
    redraw()
    return widgets.HBox([widgets.VBox(sliders), output])


def class_picker(draw: Callable[[int], torch.Tensor], classes: int = 10, title: str = "digit"):
    """A dropdown of classes; ``draw(c)`` returns images ``(B, C, H, W)`` of class ``c``, shown
    as a grid. Returns the widget."""
    import ipywidgets as widgets

    picker = widgets.Dropdown(options=list(range(classes)), value=7, description=title)
    output = widgets.Output()

    def redraw(_=None):
        with torch.no_grad():
            images = draw(picker.value)
        with output:
            output.clear_output(wait=True)
            fig, ax = plt.subplots(figsize=(6, 1.2))
            ax.imshow(image_grid(images, nrow=len(images))); ax.set_axis_off()
            plt.show()

    picker.observe(redraw, names="value")
    redraw()
    return widgets.VBox([picker, output])
