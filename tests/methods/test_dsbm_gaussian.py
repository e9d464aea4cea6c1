"""DSBM's Iterative Markovian Fitting against the closed-form Gaussian iterates.

N(-0.1, I) at t = 0 to N(0.1, I) at t = 1 in d = 5, reference sigma = 1, from the independent coupling.
Every coordinate is an independent 1-D problem. For a Gaussian coupling with variances (v0, v1) and
cross-covariance c, the Markovian projection's forward drift is linear, f(t, x) = a(t) + beta(t) (x - m_t),
with beta(t) = (Cov(X1, X_t) / Var(X_t) - 1) / (1 - t), Cov(X1, X_t) = (1 - t) c + t v1 and
Var(X_t) = (1 - t)^2 v0 + t^2 v1 + 2 t (1 - t) c + sigma^2 t (1 - t). Along dx = f dt + sigma dW the
cross-covariance with the start obeys d Cov(X0, X_t) = beta Cov(X0, X_t) dt, so one IMF iterate maps c to
v0 exp(int_0^1 beta dt) (the backward projection is the mirror image). From c = 0 this gives
0.546, 0.611, 0.617, 0.618 (BRIEF, section 2): the Schrodinger bridge's (sqrt(5) - 1) / 2.

Euler-Maruyama with n steps replaces exp(int beta) by prod_k (1 + h beta(t_k)) and the variance by the
recursion V <- (1 + h beta)^2 V + sigma^2 h; the same recursion, started from the data's variance 1 while the
drift was fitted to pairs whose simulated side has the Euler variance, gives the iterates a perfect
network would produce with ``sim_steps`` steps. Their distance to the exact iterates is the Euler bias.

Tolerances, for averages over the d coordinates (z = 4 standard errors):
* the N_TEST simulated endpoints: standard errors sqrt((1 + c^2) / (N d)) (cross-covariance; a product of
  unit Gaussians with correlation c), sqrt(2 / (N d)) (variance), sqrt(1 / (N d)) (mean);
* the N_SIM training pairs of each coupling carry the same errors (counted once, though refreshed pairs
  average several sets), and the networks reproduce the coupling they were fitted to;
* plus the Euler bias computed as above (100 steps: 0.4% of the first cross-covariance, 0.5% of a variance).
The training snapshots are whitened to exact moments, so the population iterates are the target.
"""

import math

import numpy as np
import pytest
import torch
from scipy.integrate import quad

from cellbridge.methods import DSBMConfig, DSBMTrainer

D, SIGMA, MEAN = 5, 1.0, 0.1
N_DATA, N_SIM, N_TEST, SIM_STEPS, Z = 10_000, 10_000, 20_000, 100, 4.0


def _beta(t, c, v0, v1, sigma=SIGMA):
    var_t = (1 - t) ** 2 * v0 + t**2 * v1 + 2 * t * (1 - t) * c + sigma**2 * t * (1 - t)
    return (((1 - t) * c + t * v1) / var_t - 1) / (1 - t)


def exact_iterates(n, c=0.0):
    """Cross-covariances of the first ``n`` IMF iterates in continuous time (unit variances throughout)."""
    out = []
    for _ in range(n):
        c = math.exp(quad(lambda t: _beta(t, c, 1.0, 1.0), 0, 1)[0])
        out.append(c)
    return out


def euler_iterates(n, steps, c=0.0):
    """(cross-covariance, simulated variance) of the first ``n`` iterates with Euler-Maruyama drift simulation."""
    h = 1.0 / steps
    v_fit_start, v_fit_end = 1.0, 1.0  # variances of the fitted pairs, oriented along the fitted direction
    out = []
    for _ in range(n):
        cov, var = 1.0, 1.0  # simulated from fresh data (variance 1) at the start side
        betas = [_beta(k * h, c, v_fit_start, v_fit_end) for k in range(steps)]
        for b in betas:
            cov *= 1 + h * b
            var = (1 + h * b) ** 2 * var + SIGMA**2 * h
        c = cov
        out.append((cov, var))
        # the next direction fits these pairs from their simulated side (its start) to the data side (its end)
        v_fit_start, v_fit_end = var, 1.0
    return out


def _whitened(rng, n, mean):
    z = rng.normal(size=(n, D))
    z -= z.mean(0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z.T, bias=True))).T
    return (z + mean).astype(np.float32)


