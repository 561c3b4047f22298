import math

import pytest
import torch
from torch import nn

from course_lib import losses
from course_lib.augment import cutout, diff_augment, translation
from course_lib.data import get_toy
from course_lib.models import count_parameters
from course_lib.models.gan import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator
from course_lib.io import load_checkpoint
from course_lib.training import GANConfig, ema_update, sample_images, train_gan

CPU = torch.device("cpu")
sp = lambda a: math.log1p(math.exp(a))  # softplus


# ---------------------------------------------------------------------------- models
@pytest.mark.parametrize("norm", ["batch", "spectral", "none"])
def test_dcgan_shapes_and_ranges(norm):
    G, D = DCGANGenerator(latent_dim=16, width=8), DCGANDiscriminator(width=8, norm=norm)
    x = G(torch.randn(5, 16))
    assert x.shape == (5, 1, 28, 28) and x.min() >= -1 and x.max() <= 1
    assert D(x).shape == (5,)
    assert count_parameters(G) > 0


@pytest.mark.parametrize("norm", ["batch", "spectral", "none"])
def test_every_discriminator_starts_from_dcgans_initial_weights(norm):
    """A spectrally normalised layer is initialised through its raw weight: the same N(0, 0.02²)
    start as the others, so a spectral-norm row changes the normalisation only."""
    from torch.nn.utils import parametrize

    torch.manual_seed(0)
    D = DCGANDiscriminator(width=32, norm=norm)
    for layer in [m for m in D.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]:
        raw = layer.parametrizations.weight.original if parametrize.is_parametrized(layer, "weight") else layer.weight
        assert abs(raw.std().item() - 0.02) < 0.004, (norm, layer)


def test_conditional_dcgan_needs_labels():
    G = DCGANGenerator(latent_dim=16, width=8, num_classes=10)
    D = DCGANDiscriminator(width=8, norm="spectral", num_classes=10)
    labels = torch.arange(4)
    x = G(torch.randn(4, 16), labels=labels)
    assert x.shape == (4, 1, 28, 28) and D(x, labels=labels).shape == (4,)
    with pytest.raises(ValueError, match="pass labels"):
        G(torch.randn(4, 16))
    with pytest.raises(ValueError, match="pass labels"):
        D(x)
    with pytest.raises(ValueError, match="norm must be"):
        DCGANDiscriminator(norm="layer")


def test_mlp_shapes():
    G, D = MLPGenerator(latent_dim=3), MLPDiscriminator()
    assert G(torch.randn(7, 3)).shape == (7, 2) and D(torch.randn(7, 2)).shape == (7,)


# ---------------------------------------------------------------------------- losses
REAL, FAKE = torch.tensor([0.0, 2.0]), torch.tensor([-1.0, 1.0])


def test_gan_losses_against_hand_computed_values():
    assert losses.d_loss_minimax(REAL, FAKE).item() == pytest.approx(
        (sp(0) + sp(-2)) / 2 + (sp(-1) + sp(1)) / 2, rel=1e-6)
    assert losses.g_loss_nonsaturating(FAKE).item() == pytest.approx((sp(1) + sp(-1)) / 2, rel=1e-6)
    assert losses.g_loss_saturating(FAKE).item() == pytest.approx(-(sp(-1) + sp(1)) / 2, rel=1e-6)
    assert losses.d_loss_lsgan(REAL, FAKE).item() == pytest.approx(0.5 * 1 + 0.5 * 1)
    assert losses.g_loss_lsgan(FAKE).item() == pytest.approx(0.5 * (4 + 0) / 2)
    assert losses.d_loss_hinge(REAL, FAKE).item() == pytest.approx((1 + 0) / 2 + (0 + 2) / 2)
    assert losses.g_loss_hinge(FAKE).item() == pytest.approx(0.0)
    assert losses.d_loss_wgan(REAL, FAKE).item() == pytest.approx(0.0 - 1.0)
    assert losses.g_loss_wgan(FAKE).item() == pytest.approx(0.0)


def test_saturating_loss_vanishes_where_nonsaturating_does_not():
    a = torch.tensor([-6.0], requires_grad=True)  # D(G(z)) = σ(-6) ≈ 0.0025: D rejects the fake
    (g_sat,) = torch.autograd.grad(losses.g_loss_saturating(a), a)
    (g_ns,) = torch.autograd.grad(losses.g_loss_nonsaturating(a), a)
    assert abs(g_sat.item()) == pytest.approx(torch.sigmoid(torch.tensor(-6.0)).item(), rel=1e-5)
    assert abs(g_ns.item()) == pytest.approx(1 - torch.sigmoid(torch.tensor(-6.0)).item(), rel=1e-5)
    assert abs(g_ns.item()) > 100 * abs(g_sat.item())


