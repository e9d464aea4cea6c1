"""Baselines of leave-one-out against what they must give on problems with a known answer."""

import numpy as np
import pytest

from cellbridge.evaluation import BASELINES, next_snapshot, ot_interpolation, previous_snapshot, random_pair_interpolation


def _cloud(n=80, d=3, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d))


@pytest.mark.parametrize("s", [0.0, 0.3, 0.5, 1.0])
def test_ot_interpolation_of_a_translation_is_the_translated_cloud(s):
    # the optimal map (squared-Euclidean cost) between a cloud and its translate is the translation itself,
    # so McCann's interpolation at s is the cloud moved by s * shift, point for point
    a = _cloud()
    shift = np.array([2.0, -1.0, 0.5])
    pred = ot_interpolation(a, a + shift, s, rng=0)
    np.testing.assert_allclose(np.sort(pred, axis=0), np.sort(a + s * shift, axis=0), atol=1e-12)


def test_ot_interpolation_subsamples_both_sides_to_the_smaller_size():
    pred = ot_interpolation(_cloud(50), _cloud(70, seed=1), 0.5, rng=0, max_cells=40)
    assert pred.shape == (40, 3)
    assert ot_interpolation(_cloud(50), _cloud(70, seed=1), 0.5, rng=0).shape == (50, 3)


def test_random_pairs_keep_the_interpolated_mean_and_shrink_the_spread():
    # with equal sizes every cell is used once, so the mean is exactly (1 - s) mean(a) + s mean(b); pairing
    # independent clouds at s = 1/2 halves the variance: Var = (1/4 + 1/4) Var(a) for clouds of equal spread
    a, b = _cloud(4000, 2, 0), _cloud(4000, 2, 1) + 3.0
    pred = random_pair_interpolation(a, b, 0.5, rng=0, max_cells=None)
    np.testing.assert_allclose(pred.mean(0), 0.5 * a.mean(0) + 0.5 * b.mean(0), atol=1e-12)
    # relative sd of a sample variance is sqrt(2 / n) = 2.2%: 5 sds
    np.testing.assert_allclose(pred.var(0), 0.5 * np.ones(2), rtol=0.12)


def test_snapshots_are_copies_and_same_seed_same_prediction():
    a, b = _cloud(), _cloud(seed=1)
    p = previous_snapshot(a, b, 0.5)
    p[0, 0] = 99.0
    assert a[0, 0] != 99.0
    np.testing.assert_array_equal(next_snapshot(a, b, 0.5), b)
    np.testing.assert_array_equal(random_pair_interpolation(a, b, 0.5, rng=3), random_pair_interpolation(a, b, 0.5, rng=3))
    assert list(BASELINES) == ["previous", "next", "random_pairs", "ot_interpolation"]


@pytest.mark.parametrize("s", [-0.1, 1.5])
def test_position_outside_the_interval_is_rejected(s):
    with pytest.raises(ValueError, match="must lie in"):
        ot_interpolation(_cloud(), _cloud(), s)


def test_mismatched_widths_are_rejected():
    with pytest.raises(ValueError, match="same number of columns"):
        random_pair_interpolation(_cloud(d=2), _cloud(d=3), 0.5)
