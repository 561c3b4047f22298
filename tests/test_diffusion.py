import math

import pytest
import torch

from course_lib.diffusion import (ddim_sample, ddpm_loss, flow_matching_loss, flow_sample, guided,
                                  noise_schedule, q_sample, sample_times)
from course_lib.models.unet import UNet, sinusoidal_embedding
from course_lib.training.diffusion import DiffusionConfig, train_diffusion

CPU = torch.device("cpu")


def test_schedules():
    for name in ("linear", "cosine"):
        s = noise_schedule(name, T=1000)
        ab = s.alpha_bar
        assert s.T == 1000 and ab.dtype == torch.float64
        assert (ab[1:] < ab[:-1]).all() and 0.99 < ab[0] < 1 and ab[-1] < 1e-3  # from signal to noise
        assert torch.allclose(s.snr(), ab / (1 - ab))
    linear = noise_schedule("linear", T=4)
    assert torch.allclose(linear.alpha_bar, torch.cumprod(1 - torch.linspace(1e-4, 0.02, 4, dtype=torch.float64), 0))
    with pytest.raises(ValueError, match="linear, cosine"):
        noise_schedule("sigmoid")


def test_closed_form_forward_process_matches_step_by_step_noising():
    """q(x_t | x_0) = N(√ᾱ_t x_0, (1 − ᾱ_t) I): noising one step at a time ends at the same mean and variance."""
    schedule = noise_schedule("linear", T=50)
    g = torch.Generator().manual_seed(0)
    x0 = torch.full((20000, 1, 1, 1), 0.7)
    x = x0.clone()
    for t in range(30):  # x_{t} = √(1−β_t) x_{t−1} + √β_t ε
        beta = schedule.betas[t].item()
        x = math.sqrt(1 - beta) * x + math.sqrt(beta) * torch.randn(x.shape, generator=g)
    ab = schedule.alpha_bar[29].item()
    assert x.mean().item() == pytest.approx(math.sqrt(ab) * 0.7, abs=0.01)
    assert x.var().item() == pytest.approx(1 - ab, rel=0.03)
    closed = q_sample(x0, torch.full((20000,), 29), torch.randn(x0.shape, generator=g), schedule)
    assert closed.mean().item() == pytest.approx(x.mean().item(), abs=0.015)
    assert closed.var().item() == pytest.approx(x.var().item(), rel=0.05)


class Constant(torch.nn.Module):
    """A 'model' that predicts a fixed value: the losses then have hand-computable values."""
    num_classes = None

    def __init__(self, value):
        super().__init__()
        self.value = value
        self.p = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x, t, labels=None):
        return torch.full_like(x, self.value) + 0 * self.p


def test_losses_against_hand_computed_cases():
    x0 = torch.zeros(3, 1, 2, 2)
    schedule = noise_schedule("cosine", T=10)
    g = lambda: torch.Generator().manual_seed(1)
    # a model predicting 0 for ε: the loss is E ε², the mean of the very noise drawn
    loss = ddpm_loss(Constant(0.0), x0, schedule, g())
    gen = g(); torch.randint(10, (3,), generator=gen); eps = torch.randn(x0.shape, generator=gen)
    assert loss.item() == pytest.approx((eps ** 2).mean().item(), rel=1e-6)
    # flow matching with x0 = 0: the target is ε; a model predicting 1 has loss E (ε − 1)²
    loss = flow_matching_loss(Constant(1.0), x0, g())
    gen = g(); torch.rand(3, generator=gen); eps = torch.randn(x0.shape, generator=gen)
    assert loss.item() == pytest.approx(((eps - 1) ** 2).mean().item(), rel=1e-6)
    t = sample_times(10000, torch.Generator().manual_seed(0), "logit-normal")
    assert 0 < t.min() and t.max() < 1 and abs(t.mean().item() - 0.5) < 0.01 and t.std() < 0.25
    with pytest.raises(ValueError, match="logit-normal"):
        sample_times(3, g(), "beta")


