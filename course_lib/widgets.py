"""ipywidgets explorers: move sliders, see what a generator or decoder makes of the latent.

A page saved without a kernel (GitHub, the course's website) cannot run a widget. Each explorer
therefore also carries a picture of its first state and a line of text saying so, which such a
page shows in its place; a live notebook shows the widget itself.
"""
from __future__ import annotations

import base64
import io
from typing import Callable

import matplotlib.pyplot as plt
import torch

from .viz import image_grid


class _Snapshot:
    """Mixin for a widget box: on a page without a kernel, its last drawn picture and a note.
    (ipywidgets 7, as on Colab, displays widgets another way; there the live widget shows.)"""
    png: str | None = None
    note: str = ""

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs) or {}
        bundle["text/plain"] = self.note
        if self.png:
            bundle["image/png"] = self.png
        return bundle


def _snapshot_box(kind, children, note: str):
    """A ``kind`` box (HBox, VBox) of ``children`` that shows ``note`` and its picture without a kernel."""
    box = type(f"Snapshot{kind.__name__}", (_Snapshot, kind), {})(children)
    box.note = note
    return box


def _draw(output, image: torch.Tensor, size: tuple[float, float], title: str | None = None) -> str:
    """Draw ``image`` (a grid's worth of images) into ``output``; returns it as base64 PNG."""
    with output:
        output.clear_output(wait=True)
        fig, ax = plt.subplots(figsize=size)
        ax.imshow(image_grid(image, nrow=len(image))); ax.set_axis_off()
        if title:
            ax.set_title(title, fontsize=9)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", bbox_inches="tight")
        plt.show()
        plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


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
    box = _snapshot_box(widgets.HBox, [widgets.VBox(sliders), output],
                        f"{title}: a widget with {len(sliders)} sliders (run the notebook to move them; "
                        f"a saved page shows its first picture)")

    def redraw(_=None):
        shift = sum(s.value * d for s, d in zip(sliders, directions))
        with torch.no_grad():
            image = decode((z + shift).unsqueeze(0))  # (1, C, H, W)
        box.png = _draw(output, image, (2.2, 2.2), title)

    for s in sliders:
        s.observe(redraw, names="value")
    redraw()
    return box


def class_picker(draw: Callable[[int], torch.Tensor], classes: int = 10, title: str = "digit"):
    """A dropdown of classes; ``draw(c)`` returns images ``(B, C, H, W)`` of class ``c``, shown
    as a grid. Returns the widget."""
    import ipywidgets as widgets

    picker = widgets.Dropdown(options=list(range(classes)), value=7, description=title)
    output = widgets.Output()
    box = _snapshot_box(widgets.VBox, [picker, output],
                        f"a widget to pick a {title} (run the notebook to use it; a saved page shows "
                        f"its first picture, {title} {picker.value})")

    def redraw(_=None):
        with torch.no_grad():
            images = draw(picker.value)
        box.png = _draw(output, images, (6, 1.2))

    picker.observe(redraw, names="value")
    redraw()
    return box