def test_gradient_penalty_of_a_linear_critic():
    D = torch.nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        D.weight.copy_(torch.tensor([[3.0, 4.0]]))  # ∇D = (3, 4) everywhere, norm 5
    penalty = losses.gradient_penalty(lambda x: D(x).squeeze(1), torch.randn(6, 2), torch.randn(6, 2))
    assert penalty.item() == pytest.approx((5 - 1) ** 2)


def test_gradient_penalty_against_autograd_on_a_tiny_case():
    torch.manual_seed(0)
    D = MLPDiscriminator(hidden=8, depth=2)
    real, fake = torch.randn(4, 2), torch.randn(4, 2)
    g = torch.Generator().manual_seed(3)
    penalty = losses.gradient_penalty(D, real, fake, generator=g)
    eps = torch.rand(4, 1, generator=torch.Generator().manual_seed(3))
    expected = 0.0
    for i in range(4):  # one sample at a time, by hand
        x_hat = (eps[i] * real[i] + (1 - eps[i]) * fake[i]).unsqueeze(0).requires_grad_(True)
        (grad,) = torch.autograd.grad(D(x_hat).sum(), x_hat)
        expected += (grad.norm() - 1) ** 2 / 4
    assert penalty.item() == pytest.approx(expected.item(), rel=1e-5)
    penalty.backward()  # differentiable w.r.t. D's parameters (create_graph=True)
    assert all(p.grad is not None for name, p in D.named_parameters() if "weight" in name)


def test_loss_errors():
    with pytest.raises(ValueError, match="nonsaturating"):
        losses.gan_losses("vanilla")
    with pytest.raises(FloatingPointError, match="diverged"):
        losses.d_loss_hinge(torch.tensor([float("nan")]), FAKE)


# --------------------------------------------------------------------------- augment
def test_translation_and_cutout():
    x = torch.rand(6, 1, 28, 28) * 2 - 1
    g = lambda: torch.Generator().manual_seed(0)
    shifted = translation(x, g())
    assert shifted.shape == x.shape and torch.equal(shifted, translation(x, g()))
    blanked = cutout(x, g())
    changed = (blanked != x).flatten(1).float().sum(1)
    assert blanked.shape == x.shape and (changed <= 14 * 14).all() and (changed > 0).any()
    assert torch.equal(diff_augment(x, None, g()), x)
    with pytest.raises(ValueError, match="translation, cutout"):
        diff_augment(x, "color", g())


def test_diff_augment_is_differentiable():
    x = torch.rand(3, 1, 28, 28, requires_grad=True)
    diff_augment(x, "translation,cutout", torch.Generator().manual_seed(1)).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


# -------------------------------------------------------------------------- training
def test_ema_update():
    model, ema = torch.nn.Linear(2, 1), torch.nn.Linear(2, 1)
    with torch.no_grad():
        model.weight.fill_(1.0); ema.weight.fill_(0.0)
    ema_update(ema, model, decay=0.9)
    assert torch.allclose(ema.weight, torch.full_like(ema.weight, 0.1))
    ema_update(ema, model, decay=0.9, step=0)  # warm-up: min(0.9, 1/10) = 0.1
    assert torch.allclose(ema.weight, torch.full_like(ema.weight, 0.1 * 0.1 + 0.9))


def test_ema_averages_batch_norm_statistics_and_copies_counts():
    model, ema = torch.nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)
    model(torch.randn(16, 3) * 2 + 5)  # running mean moves towards 5, var towards 4
    ema_update(ema, model, decay=0.75)
    assert torch.allclose(ema.running_mean, 0.25 * model.running_mean)              # 0.75·0 + 0.25·m
    assert torch.allclose(ema.running_var, 0.75 + 0.25 * model.running_var)         # 0.75·1 + 0.25·v
    assert ema.num_batches_tracked.item() == model.num_batches_tracked.item() == 1


def _toy_run(steps, checkpoint=None, **kw):
    torch.manual_seed(0)
    G, D = MLPGenerator(latent_dim=2, hidden=16, depth=2), MLPDiscriminator(hidden=16, depth=2)
    data = get_toy("ring").sample(512, torch.Generator().manual_seed(0))
    config = GANConfig(steps=steps, batch_size=32, checkpoint_every=5, seed=1, **kw)
    return train_gan(G, D, data, config, checkpoint=checkpoint, progress=False, device=CPU)


