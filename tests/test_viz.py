import matplotlib

matplotlib.use("Agg")

import pytest
import torch

from course_lib.viz import image_grid, interpolate
from course_lib.widgets import class_picker, latent_explorer


def test_interpolate_linear_and_spherical():
    z0, z1 = torch.tensor([3.0, 0.0]), torch.tensor([0.0, 3.0])
    linear = interpolate(z0, z1, steps=5)
    assert linear.shape == (5, 2) and torch.allclose(linear[2], (z0 + z1) / 2)
    sphere = interpolate(z0, z1, steps=5, spherical=True)
    assert torch.allclose(sphere[0], z0, atol=1e-5) and torch.allclose(sphere[-1], z1, atol=1e-5)
    assert torch.allclose(sphere.norm(dim=1), torch.full((5,), 3.0), atol=1e-5)  # stays on the circle
    assert linear[2].norm() < 2.2  # the straight line cuts inside


def test_image_grid_ranges_and_errors():
    grid = image_grid(torch.rand(6, 1, 28, 28) * 2 - 1, nrow=3)
    assert grid.shape[2] == 3 and grid.min() >= 0 and grid.max() <= 1
    with pytest.raises(ValueError, match=r"\(B, 1 or 3, H, W\)"):
        image_grid(torch.rand(6, 28, 28))


def test_widgets_build_and_update():
    decode = lambda z: torch.tanh(z.sum() * torch.ones(1, 1, 28, 28))
    explorer = latent_explorer(decode, torch.zeros(8), n_sliders=3)
    sliders = explorer.children[0].children
    assert len(sliders) == 3
    sliders[0].value = 1.0  # triggers a redraw without error
    picker = class_picker(lambda c: torch.full((4, 1, 28, 28), c / 10))
    picker.children[0].value = 3


def test_a_widget_saved_without_a_kernel_shows_a_picture_and_says_so():
    explorer = latent_explorer(lambda z: torch.tanh(z.sum() * torch.ones(1, 1, 28, 28)), torch.zeros(8), n_sliders=2)
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle, "a live notebook still gets the widget"
    assert bundle["image/png"] and "run the notebook" in bundle["text/plain"]
    assert "HBox(" not in bundle["text/plain"]


def test_runner_saves_figures_even_when_mplbackend_is_agg(tmp_path, monkeypatch):
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    from course_lib.runner import main

    path = tmp_path / "99_figure.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell(
        "import matplotlib.pyplot as plt\nplt.plot([0, 1]); plt.show()")]), path)
    monkeypatch.setenv("MPLBACKEND", "Agg")           # as under `make test`
    monkeypatch.setenv("COURSE_RESULTS", str(tmp_path))
    assert main([str(path)]) == 0
    outputs = nbformat.read(path, as_version=4).cells[0].outputs
    assert any("image/png" in o.get("data", {}) for o in outputs), "the saved notebook shows its figure"


def test_smooth_is_a_moving_average():
    from course_lib.viz import smooth

    assert smooth([1, 2, 3, 4], window=2).tolist() == [1.5, 2.5, 3.5]
    assert smooth([5.0], window=25).tolist() == [5.0]  # shorter than the window: unchanged


def test_live_gan_plot_draws_a_training_run(monkeypatch):
    from course_lib.data import get_toy
    from course_lib.models.gan import MLPDiscriminator, MLPGenerator
    from course_lib.training import GANConfig, train_gan
    from course_lib.viz import live_gan_plot

    shown = []
    monkeypatch.setattr("IPython.display.display", lambda fig: shown.append(fig))
    data = get_toy("ring").sample(64, torch.Generator().manual_seed(0))
    G, D = MLPGenerator(hidden=8, depth=1), MLPDiscriminator(hidden=8, depth=1)
    train_gan(G, D, data, GANConfig(steps=4, batch_size=8), callback=live_gan_plot, callback_every=2,
              progress=False, device=torch.device("cpu"))
    assert len(shown) == 2
