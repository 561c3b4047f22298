import math

import pytest
import torch

from course_lib.losses import (bernoulli_log_likelihood, elbo_terms, gaussian_log_likelihood,
                               iwae_log_likelihood, kl_normal, log_normal_density)
from course_lib.models.vae import ConvVAE


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return ConvVAE(latent_dim=4, width=8, hidden=32).eval()


@pytest.fixture(scope="module")
def x():
    g = torch.Generator().manual_seed(0)
    return (torch.rand(6, 1, 28, 28, generator=g) < 0.2).float()  # binary images


def test_shapes_and_ranges(model, x):
    logits, mu, logvar = model(x)
    assert logits.shape == (6, 1, 28, 28) and mu.shape == logvar.shape == (6, 4)
    samples = model.sample(5, torch.Generator().manual_seed(1))
    assert samples.shape == (5, 1, 28, 28) and samples.min() >= 0 and samples.max() <= 1


def test_kl_normal_hand_computed_and_monte_carlo():
    assert kl_normal(torch.tensor(1.0), torch.tensor(0.0)).item() == pytest.approx(0.5)
    mu_q, logvar_q, mu_p, logvar_p = torch.tensor(0.3), torch.tensor(-0.5), torch.tensor(-1.0), torch.tensor(0.7)
    z = mu_q + (0.5 * logvar_q).exp() * torch.randn(400_000, 1, generator=torch.Generator().manual_seed(0),
                                                    dtype=torch.float64)
    mc = (log_normal_density(z, mu_q.double(), logvar_q.double())
          - log_normal_density(z, mu_p.double(), logvar_p.double())).mean()
    assert kl_normal(mu_q, logvar_q, mu_p, logvar_p).item() == pytest.approx(mc.item(), abs=5e-3)


def test_likelihoods_hand_computed():
    x = torch.tensor([[[[1.0, 0.0]]]])
    assert bernoulli_log_likelihood(torch.zeros_like(x), x).item() == pytest.approx(2 * math.log(0.5))
    logits = torch.tensor([[[[2.0, -1.0]]]])
    expected = math.log(1 / (1 + math.exp(-2))) + math.log(1 - 1 / (1 + math.exp(1)))
    assert bernoulli_log_likelihood(logits, x).item() == pytest.approx(expected, rel=1e-6)
    assert gaussian_log_likelihood(torch.zeros_like(x), x).item() == pytest.approx(-0.5 - math.log(2 * math.pi))


def test_elbo_terms(model, x):
    logits, mu, logvar = model(x)
    reconstruction, kl = elbo_terms(x, logits, mu, logvar)
    assert reconstruction.shape == kl.shape == (6,) and (kl >= 0).all() and (reconstruction <= 0).all()
    assert torch.allclose(kl, kl_normal(mu, logvar).sum(1))