class PerfectDenoiser(torch.nn.Module):
    """Knows the single training image x*: predicts the ε (or v) that maps x_t back to it."""
    num_classes = None

    def __init__(self, target, schedule=None):
        super().__init__()
        self.target, self.schedule = target, schedule
        self.p = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x, t, labels=None):
        if self.schedule is None:                            # flow: x = (1 − t) x* + t ε -> v = (x − x*)/t
            return (x - self.target) / t.view(-1, 1, 1, 1)
        ab = self.schedule.alpha_bar[t].float().view(-1, 1, 1, 1)
        return (x - ab.sqrt() * self.target) / (1 - ab).sqrt()   # ε = (x − √ᾱ x*)/√(1−ᾱ)


def test_ddim_with_one_step_is_the_x0_prediction_and_samplers_reach_the_data():
    schedule = noise_schedule("cosine", T=100)
    target = torch.rand(1, 1, 28, 28) * 1.6 - 0.8
    model = PerfectDenoiser(target, schedule)
    one = ddim_sample(model, 4, schedule, steps=1, generator=torch.Generator().manual_seed(0))
    x_T = torch.randn(4, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    ab = schedule.alpha_bar[-1].item()
    x0_hat = ((x_T - math.sqrt(1 - ab) * model(x_T, torch.full((4,), 99))) / math.sqrt(ab)).clamp(-1, 1)
    assert torch.allclose(one, x0_hat, atol=1e-5)
    for eta in (0.0, 1.0):
        out = ddim_sample(model, 4, schedule, steps=10, generator=torch.Generator().manual_seed(0), eta=eta)
        assert torch.allclose(out, target.expand(4, -1, -1, -1), atol=1e-3)
    flow = PerfectDenoiser(target)
    for method in ("euler", "heun"):
        trajectory = []
        out = flow_sample(flow, 4, steps=5, generator=torch.Generator().manual_seed(0), method=method,
                          trajectory=trajectory)
        assert torch.allclose(out, target.expand(4, -1, -1, -1), atol=1e-4) and len(trajectory) == 5


def test_classifier_free_guidance_mixes_conditional_and_unconditional():
    class ByLabel(torch.nn.Module):
        num_classes = 3

        def forward(self, x, t, labels):
            return labels.float().view(-1, 1, 1, 1).expand_as(x).clone()   # predicts its label

    x, t, labels = torch.zeros(2, 1, 2, 2), torch.zeros(2), torch.tensor([0, 2])
    out = guided(ByLabel(), x, t, labels, guidance=2.0)                    # uncond = label 3
    assert torch.allclose(out[:, 0, 0, 0], torch.tensor([3 + 2 * (0 - 3.0), 3 + 2 * (2 - 3.0)]))
    assert torch.equal(guided(ByLabel(), x, t, labels, guidance=1.0), ByLabel()(x, t, labels))


def test_autoguidance_extrapolates_away_from_the_bad_model():
    class Constant(torch.nn.Module):
        def __init__(self, value):
            super().__init__()
            self.value, self.weight = value, torch.nn.Parameter(torch.zeros(1))

        def forward(self, x, t, labels=None):
            return torch.full_like(x, self.value)

    x, t = torch.zeros(2, 1, 2, 2), torch.zeros(2)
    good, bad = Constant(1.0), Constant(0.25)
    assert torch.allclose(guided(good, x, t, None, 3.0, bad_model=bad), torch.full_like(x, 0.25 + 3 * 0.75))
    assert torch.equal(guided(good, x, t, None, 1.0, bad_model=bad), good(x, t))        # w = 1: the model alone
    # A sampler guided by the model itself is the unguided sampler; a worse reference changes it.
    model = UNet(width=8, time_scale=1000.0)
    draw = lambda **kw: flow_sample(model, 3, 2, torch.Generator().manual_seed(0), **kw)
    assert torch.allclose(draw(guidance=2.0, bad_model=model), draw(), atol=1e-5)
    assert not torch.allclose(draw(guidance=2.0, bad_model=UNet(width=8, time_scale=1000.0)), draw(), atol=1e-3)
    schedule = noise_schedule("cosine", 100)
    ddim = lambda **kw: ddim_sample(model, 3, schedule, 3, torch.Generator().manual_seed(0), **kw)
    assert torch.allclose(ddim(guidance=2.0, bad_model=model), ddim(), atol=1e-5)


def test_unet_shapes_time_embedding_and_labels():
    net = UNet(width=8, num_classes=10, time_scale=1000.0)
    x, t = torch.randn(3, 1, 28, 28), torch.rand(3)
    assert net(x, t, torch.tensor([0, 5, 10])).shape == (3, 1, 28, 28)    # 10: "no label"
    with pytest.raises(ValueError, match="pass labels"):
        net(x, t)
    with pytest.raises(ValueError, match="unconditional"):
        UNet(width=8)(x, t, torch.tensor([0, 1, 2]))
    e = sinusoidal_embedding(torch.tensor([0.0, 1.0]), 8)
    assert e.shape == (2, 8) and torch.allclose(e[0], torch.tensor([1.0] * 4 + [0.0] * 4))


def _run(steps, checkpoint=None, start_from=None, **kw):
    torch.manual_seed(0)
    data = torch.rand(32, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    config = DiffusionConfig(steps=steps, batch_size=4, checkpoint_every=3, **kw)
    return train_diffusion(UNet(width=8, attention=False), data, config, checkpoint=checkpoint, progress=False,
                           device=CPU, start_from=start_from)


@pytest.mark.parametrize("objective", ["ddpm", "flow"])
def test_diffusion_resume_equals_an_uninterrupted_run(tmp_path, objective):
    full = _run(6, objective=objective)
    _run(3, checkpoint=tmp_path / "d.pt", objective=objective)
    resumed = _run(6, checkpoint=tmp_path / "d.pt", objective=objective)
    assert full.history["loss"] == resumed.history["loss"]
    for a, b in zip(full.model_ema.parameters(), resumed.model_ema.parameters()):
        assert torch.equal(a, b)


def test_training_reduces_the_loss_and_rejects_bad_inputs():
    run = _run(40, objective="flow", lr=3e-3)
    assert sum(run.history["loss"][-10:]) < sum(run.history["loss"][:10])
    with pytest.raises(ValueError, match="objective"):
        _run(1, objective="score")
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        train_diffusion(UNet(width=8), torch.rand(4, 1, 28, 28) * 255, DiffusionConfig(steps=1), progress=False)


def test_a_checkpoint_past_the_steps_asked_for_is_refused(tmp_path):
    _run(6, checkpoint=tmp_path / "d.pt")
    with pytest.raises(ValueError, match="holds 6 steps, more than the 3 asked for"):
        _run(3, checkpoint=tmp_path / "d.pt")


def test_start_from_continues_a_shorter_run_and_leaves_it_as_it_was(tmp_path):
    short = _run(3, checkpoint=tmp_path / "short.pt")
    before = short.checkpoint.read_bytes()
    longer = _run(6, checkpoint=tmp_path / "long.pt", start_from=short.checkpoint)
    assert short.checkpoint.read_bytes() == before and longer.checkpoint != short.checkpoint
    full = _run(6)
    assert longer.steps == 6 and longer.history["loss"] == full.history["loss"]
    assert all(torch.equal(a, b) for a, b in zip(full.model_ema.parameters(), longer.model_ema.parameters()))
    again = _run(6, checkpoint=tmp_path / "long.pt", start_from=short.checkpoint)   # its own file now
    assert again.steps == 6 and again.history["loss"] == full.history["loss"]
    with pytest.raises(RuntimeError, match="another configuration"):
        _run(6, checkpoint=tmp_path / "other.pt", start_from=short.checkpoint, lr=1e-3)
