"""Brownian bridges and [SF]2M / DSBM targets against their formulas."""

import math

import pytest
import torch

from cellbridge.paths import (
    bridge_score,
    brownian_bridge,
    dsbm_backward_target,
    dsbm_forward_target,
    sf2m_flow_target,
)


@pytest.mark.parametrize("t0, t1, t, sigma", [(0.0, 1.0, 0.3, 1.0), (2.0, 5.0, 4.1, 0.5)])
def test_bridge_marginal_mean_and_variance(t0, t1, t, sigma):
    """Monte Carlo mean and variance of x_t agree with (1-s)x0 + s x1 and sigma^2 Delta s(1-s).

    With n draws the sample mean has standard error sqrt(v/n) and the sample variance sqrt(2/(n-1)) v;
    five standard errors bound a false alarm at about 6e-7 per coordinate.
    """
    n, d = 200_000, 3
    x0 = torch.tensor([[1.0, -2.0, 0.5]], dtype=torch.float64).expand(n, d)
    x1 = torch.tensor([[3.0, 0.0, -1.5]], dtype=torch.float64).expand(n, d)
    b = brownian_bridge(x0, x1, t0, t1, t, sigma, generator=torch.Generator().manual_seed(0))
    s = (t - t0) / (t1 - t0)
    mean = (1 - s) * x0[0] + s * x1[0]
    var = sigma**2 * (t1 - t0) * s * (1 - s)
    assert ((b.xt.mean(0) - mean).abs() < 5 * math.sqrt(var / n)).all()
    assert ((b.xt.var(0) - var).abs() < 5 * math.sqrt(2 / (n - 1)) * var).all()
    torch.testing.assert_close(b.mean[0], mean)


def test_bridge_is_pinned_at_the_ends():
    x0, x1 = torch.randn(4, 2, dtype=torch.float64), torch.randn(4, 2, dtype=torch.float64)
    torch.testing.assert_close(brownian_bridge(x0, x1, 1.0, 3.0, 1.0, 2.0).xt, x0)
    torch.testing.assert_close(brownian_bridge(x0, x1, 1.0, 3.0, 3.0, 2.0).xt, x1)


def test_flow_target_is_the_time_derivative_of_the_bridge_path():
    """For a fixed noise draw z, d/dt [mu_t + std_t z] equals the [SF]2M target (central differences)."""
    g = torch.Generator().manual_seed(1)
    x0, x1 = torch.randn(50, 4, generator=g, dtype=torch.float64), torch.randn(50, 4, generator=g, dtype=torch.float64)
    z = torch.randn(50, 4, generator=g, dtype=torch.float64)
    t0, t1, sigma = 1.0, 3.5, 0.7
    t = t0 + (t1 - t0) * torch.rand(50, 1, generator=g, dtype=torch.float64).clamp(0.05, 0.95)
    h = 1e-6
    plus = brownian_bridge(x0, x1, t0, t1, t + h, sigma, noise=z).xt
    minus = brownian_bridge(x0, x1, t0, t1, t - h, sigma, noise=z).xt
    b = brownian_bridge(x0, x1, t0, t1, t, sigma, noise=z)
    torch.testing.assert_close(sf2m_flow_target(b, x0, x1), (plus - minus) / (2 * h), rtol=1e-6, atol=1e-6)


def test_score_is_the_gradient_of_the_gaussian_log_density():
    g = torch.Generator().manual_seed(2)
    x0, x1 = torch.randn(10, 3, generator=g, dtype=torch.float64), torch.randn(10, 3, generator=g, dtype=torch.float64)
    b = brownian_bridge(x0, x1, 0.0, 2.0, 0.6, 1.3, generator=g)
    x = b.xt.clone().requires_grad_(True)
    logp = torch.distributions.Normal(b.mean, b.std.expand_as(b.mean)).log_prob(x).sum()
    (grad,) = torch.autograd.grad(logp, x)
    torch.testing.assert_close(bridge_score(b), grad)


def test_dsbm_targets_point_to_the_endpoints():
    xt, x0, x1 = torch.zeros(2, 2), torch.tensor([[-1.0, 0.0]] * 2), torch.tensor([[2.0, 4.0]] * 2)
    t, t0, t1 = torch.full((2, 1), 0.5), torch.zeros(2, 1), torch.full((2, 1), 2.0)
    torch.testing.assert_close(dsbm_forward_target(x1, xt, t, t1), x1 / 1.5)
    torch.testing.assert_close(dsbm_backward_target(x0, xt, t, t0), x0 / 0.5)