def test_closed_form_iterates():
    """The population iterates of the brief, and the Schrodinger bridge as their limit."""
    c = exact_iterates(6)
    np.testing.assert_allclose(c[:4], [0.546, 0.611, 0.617, 0.618], atol=6e-4)
    assert c[-1] == pytest.approx((math.sqrt(4 + SIGMA**4) - SIGMA**2) / 2, abs=1e-4)
    # Euler: about -0.4% on the first iterate at 100 steps, -4% at 20, and vanishing as steps grow
    e100, e20, e2000 = euler_iterates(4, 100), euler_iterates(4, 20), euler_iterates(4, 2000)
    assert abs(e100[0][0] / c[0] - 1) < 0.01 and abs(e20[0][0] / c[0] - 1) < 0.05
    assert all(abs(a[0] - b) < 1e-3 for a, b in zip(e2000, c))


@pytest.fixture(scope="module")
def imf_run():
    """Four IMF iterations from the independent coupling; after each, the simulated endpoints of N_TEST cells."""
    rng = np.random.default_rng(0)
    x = np.concatenate([_whitened(rng, N_DATA, -MEAN), _whitened(rng, N_DATA, MEAN)])
    t = np.repeat([0.0, 1.0], N_DATA)
    cfg = DSBMConfig(sigma=SIGMA, n_iterations=4, n_steps=1500, batch_size=512, n_sim=N_SIM, refresh_every=300,
                     init_coupling="independent", first_direction="backward", sim_steps=SIM_STEPS)
    trainer = DSBMTrainer(x, t, cfg, device="cpu", rng=0)
    x0_test = torch.from_numpy(_whitened(rng, N_TEST, -MEAN))[None]
    x1_test = torch.from_numpy(_whitened(rng, N_TEST, MEAN))[None]
    results = []
    for it in range(4):
        direction = trainer.run_iteration()["direction"]
        gen = torch.Generator().manual_seed(100 + it)
        if direction == "forward":
            start, end = x0_test[0], trainer.simulate(x0_test, "forward", generator=gen)[0]
            sim, target_mean = end, MEAN
        else:
            end, start = x1_test[0], trainer.simulate(x1_test, "backward", generator=gen)[0]
            sim, target_mean = start, -MEAN
        a, b = start.numpy().astype(np.float64), end.numpy().astype(np.float64)
        cross = float(np.mean([np.cov(a[:, k], b[:, k])[0, 1] for k in range(D)]))
        results.append({"direction": direction, "cross": cross, "var": float(sim.double().var(0).mean()),
                        "mean": float(sim.double().mean()), "target_mean": target_mean})
    return trainer, results


@pytest.mark.slow
def test_iterates_alternate_and_history(imf_run):
    trainer, results = imf_run
    assert [r["direction"] for r in results] == ["backward", "forward", "backward", "forward"]
    hist = trainer.history()
    assert list(hist["iteration_steps"]) == [1500] * 4 and len(hist["loss"]) == 6000
    # the pairs tighten from the independent coupling (E|x1 - x0|^2 = d (2 + 0.04)) towards the bridge's
    # d (2 - 2 * 0.618 + 0.04)
    cost = hist["iteration_pair_cost"]
    assert cost[0] == pytest.approx(D * 2.04, rel=0.03) and cost[-1] == pytest.approx(D * (2.04 - 2 * 0.618), rel=0.05)


@pytest.mark.slow
def test_cross_covariance_follows_the_closed_form_iterates(imf_run):
    """0.546 after the first iteration (not 0, not 0.618), 0.618 after three more."""
    _, results = imf_run
    exact = exact_iterates(4)
    euler = euler_iterates(4, SIM_STEPS)
    for r, c, (c_euler, _) in zip(results, exact, euler):
        se = math.sqrt((1 + c**2) / (N_TEST * D) + (1 + c**2) / (N_SIM * D))
        tol = Z * se + abs(c_euler - c)
        assert abs(r["cross"] - c) < tol, (r, c, tol)
    assert results[0]["cross"] < 0.6 and results[-1]["cross"] > 0.59  # the first iterate is not the bridge


@pytest.mark.slow
def test_endpoint_marginals_stay_put(imf_run):
    """Every iterate's simulated endpoint keeps the data's mean and unit variance."""
    _, results = imf_run
    euler = euler_iterates(4, SIM_STEPS)
    for r, (_, v_euler) in zip(results, euler):
        se_var = math.sqrt(2 / (N_TEST * D) + 2 / (N_SIM * D))
        assert abs(r["var"] - 1.0) < Z * se_var + abs(v_euler - 1.0), r
        se_mean = math.sqrt(1 / (N_TEST * D) + 1 / (N_SIM * D))
        assert abs(r["mean"] - r["target_mean"]) < Z * se_mean, r
