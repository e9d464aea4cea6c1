"""The kNN rule that maps simulated states onto observed cells."""

import numpy as np
import pytest

from cellbridge.neighbors import CellAssigner, assign_to_cells, cell_spacing


def grid(n=10):
    return np.stack(np.meshgrid(np.arange(n), np.arange(n)), -1).reshape(-1, 2).astype(float)


def test_spacing_of_a_unit_grid_is_one():
    assert cell_spacing(grid()) == pytest.approx(1.0)


def test_rows_are_distributions_over_the_nearest_cells():
    rng = np.random.default_rng(0)
    ref, states = rng.normal(size=(200, 3)), rng.normal(size=(50, 3))
    w = assign_to_cells(ref, states, n_neighbors=7)
    assert w.shape == (50, 200)
    np.testing.assert_allclose(np.asarray(w.sum(axis=1)).ravel(), 1.0, atol=1e-12)
    assert (w.getnnz(axis=1) == 7).all() and w.min() >= 0


def test_a_state_on_a_cell_keeps_most_of_its_mass_and_a_midpoint_splits_it():
    ref = grid()
    w = assign_to_cells(ref, np.array([[3.0, 4.0], [3.5, 0.0]]), n_neighbors=9).toarray()
    on = int(np.flatnonzero((ref == [3.0, 4.0]).all(1))[0])
    # h = 1: the four grid neighbours at distance 1 get exp(-1/2) each, the diagonal ones exp(-1)
    expect = 1.0 / (1.0 + 4 * np.exp(-0.5) + 4 * np.exp(-1.0))
    assert w[0, on] == pytest.approx(expect, rel=1e-9)
    left, right = (int(np.flatnonzero((ref == p).all(1))[0]) for p in ([3.0, 0.0], [4.0, 0.0]))
    assert w[1, left] == pytest.approx(w[1, right], rel=1e-12)
    assert w[1, left] == w[1].max()


def test_weights_do_not_depend_on_the_units():
    rng = np.random.default_rng(1)
    ref, states = rng.normal(size=(100, 4)), rng.normal(size=(20, 4))
    a = assign_to_cells(ref, states).toarray()
    b = assign_to_cells(1e3 * ref, 1e3 * states).toarray()
    np.testing.assert_allclose(a, b, atol=1e-12)


def test_a_far_state_keeps_finite_weights_on_the_cells_facing_it():
    ref = grid()
    w = assign_to_cells(ref, np.array([[1e4, 4.0]]), n_neighbors=5).toarray()[0]
    assert np.isfinite(w).all() and w.sum() == pytest.approx(1.0)
    assert w[ref[:, 0] == 9].sum() > 0.999  # the edge column nearest to it, not the cells behind


@pytest.mark.parametrize("kwargs, match", [({"n_neighbors": 0}, "n_neighbors"), ({"bandwidth": -1.0}, "bandwidth"),
                                           ({"n_neighbors": True}, "n_neighbors")])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        assign_to_cells(grid(), grid()[:3], **kwargs)


def test_dimension_mismatch_and_nan():
    with pytest.raises(ValueError, match="dimensions"):
        assign_to_cells(grid(), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="NaN"):
        assign_to_cells(grid(), np.array([[np.nan, 0.0]]))


def test_a_reusable_assigner_gives_the_same_weights():
    rng = np.random.default_rng(2)
    ref = rng.normal(size=(80, 3))
    assigner = CellAssigner(ref, n_neighbors=6, bandwidth=0.3)
    for _ in range(2):
        states = rng.normal(size=(25, 3))
        assert abs(assigner.assign(states) - assign_to_cells(ref, states, n_neighbors=6, bandwidth=0.3)).max() == 0
    with pytest.raises(ValueError, match="dimensions"):
        assigner.assign(np.zeros((2, 4)))