@pytest.mark.parametrize("loss, ema", [("nonsaturating", None), ("wgan-gp", 0.9)])
def test_resume_from_checkpoint_equals_an_uninterrupted_run(tmp_path, loss, ema):
    full = _toy_run(20, loss=loss, ema_decay=ema)
    path = tmp_path / "gan.pt"
    _toy_run(10, checkpoint=path, loss=loss, ema_decay=ema)      # stops at step 10
    resumed = _toy_run(20, checkpoint=path, loss=loss, ema_decay=ema)  # fresh models, resumes
    assert resumed.steps == 20
    for a, b in zip(full.G.parameters(), resumed.G.parameters()):
        assert torch.equal(a, b)
    for a, b in zip(full.sampler.parameters(), resumed.sampler.parameters()):
        assert torch.equal(a, b)
    assert full.history["loss_D"] == resumed.history["loss_D"]
    assert not list(tmp_path.glob(".*.tmp"))


def test_training_history_snapshots_and_conditional_sampling():
    G, D = DCGANGenerator(latent_dim=8, width=4, num_classes=10), DCGANDiscriminator(width=4, num_classes=10)
    x, y = torch.rand(40, 1, 28, 28) * 2 - 1, torch.arange(40) % 10
    fixed_z, fixed_y = torch.randn(10, 8), torch.arange(10)
    config = GANConfig(loss="hinge", steps=4, batch_size=8, ema_decay=0.99, augment="translation,cutout",
                       snapshot_every=2)
    run = train_gan(G, D, x, config, labels=y, fixed_z=fixed_z, fixed_labels=fixed_y, progress=False, device=CPU)
    assert [s for s, _ in run.snapshots] == [2, 4] and run.snapshots[0][1].shape == (10, 1, 28, 28)
    assert all(len(v) == 4 for v in run.history.values())
    assert all(0 <= v <= 1 for v in run.history["D_real"] + run.history["D_fake"])
    assert sample_images(run.sampler, fixed_z, fixed_y).shape == (10, 1, 28, 28)


def test_corrupted_checkpoint_says_what_to_do(tmp_path):
    path = tmp_path / "bad.pt"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(RuntimeError, match="delete it"):
        load_checkpoint(path)


def test_packed_discriminator():
    from course_lib.models.gan import PackedDiscriminator

    D = PackedDiscriminator(pack=4, hidden=8)
    x = torch.randn(12, 2)
    assert D(x).shape == (3,)
    # the first logit depends only on the first four samples
    y = x.clone(); y[4:] = 0
    assert torch.allclose(D(x)[0], D(y)[0])
    with pytest.raises(ValueError, match="multiple of pack"):
        D(torch.randn(10, 2))
    control = PackedDiscriminator(pack=4, hidden=8, duplicate=True)  # each sample packed with itself
    control.load_state_dict(D.state_dict())
    assert control(torch.randn(10, 2)).shape == (10,)
    assert torch.allclose(control(x[:1]), D(x[:1].repeat(4, 1)))


# ------------------------------------------------------------ checkpoints know their configuration
def _small_gan(hidden=16):
    torch.manual_seed(0)
    return MLPGenerator(latent_dim=2, hidden=hidden, depth=2), MLPDiscriminator(hidden=16, depth=2)


def test_a_changed_learning_rate_trains_anew_and_keeps_the_old_checkpoint(tmp_path, capsys):
    data = get_toy("ring").sample(256, torch.Generator().manual_seed(0))
    path = tmp_path / "gan.pt"
    first = train_gan(*_small_gan(), data, GANConfig(steps=6, batch_size=16), checkpoint=path, progress=False, device=CPU)
    again = train_gan(*_small_gan(), data, GANConfig(steps=6, batch_size=16), checkpoint=path, progress=True, device=CPU)
    assert "resumed from" in capsys.readouterr().out and again.checkpoint == first.checkpoint
    assert all(torch.equal(a, b) for a, b in zip(first.G.parameters(), again.G.parameters()))  # same run, 0 new steps
    changed = train_gan(*_small_gan(), data, GANConfig(steps=6, batch_size=16, lr_g=5e-3), checkpoint=path,
                        progress=True, device=CPU)
    assert "training anew" in capsys.readouterr().out
    assert changed.checkpoint != first.checkpoint and changed.steps == 6
    assert not all(torch.equal(a, b) for a, b in zip(first.G.parameters(), changed.G.parameters()))
    fresh = train_gan(*_small_gan(), data, GANConfig(steps=6, batch_size=16, lr_g=5e-3), progress=False, device=CPU)
    assert all(torch.equal(a, b) for a, b in zip(fresh.G.parameters(), changed.G.parameters()))  # really anew
    assert first.checkpoint.is_file() and len(list(tmp_path.glob("gan-*.pt"))) == 2  # nothing overwritten