def test_iwae_with_one_sample_is_the_elbo_estimate_for_the_same_draw(model, x):
    iw1 = iwae_log_likelihood(model, x, k=1, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        mu, logvar = model.encode(x)
        eps = torch.randn((1,) + mu.shape, generator=torch.Generator().manual_seed(7))[0]
        z = mu + (0.5 * logvar).exp() * eps
        elbo_estimate = (bernoulli_log_likelihood(model.decode(z), x) + log_normal_density(z)
                         - log_normal_density(z, mu, logvar))
    assert torch.allclose(iw1, elbo_estimate, atol=1e-4)


class _WideEncoderConstantDecoder:
    """q(z|x) = N(0, 4 I) and p(x|z) = Bernoulli(½) whatever z: the posterior is the prior, so
    log p(x) = 784 log ½ exactly and the ELBO is short of it by
    KL(N(0, 4) ‖ N(0, 1)) = 4 × ½(4 − log 4 − 1) ≈ 3.23 nats."""

    def encode(self, x):
        zeros = torch.zeros(len(x), 4)
        return zeros, zeros + math.log(4.0)

    def decode(self, z):
        return torch.zeros(len(z), 1, 28, 28)


def test_iwae_bound_tightens_with_k_towards_log_px(model, x):
    g = torch.Generator().manual_seed(3)
    toy = _WideEncoderConstantDecoder()
    log_px = 784 * math.log(0.5)
    gap = 4 * 0.5 * (4 - math.log(4) - 1)
    many = x.repeat(50, 1, 1, 1)  # 300 images: averages with small Monte Carlo error
    bounds = [iwae_log_likelihood(toy, many, k, generator=g).mean().item() for k in (1, 10, 1000)]
    assert bounds == sorted(bounds), bounds
    assert bounds[0] == pytest.approx(log_px - gap, abs=1.0)   # one sample: the ELBO
    assert bounds[-1] == pytest.approx(log_px, abs=0.3)        # k = 1000: nearly log p(x)
    assert all(b <= log_px + 0.05 for b in bounds)


def test_one_sample_estimates_average_to_the_analytic_elbo(model, x):
    g = torch.Generator().manual_seed(4)
    with torch.no_grad():  # the average of many one-sample estimates is the analytic-KL ELBO
        many = torch.stack([iwae_log_likelihood(model, x, 1, generator=g) for _ in range(300)]).mean(0)
        mu, logvar = model.encode(x)
        reconstructions = torch.stack([bernoulli_log_likelihood(model.decode(model.reparameterize(mu, logvar, g)), x)
                                       for _ in range(300)]).mean(0)
        elbo = reconstructions - kl_normal(mu, logvar).sum(1)
    assert torch.allclose(many, elbo, rtol=0.01)


def test_bad_inputs(model, x):
    with pytest.raises(ValueError, match="k must be"):
        iwae_log_likelihood(model, x, k=0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        iwae_log_likelihood(model, x * 2 - 1, k=2)
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        elbo_terms(x[:, 0], *model(x))


# -------------------------------------------------------------------------- training
def _vae_run(steps, checkpoint=None, **kw):
    from course_lib.training import VAEConfig, train_vae

    torch.manual_seed(0)
    data = torch.rand(40, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 0.6
    config = VAEConfig(steps=steps, batch_size=8, kl_warmup_steps=4, validate_every=3, checkpoint_every=5,
                       seed=1, **kw)
    return train_vae(ConvVAE(latent_dim=2, width=4, hidden=8), data, config, validation=data[:8],
                     checkpoint=checkpoint, progress=False, device=torch.device("cpu"))


@pytest.mark.parametrize("kw", [{}, {"shift": 1, "ema_decay": 0.9}])
def test_vae_resume_from_checkpoint_equals_an_uninterrupted_run(tmp_path, kw):
    full = _vae_run(12, **kw)
    path = tmp_path / "vae.pt"
    _vae_run(5, checkpoint=path, **kw)                 # stops at step 5
    resumed = _vae_run(12, checkpoint=path, **kw)      # a fresh model, resumes from step 5
    assert resumed.steps == 12 and resumed.best_step == full.best_step
    assert all(full.history[k] == resumed.history[k] for k in full.history if k != "step_seconds")
    for a, b in zip(full.model.parameters(), resumed.model.parameters()):
        assert torch.equal(a, b)


def test_vae_keeps_the_weights_of_the_best_validation_elbo():
    from course_lib.training import binarize, negative_elbo

    run = _vae_run(12, ema_decay=0.9)
    best = max(range(len(run.history["val_elbo"])), key=lambda i: run.history["val_elbo"][i])
    assert run.best_step == run.history["val_step"][best] and not run.model.training
    data = torch.rand(40, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 0.6
    val = binarize(data[:8], torch.Generator().manual_seed(2))  # what train_vae validated on (seed + 1)
    kept = negative_elbo(run.model, val, torch.Generator().manual_seed(3))  # seed + 2
    assert kept == pytest.approx(-run.history["val_elbo"][best], rel=1e-5)


def test_shift_augmentation_moves_digits_without_changing_them():
    from course_lib.augment import translation

    x = torch.zeros(50, 1, 28, 28)
    x[:, :, 10:18, 10:18] = torch.rand(50, 1, 8, 8)          # a digit away from the border
    shifted = translation(x, torch.Generator().manual_seed(0), ratio=1 / 28, fill=0.0)
    assert torch.allclose(shifted.sum((1, 2, 3)), x.sum((1, 2, 3)))  # nothing lost or added
    moved = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)
             if any(torch.equal(torch.roll(x[i], (dy, dx), (1, 2)), shifted[i]) for i in range(50))]
    assert len(moved) == 9                                     # every shift of at most one pixel occurs


def test_train_vae_bad_arguments():
    with pytest.raises(ValueError, match="shift"):
        _vae_run(1, shift=-1)
    with pytest.raises(ValueError, match="ema_decay"):
        _vae_run(1, ema_decay=1.5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        from course_lib.training import VAEConfig, train_vae
        train_vae(ConvVAE(latent_dim=2, width=4, hidden=8), torch.rand(4, 1, 28, 28) * 2 - 1, VAEConfig(steps=1),
                  progress=False)
