"""Tests of cellbridge.ot.progress: within-snapshot progress and refined time points."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from cellbridge.ot.progress import refine_time_points, snapshot_progress


def curved_flow(n: int = 1000, noise: float = 0.05, seed: int = 0):
    """Cells at continuous times tau ~ U(0, 5) on the curve (tau, sin tau), sampled in 5 unit snapshots."""
    rng = np.random.default_rng(seed)
    tau = rng.uniform(0, 5, n)
    x = np.c_[tau, np.sin(tau)] + noise * rng.normal(size=(n, 2))
    return x, np.floor(tau), tau


def test_progress_orders_cells_by_their_hidden_time():
    # within a unit snapshot tau has sd 0.29; noise of 0.05 misorders only cells closer than that, so the
    # rank correlation is about 0.98-0.99 in every snapshot, the first and last (one neighbour) included
    x, t, tau = curved_flow()
    progress = snapshot_progress(x, t)
    rho = [spearmanr(progress[t == k], tau[t == k])[0] for k in range(5)]
    assert min(rho) > 0.95, rho


def test_progress_of_a_steady_shift_is_the_offset_from_the_snapshot_mean():
    # every snapshot is the same cloud shifted by one unit along x: the images are the cell +- 1 exactly,
    # the direction of motion is e_1, and the progress is the cell's x offset from its snapshot's mean
    rng = np.random.default_rng(1)
    base = rng.normal(size=(40, 3))
    x = np.concatenate([base + [k, 0.0, 0.0] for k in range(3)])
    t = np.repeat([0.0, 1.0, 2.0], 40)
    progress = snapshot_progress(x, t)
    expected = np.tile(base[:, 0] - base[:, 0].mean(), 3)
    np.testing.assert_allclose(progress, expected, atol=1e-10)


def test_refined_times_split_each_snapshot_evenly_and_in_order():
    t = np.repeat([0.0, 1.0, 4.0], 30)
    progress = np.random.default_rng(2).normal(size=90)
    refined = refine_time_points(t, progress, 3)
    # delta = smallest gap beside each time point / 3: 1/3 at 0 and 1, 1 at 4
    expected = {0.0: [-1 / 3, 0, 1 / 3], 1.0: [2 / 3, 1, 4 / 3], 4.0: [3, 4, 5]}
    for tp, times in expected.items():
        sub = refined[t == tp]
        values, counts = np.unique(sub, return_counts=True)
        np.testing.assert_allclose(values, times)
        assert counts.tolist() == [10, 10, 10]
        # the order follows progress: every cell of a later sub-snapshot has a higher score
        p = progress[t == tp]
        for lo, hi in zip(times[:-1], times[1:]):
            assert p[np.isclose(sub, lo)].max() < p[np.isclose(sub, hi)].min()
    np.testing.assert_array_equal(refine_time_points(t, progress, 1), t)


@pytest.mark.parametrize(
    ("t", "progress", "n_sub", "match"),
    [
        (np.repeat([0.0, 1.0], 5), np.zeros(10), 6, "smallest snapshot"),
        (np.repeat([0.0, 1.0], 5), np.zeros(10), 0, "n_sub"),
        (np.repeat([0.0, 1.0], 5), np.zeros(9), 2, "same length"),
        (np.zeros(10), np.zeros(10), 2, "two time points"),
    ],
)
def test_refine_time_points_rejects_bad_input(t, progress, n_sub, match):
    with pytest.raises(ValueError, match=match):
        refine_time_points(t, progress, n_sub)


def test_progress_rejects_bad_input():
    with pytest.raises(ValueError, match="two time points"):
        snapshot_progress(np.zeros((4, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="finite"):
        snapshot_progress(np.array([[0.0], [np.nan]]), np.array([0.0, 1.0]))
