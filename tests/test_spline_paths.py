"""Multi-marginal spline paths and chain sampling against closed forms and scipy."""

import numpy as np
import pytest
import torch
from scipy.interpolate import CubicSpline, PchipInterpolator

from cellbridge.ot import sample_chains
from cellbridge.paths import (
    brownian_bridge,
    gaussian_path_flow_target,
    hermite_path,
    monotone_slopes,
    natural_spline_matrix,
    sf2m_flow_target,
    spline_path,
)


def _nodes(K=5, n=7, d=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    knots = torch.tensor([0.0, 0.5, 1.5, 2.0, 3.5][:K], dtype=torch.float64)
    return knots, torch.randn((K, n, d), generator=g, dtype=torch.float64)


def test_tension_one_is_scipys_natural_cubic_spline():
    knots, nodes = _nodes()
    W = natural_spline_matrix(knots)
    s = torch.rand((len(knots) - 1, nodes.shape[1], 1), generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    mean, vel = spline_path(nodes, knots, W, s, tension=1.0)
    cs = CubicSpline(knots.numpy(), nodes.numpy(), axis=0, bc_type="natural")
    for k in range(len(knots) - 1):
        t = (knots[k] + s[k, :, 0] * (knots[k + 1] - knots[k])).numpy()
        n_idx = np.arange(nodes.shape[1])
        np.testing.assert_allclose(mean[k].numpy(), cs(t)[n_idx, n_idx], rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(vel[k].numpy(), cs(t, 1)[n_idx, n_idx], rtol=1e-10, atol=1e-10)


def test_tension_zero_is_piecewise_linear_and_every_tension_meets_the_nodes():
    knots, nodes = _nodes()
    W = natural_spline_matrix(knots)
    s = torch.full((len(knots) - 1, nodes.shape[1], 1), 0.3, dtype=torch.float64)
    mean, vel = spline_path(nodes, knots, W, s, tension=0.0)
    h = (knots[1:] - knots[:-1]).reshape(-1, 1, 1)
    torch.testing.assert_close(mean, 0.7 * nodes[:-1] + 0.3 * nodes[1:])
    torch.testing.assert_close(vel, (nodes[1:] - nodes[:-1]) / h)
    for tension in (0.5, 1.0):
        for s_end, side in ((0.0, nodes[:-1]), (1.0, nodes[1:])):
            m, _ = spline_path(nodes, knots, W, torch.full_like(s, s_end), tension)
            torch.testing.assert_close(m, side)


def test_two_knots_have_no_curvature():
    assert torch.count_nonzero(natural_spline_matrix([0.0, 2.0])) == 0
    with pytest.raises(ValueError, match="increasing"):
        natural_spline_matrix([0.0, 1.0, 1.0])


def test_flow_target_is_the_time_derivative_of_the_noisy_path():
    # x(t) = mu(t) + sigma sqrt(Delta s (1 - s)) z for fixed z: its central difference in t is the target
    knots, nodes = _nodes(K=4, n=5)
    W = natural_spline_matrix(knots)
    g = torch.Generator().manual_seed(2)
    z = torch.randn(nodes[:-1].shape, generator=g, dtype=torch.float64)
    s = 0.1 + 0.8 * torch.rand((3, 5, 1), generator=g, dtype=torch.float64)
    h = (knots[1:] - knots[:-1]).reshape(-1, 1, 1)
    sigma = 0.7

    def x_at(s_):
        m, _ = spline_path(nodes, knots, W, s_, 0.6)
        return m + sigma * torch.sqrt(h * s_ * (1 - s_)) * z

    ds = 1e-6
    fd = (x_at(s + ds) - x_at(s - ds)) / (2 * ds * h)
    mean, vel = spline_path(nodes, knots, W, s, 0.6)
    u = gaussian_path_flow_target(x_at(s), mean, vel, s, h)
    torch.testing.assert_close(u, fd, rtol=1e-6, atol=1e-6)


def test_straight_mean_gives_the_sf2m_target():
    g = torch.Generator().manual_seed(3)
    x0, x1 = torch.randn((50, 2), generator=g), torch.randn((50, 2), generator=g)
    t = 1.0 + 2.0 * torch.rand((50, 1), generator=g)
    b = brownian_bridge(x0, x1, 1.0, 3.0, t, 0.5, generator=g)
    torch.testing.assert_close(gaussian_path_flow_target(b.xt, b.mean, (x1 - x0) / 2.0, b.s, b.delta), sf2m_flow_target(b, x0, x1))


def test_chains_follow_each_plan():
    # balanced 3 x 3 plans with uniform marginals: consecutive indices must be distributed as each plan
    P1 = torch.tensor([[0.2, 0.1, 0.0333333], [0.0, 0.1333333, 0.2], [0.1333333, 0.1, 0.1]], dtype=torch.float64)
    P1 = P1 / P1.sum()
    P2 = torch.tensor([[1, 0, 0], [0, 0.5, 0.5], [0, 0.5, 0.5]], dtype=torch.float64) / 3
    plans = torch.stack([P1, P2])
    n = 200_000
    chains = sample_chains(plans, n, generator=torch.Generator().manual_seed(0))
    assert chains.shape == (3, n)
    for k, P in enumerate((P1, P2)):
        freq = torch.zeros((3, 3), dtype=torch.float64)
        freq.index_put_((chains[k], chains[k + 1]), torch.ones(n, dtype=torch.float64), accumulate=True)
        freq /= n
        # each cell's frequency has sd sqrt(p (1 - p) / n) <= 0.0011: 5 sd
        expected = P1 if k == 0 else (P1.sum(0)[:, None] * P2 / P2.sum(1, keepdim=True))
        assert torch.allclose(freq, expected, atol=5 * 0.0011), (k, freq, expected)


@pytest.mark.parametrize("K", [2, 3, 4, 6])
def test_monotone_hermite_path_is_scipys_pchip(K):
    """Values, velocities and node slopes of the PCHIP path against scipy, per trajectory and coordinate."""
    rng = np.random.default_rng(K)
    knots = np.sort(rng.uniform(0, 5, K))
    y = rng.normal(size=(K, 6, 3))
    y[:, 0, 0] = np.arange(K)  # one monotone coordinate, one flat one
    y[:, 1, 1] = 1.0
    nodes, kt = torch.tensor(y), torch.tensor(knots)
    slopes = monotone_slopes(nodes, kt)
    s = torch.rand((K - 1, 6, 1), dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    mean, velocity = hermite_path(nodes, slopes, kt, s)
    for i in range(6):
        tt = knots[:-1] + s[:, i, 0].numpy() * np.diff(knots)
        for j in range(3):
            ref = PchipInterpolator(knots, y[:, i, j])
            np.testing.assert_allclose(mean[:, i, j].numpy(), ref(tt), atol=1e-12)
            np.testing.assert_allclose(velocity[:, i, j].numpy(), ref.derivative()(tt), atol=1e-11)
            np.testing.assert_allclose(slopes[:, i, j].numpy(), ref.derivative()(knots), atol=1e-11)


def test_monotone_path_stays_between_its_nodes_where_the_natural_spline_overshoots():
    """A zigzag chain (noisy couplings): the PCHIP path never leaves the range of each interval's two nodes
    (Fritsch-Carlson), while the natural spline through the same nodes overshoots them."""
    knots = torch.tensor([0.0, 1.0, 3.0, 4.0, 5.0], dtype=torch.float64)
    zigzag = torch.tensor([0.0, 1.0, -1.0, 1.0, 0.5], dtype=torch.float64).reshape(5, 1, 1)
    s = torch.linspace(0, 1, 201, dtype=torch.float64).reshape(1, -1, 1).expand(4, -1, -1)
    nodes = zigzag.expand(-1, 201, -1)
    lo = torch.minimum(nodes[:-1], nodes[1:]) - 1e-12
    hi = torch.maximum(nodes[:-1], nodes[1:]) + 1e-12
    mono, _ = hermite_path(nodes, monotone_slopes(nodes, knots), knots, s)
    assert bool(((mono >= lo) & (mono <= hi)).all())
    natural, _ = spline_path(nodes, knots, natural_spline_matrix(knots), s)
    assert float((natural - hi).clamp_min(0).max() + (lo - natural).clamp_min(0).max()) > 0.2
