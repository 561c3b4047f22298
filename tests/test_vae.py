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
