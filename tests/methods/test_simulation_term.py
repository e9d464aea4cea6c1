"""Simulation matching (``cellbridge/methods/simulation.py``): its energy-distance loss against the closed form,
and a fit with it on against the closed-form Gaussian Schrodinger bridge (``tests/gaussian_bridge.py``)."""

import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.stats import norm

import cellbridge as cb
from cellbridge.methods.simulation import energy_distance_loss
from cellbridge.model import CellBridgeModel

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gaussian_bridge import C_EXACT, D, N_SIM, Z, cross_covariance, cross_covariance_tolerance, endpoints, training_cells  # noqa: E402,E501
from translating_course import FAST, translating_course  # noqa: E402


def _gaussian_energy(mu: float) -> float:
    """Squared energy distance of N(0, 1) and N(mu, 1): 2 E|Z| - 2 E|X - X'|, Z ~ N(mu, 2), X - X' ~ N(0, 2)."""
    s = math.sqrt(2.0)
    e_abs = s * math.sqrt(2 / math.pi) * math.exp(-mu**2 / (2 * s**2)) + mu * (1 - 2 * norm.cdf(-mu / s))
    return 2 * e_abs - 2 * (2 / math.sqrt(math.pi))


def test_energy_distance_loss_closed_form():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(50, 1000, 1, generator=g, dtype=torch.float64)
    y = torch.randn(50, 1000, 1, generator=g, dtype=torch.float64) + 1.0
    same = torch.randn(50, 1000, 1, generator=g, dtype=torch.float64)
    shifted, null = energy_distance_loss(x, y), energy_distance_loss(x, same)
    assert shifted.shape == (50,)
    # one problem's standard deviation is 0.037 at 1000 cells a side (measured over seeds), so the mean of 50
    # has 0.0074: 4 of them
    assert float(shifted.mean()) == pytest.approx(_gaussian_energy(1.0), abs=0.03)
    # equal laws: the U-statistic is unbiased (sd of the mean about 1e-4); the all-pairs V-statistic would be
    # 2 E|X - X'| / n = 0.0023 high
    assert abs(float(null.mean())) < 1e-3


def test_energy_distance_loss_gradient_is_finite_where_points_coincide():
    x = torch.randn(64, 3, dtype=torch.float64, requires_grad=True)
    loss = energy_distance_loss(x, x.detach().clone())
    (grad,) = torch.autograd.grad(loss, x)
    assert torch.isfinite(grad).all()
    # a sample against itself: the cross term counts the n zero distances of the diagonal, the within terms
    # leave them out, so the loss is -2 / n times the mean distance between distinct points (plus the
    # diagonal's smoothed distances sqrt(eps) = 1e-4 in the cross term)
    n = len(x)
    mean_distinct = float(torch.cdist(x.detach(), x.detach()).sum()) / (n * (n - 1))
    assert float(loss.detach()) == pytest.approx(-2 * mean_distinct / n + 2e-4 / n, rel=1e-6)


@pytest.fixture(scope="module")
def gaussian_fit():
    rng = np.random.default_rng(0)
    x, t = training_cells(rng)
    model = CellBridgeModel.fit(x, t, sigma=1.0, n_steps=1500, batch_size=256, n_freqs=4, device="cpu", rng=0,
                                progress=False, simulation_matching=10.0)
    x0, x1 = endpoints(model, rng)
    ode = model.simulate(x0, [0.0, 1.0], stochastic=False, steps_per_interval=100)[-1]
    return model, x0, x1, ode


@pytest.mark.slow
def test_gaussian_bridge_is_kept(gaussian_fit):
    """The flow of the Schrodinger bridge already pushes one marginal onto the next, so the term must not move
    the fit off it: the coupling and the ODE's terminal law stay the closed form's."""
    model, x0, x1, ode = gaussian_fit
    assert abs(cross_covariance(x0, x1) - C_EXACT) < cross_covariance_tolerance()
    assert abs(ode.mean() - 0.1) < Z * math.sqrt(1 / (N_SIM * D))
    assert abs(ode.var(0).mean() - 1.0) < Z * math.sqrt(2 / (N_SIM * D)) + 0.002
    assert model.config["terms"]["simulation"] == {"weight": 10.0}
    assert len(model.history["simulation_loss"]) == 1500


def test_saved_and_recorded(tmp_path):
    adata = translating_course(n=60)
    model = cb.tl.fit(adata, "day", n_steps=20, simulation_matching=2.0, rng=0, **FAST)
    assert adata.uns["cellbridge"]["params"]["simulation_matching"] == 2.0
    model.save(tmp_path / "m")
    loaded = cb.load(tmp_path / "m")
    x0 = adata.obsm["X_pca"][:10]
    np.testing.assert_array_equal(loaded.simulate(x0, [0.0, 1.0], rng=3), model.simulate(x0, [0.0, 1.0], rng=3))
    off = cb.tl.fit(adata, "day", n_steps=20, rng=0, **FAST)
    assert adata.uns["cellbridge"]["params"]["simulation_matching"] == 0.0
    assert "simulation_loss" not in off.history


@pytest.mark.parametrize("kwargs, error, match", [
    ({"simulation_matching": -1.0}, ValueError, "non-negative"),
    ({"simulation_matching": float("nan")}, ValueError, "non-negative"),
    ({"simulation_matching": True}, TypeError, "a number"),
    ({"simulation_matching": 1.0, "method": "dsbm"}, ValueError, "method='sf2m'"),
    ({"simulation_matching": 1.0, "growth": True}, ValueError, "growth"),
])
def test_bad_settings_are_refused(kwargs, error, match):
    adata = translating_course(n=60)
    with pytest.raises(error, match=match):
        cb.tl.fit(adata, "day", n_steps=5, rng=0, **FAST, **kwargs)
    assert "cellbridge" not in adata.uns
