"""Tests of cellbridge.metrics against closed forms, SciPy and exact identities."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
import torch

from cellbridge.metrics import energy_distance, mmd_rbf, wasserstein


def _cloud(n: int = 300, d: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, d))


# --- Wasserstein ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("p", [1, 2])
def test_translation_moves_every_cell_by_the_shift(p):
    # W_p(mu, mu + v) = |v| exactly, for p = 1 (dual witness f(x) = <x, v/|v|>) and p = 2 (the
    # translation is the gradient of a convex function, hence the optimal map).
    x = _cloud()
    v = np.array([0.3, -1.2, 2.0])
    assert wasserstein(x, x + v, p=p) == pytest.approx(np.linalg.norm(v), abs=1e-6)


def test_identical_clouds_are_at_distance_zero():
    x = _cloud()
    assert wasserstein(x, x) == pytest.approx(0.0, abs=1e-12)


def test_w2_one_dimension_equals_sorted_quantile_formula():
    # In 1-D with equal sample sizes the optimal plan matches order statistics.
    rng = np.random.default_rng(1)
    x = rng.normal(0.0, 1.0, size=(400, 1))
    y = rng.exponential(2.0, size=(400, 1))
    expected = np.sqrt(np.mean((np.sort(x[:, 0]) - np.sort(y[:, 0])) ** 2))
    assert wasserstein(x, y, p=2) == pytest.approx(expected, rel=1e-9)


def test_w1_one_dimension_matches_scipy_with_unequal_sizes():
    rng = np.random.default_rng(2)
    x = rng.normal(0.0, 1.0, size=(300, 1))
    y = rng.normal(0.5, 2.0, size=(170, 1))
    expected = scipy.stats.wasserstein_distance(x[:, 0], y[:, 0])
    assert wasserstein(x, y, p=1) == pytest.approx(expected, rel=1e-9)


def test_w2_affine_pushforward_is_exact():
    # y_i = m1 + (s1/s0)(x_i - m0): an affine map with a positive scaling is the gradient of a convex
    # function, so it is the optimal coupling of the two empirical measures and
    # W2^2 = mean |y_i - x_i|^2 exactly.
    rng = np.random.default_rng(3)
    m0, m1, s0, s1 = np.array([0.0, 0.0]), np.array([3.0, 0.0]), 1.0, 2.0
    x = m0 + s0 * rng.standard_normal((500, 2))
    y = m1 + (s1 / s0) * (x - m0)
    expected = np.sqrt(np.mean(np.sum((y - x) ** 2, axis=1)))
    assert wasserstein(x, y, p=2) == pytest.approx(expected, rel=1e-9)


def test_w2_gaussian_samples_approach_closed_form():
    # W2(N(m0, s0^2 I), N(m1, s1^2 I)) = sqrt(|m0 - m1|^2 + d (s0 - s1)^2) = sqrt(11) here.
    # Tolerance from the sample size: the empirical W2^2 fluctuates like (phi(X) + psi(Y)) / n summed,
    # with the Kantorovich potentials phi(x) = -|x|^2 - 6 x_1 (Var 40 under N(0, I_2)) and
    # psi(y) = |w|^2 / 2 + 6 w_1 + 9, w = y - m1 (Var 160 under N(0, 4 I_2)), so
    # sd(W2^2) ~ sqrt(200 / n) = 0.32 and sd(W2) ~ 0.32 / (2 sqrt(11)) = 0.048 at n = 2000
    # (measured over 20 seeds at n = 1000: sd 0.021 relative, as predicted). The bias of the empirical
    # estimate in 2-D is O(log n / n), below 1% here. 0.25 is about 5 standard deviations.
    rng = np.random.default_rng(4)
    n, d = 2000, 2
    m0, m1, s0, s1 = np.array([0.0, 0.0]), np.array([3.0, 0.0]), 1.0, 2.0
    x = m0 + s0 * rng.standard_normal((n, d))
    y = m1 + s1 * rng.standard_normal((n, d))
    exact = np.sqrt(np.sum((m0 - m1) ** 2) + d * (s0 - s1) ** 2)
    assert wasserstein(x, y, p=2, max_cells=None) == pytest.approx(exact, abs=0.25)


@pytest.mark.parametrize("p", [1, 2])
def test_symmetry(p):
    x = _cloud(200, seed=5)
    y = _cloud(150, seed=6) * 1.5 + 0.7
    assert wasserstein(x, y, p=p) == pytest.approx(wasserstein(y, x, p=p), rel=1e-9)


def test_torch_and_float32_inputs_give_the_numpy_value():
    x = _cloud(100, seed=7)
    y = _cloud(120, seed=8) + 1.0
    ref = wasserstein(x, y)
    got = wasserstein(torch.tensor(x, requires_grad=True), torch.tensor(y))
    assert got == pytest.approx(ref, rel=1e-12)
    assert isinstance(got, float)
    assert wasserstein(x.astype(np.float32), y.astype(np.float32)) == pytest.approx(ref, rel=1e-5)


def test_subsampling_is_reproducible_and_seeded():
    x = _cloud(400, seed=9)
    y = _cloud(350, seed=10) + 0.5
    a = wasserstein(x, y, max_cells=100, rng=3)
    b = wasserstein(x, y, max_cells=100, rng=3)
    c = wasserstein(x, y, max_cells=100, rng=4)
    assert a == b
    assert a != c  # a different subsample gives a different value
    assert wasserstein(x, y, max_cells=100, rng=np.random.default_rng(3)) == a
    # no subsampling below the threshold: the seed does not matter
    assert wasserstein(x, y, max_cells=1000, rng=1) == wasserstein(x, y, max_cells=None, rng=2)


def test_subsampling_draws_distinct_rows_of_the_input():
    from cellbridge.metrics import _prepare

    x = _cloud(300, seed=11)
    y = _cloud(50, seed=12)
    xs, ys = _prepare(x, y, 100, 5)
    assert xs.shape == (100, 3)
    assert np.unique(xs, axis=0).shape[0] == 100  # without replacement: no row drawn twice
    assert all(np.any(np.all(x == row, axis=1)) for row in xs)  # every row is a row of x
    np.testing.assert_array_equal(ys, y)  # the smaller side is left alone
    # exact zero for identical clouds (costs computed from differences, not expanded squares)
    assert wasserstein(xs, xs) == 0.0


@pytest.mark.parametrize(
    "x, y, match",
    [
        (np.zeros(5), np.zeros((5, 1)), "2-D"),
        (np.zeros((5, 2)), np.zeros((5, 3)), "same number of columns"),
        (np.array([[0.0, np.nan]]), np.zeros((3, 2)), "NaN"),
        (np.zeros((3, 2)), np.array([[np.inf, 0.0]]), "NaN or infinite"),
        (np.zeros((0, 2)), np.zeros((3, 2)), "no rows"),
    ],
)
def test_bad_inputs_raise(x, y, match):
    with pytest.raises(ValueError, match=match):
        wasserstein(x, y)


def test_bad_order_and_max_cells_raise():
    x = _cloud(10)
    with pytest.raises(ValueError, match="p must be 1 or 2"):
        wasserstein(x, x, p=3)
    with pytest.raises(ValueError, match="max_cells"):
        wasserstein(x, x, max_cells=0)


# --- MMD and energy distance ----------------------------------------------------------------------------


def test_mmd_matches_gaussian_closed_form():
    # For X ~ N(a, s^2 I_d), Y ~ N(b, r^2 I_d) and k(u, v) = exp(-|u - v|^2 / (2 h^2)):
    # E k(X, Y) = (h^2 / (h^2 + s^2 + r^2))^{d/2} exp(-|a - b|^2 / (2 (h^2 + s^2 + r^2))).
    # The V-statistic adds k(x, x) = 1 on the diagonal (bias (1 - E k(X, X')) / n per term, ~1e-3 here)
    # and fluctuates at O(n^{-1/2} * kernel scale) ~ 0.01; tolerance 0.02.
    d, h, s, r = 2, 1.5, 1.0, 1.0
    a, b = np.zeros(d), np.array([1.0, 0.5])
    rng = np.random.default_rng(12)
    n = 2000
    x = a + s * rng.standard_normal((n, d))
    y = b + r * rng.standard_normal((n, d))

    def ek(v1, v2, mean_diff):
        tot = h**2 + v1 + v2
        return (h**2 / tot) ** (d / 2) * np.exp(-np.sum(mean_diff**2) / (2 * tot))

    exact = ek(s**2, s**2, a - a) + ek(r**2, r**2, b - b) - 2 * ek(s**2, r**2, a - b)
    got = mmd_rbf(x, y, bandwidth=h, max_cells=None)
    assert got == pytest.approx(exact, abs=0.02)
    assert mmd_rbf(x, x, bandwidth=h) == pytest.approx(0.0, abs=1e-12)


def test_mmd_median_heuristic_matches_a_direct_computation():
    from scipy.spatial.distance import pdist

    x = _cloud(60, seed=13)
    y = _cloud(40, seed=14) + 0.8
    h = np.median(pdist(np.concatenate([x, y])))
    assert mmd_rbf(x, y) == pytest.approx(mmd_rbf(x, y, bandwidth=h), rel=1e-12)
    assert mmd_rbf(x, y) == pytest.approx(mmd_rbf(y, x), rel=1e-12)
    with pytest.raises(ValueError, match="bandwidth"):
        mmd_rbf(x, y, bandwidth=-1.0)


def test_energy_distance_matches_scipy_in_one_dimension():
    rng = np.random.default_rng(15)
    x = rng.normal(0.0, 1.0, size=(250, 1))
    y = rng.normal(0.7, 1.5, size=(180, 1))
    expected = scipy.stats.energy_distance(x[:, 0], y[:, 0])
    assert energy_distance(x, y) == pytest.approx(expected, rel=1e-9)
    assert energy_distance(x, x) == pytest.approx(0.0, abs=1e-9)
    assert energy_distance(x, y) == pytest.approx(energy_distance(y, x), rel=1e-12)


@pytest.mark.parametrize("n, m", [(301, 250), (2, 3)])
def test_torch_device_path_equals_numpy(n, m):
    # the torch path (used on accelerators) computes the same statistics, median bandwidth included
    # (an even number of pairs for n + m = 5: NumPy's mean of the two middle values); torch.cdist's
    # matrix-product form loses a few float64 digits, hence 1e-8 and not exact equality
    r = np.random.default_rng(1)
    x, y = r.normal(size=(n, 4)), r.normal(size=(m, 4)) + 0.4
    assert mmd_rbf(x, y, device="cpu") == pytest.approx(mmd_rbf(x, y), rel=1e-8, abs=1e-12)
    assert mmd_rbf(x, y, 0.7, device="cpu") == pytest.approx(mmd_rbf(x, y, 0.7), rel=1e-8, abs=1e-12)
    assert energy_distance(x, y, device="cpu") == pytest.approx(energy_distance(x, y), rel=1e-8)
    # and subsamples the same cells from the same seed
    assert energy_distance(x, y, max_cells=100, rng=3, device="cpu") == pytest.approx(
        energy_distance(x, y, max_cells=100, rng=3), rel=1e-8)