def test_a_changed_width_or_data_trains_anew(tmp_path):
    data = get_toy("ring").sample(256, torch.Generator().manual_seed(0))
    path = tmp_path / "gan.pt"
    base = train_gan(*_small_gan(), data, GANConfig(steps=3, batch_size=16), checkpoint=path, progress=False, device=CPU)
    wider = train_gan(*_small_gan(hidden=32), data, GANConfig(steps=3, batch_size=16), checkpoint=path,
                      progress=False, device=CPU)  # no size-mismatch error: a file of its own
    other_data = train_gan(*_small_gan(), data * 2, GANConfig(steps=3, batch_size=16), checkpoint=path,
                           progress=False, device=CPU)
    assert len({base.checkpoint, wider.checkpoint, other_data.checkpoint}) == 3 and wider.steps == 3


def test_longer_training_resumes_the_same_configuration(tmp_path):
    data = get_toy("ring").sample(256, torch.Generator().manual_seed(0))
    path = tmp_path / "gan.pt"
    short = train_gan(*_small_gan(), data, GANConfig(steps=4, batch_size=16), checkpoint=path, progress=False, device=CPU)
    longer = train_gan(*_small_gan(), data, GANConfig(steps=8, batch_size=16), checkpoint=path, progress=False, device=CPU)
    straight = train_gan(*_small_gan(), data, GANConfig(steps=8, batch_size=16), progress=False, device=CPU)
    assert longer.checkpoint == short.checkpoint and longer.steps == 8
    assert all(torch.equal(a, b) for a, b in zip(longer.G.parameters(), straight.G.parameters()))


def test_a_checkpoint_of_another_configuration_under_this_name_says_what_to_do(tmp_path):
    data = get_toy("ring").sample(256, torch.Generator().manual_seed(0))
    a = train_gan(*_small_gan(), data, GANConfig(steps=2, batch_size=16), checkpoint=tmp_path / "a.pt",
                  progress=False, device=CPU)
    b_config = GANConfig(steps=2, batch_size=16, lr_d=1e-3)
    b_path = train_gan(*_small_gan(), data, b_config, checkpoint=tmp_path / "a.pt", progress=False, device=CPU).checkpoint
    a.checkpoint.replace(b_path)  # a file renamed by hand
    with pytest.raises(RuntimeError, match="another configuration.*delete it"):
        train_gan(*_small_gan(), data, b_config, checkpoint=tmp_path / "a.pt", progress=False, device=CPU)


def test_recompute_batch_norm_measures_the_generators_own_statistics():
    from course_lib.training import recompute_batch_norm

    torch.manual_seed(0)
    G = DCGANGenerator(latent_dim=8, width=4)
    fresh = recompute_batch_norm(G, n=2048, batch_size=512, seed=1)
    assert not fresh.training and all(b.abs().sum() == 0 for n, b in G.named_buffers() if "running_mean" in n)
    z = torch.randn(2048, 8, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        h = G.project[:2](z)                                      # (2048, 16, 7, 7), before the first batch norm
    first = fresh.project[2]
    assert torch.allclose(first.running_mean, h.mean((0, 2, 3)), atol=1e-5)   # the mean over all 2,048 latents


def test_discriminator_memorisation_reads_how_d_ranks_seen_over_unseen():
    from course_lib.training import discriminator_memorisation

    seen, unseen = torch.randn(200, 1, 28, 28) + 1, torch.randn(300, 1, 28, 28)

    class Mean(nn.Module):  # rates brighter images as more real: tells these two sets apart
        def __init__(self):
            super().__init__()
            self.norm = nn.BatchNorm1d(1)

        def forward(self, x):
            return self.norm(x.mean((1, 2, 3)).unsqueeze(1)).squeeze(1)

    D = Mean()
    before = D.norm.running_mean.clone()
    assert discriminator_memorisation(D, seen, unseen) > 0.99
    assert discriminator_memorisation(D, unseen, seen) < 0.01
    assert discriminator_memorisation(D, unseen[:150], unseen[150:]) == pytest.approx(0.5, abs=0.1)
    assert torch.equal(D.norm.running_mean, before), "D's running statistics stay as they were"
