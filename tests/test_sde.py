"""Integrators against closed forms."""

import math

import pytest
import torch

from cellbridge.sde import integrate


def test_euler_maruyama_matches_the_exact_variance_of_the_scheme():
    """OU process dx = -theta x dt + sigma dW from 0: Euler-Maruyama gives x_{k+1} = (1 - theta h) x_k +
    sigma sqrt(h) z exactly, so Var x_N = sigma^2 h sum_k (1 - theta h)^(2k). The sample variance of n
    paths has standard error sqrt(2/(n-1)) Var; we allow five.
    """
    theta, sigma, T, n, dt = 1.5, 0.8, 2.0, 100_000, 0.05
    x0 = torch.zeros(n, 2, dtype=torch.float64)
    xT = integrate(lambda t, x: -theta * x, x0, [0.0, T], dt=dt, sigma=sigma,
                   generator=torch.Generator().manual_seed(0), return_path=False)
    N = round(T / dt)
    var = sigma**2 * dt * sum((1 - theta * dt) ** (2 * k) for k in range(N))
    assert (xT.var(0) - var).abs().max() < 5 * math.sqrt(2 / (n - 1)) * var
    assert xT.mean(0).abs().max() < 5 * math.sqrt(var / n)


@pytest.mark.parametrize("method, order", [("euler", 1), ("heun", 2), ("rk4", 4)])
def test_ode_convergence_order(method, order):
    """dx/dt = -x: halving the step divides the error at t = 1 by 2^order (within 25%)."""
    x0 = torch.ones(1, 1, dtype=torch.float64)
    errs = [abs(integrate(lambda t, x: -x, x0, [0.0, 1.0], dt=h, method=method, return_path=False).item() - math.exp(-1))
            for h in (0.1, 0.05)]
    assert errs[0] / errs[1] == pytest.approx(2**order, rel=0.25)


def test_path_lands_on_output_times_and_runs_backwards():
    """Time-dependent drift dx/dt = 2t has x(t) = x0 + t^2: Heun is exact for it at any step size."""
    x0 = torch.zeros(3, 1, dtype=torch.float64)
    path = integrate(lambda t, x: torch.full_like(x, 2 * t), x0, [0.0, 0.3, 1.0, 2.5], dt=0.2, method="heun")
    torch.testing.assert_close(path[:, 0, 0], torch.tensor([0.0, 0.09, 1.0, 6.25], dtype=torch.float64))
    back = integrate(lambda t, x: torch.full_like(x, 2 * t), path[-1], [2.5, 0.0], dt=0.2, method="heun", return_path=False)
    torch.testing.assert_close(back, x0)


def test_bad_arguments():
    x0 = torch.zeros(2, 1)
    with pytest.raises(ValueError, match="Euler-Maruyama"):
        integrate(lambda t, x: x, x0, [0, 1], dt=0.1, sigma=1.0, method="rk4")
    with pytest.raises(ValueError, match="monotone"):
        integrate(lambda t, x: x, x0, [0, 1, 0.5], dt=0.1)
    with pytest.raises(ValueError, match="unknown method"):
        integrate(lambda t, x: x, x0, [0, 1], dt=0.1, method="midpoint")
