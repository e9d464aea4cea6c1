"""cb.tl.transition_matrix: a row-stochastic sparse matrix in obsp (h5ad round trip), the one-step push of a
point mass on a translating course, the near-absorbing last time point, seeds, and bad input."""

import anndata as ad
import numpy as np
import pytest
import scipy.sparse as sp

import cellbridge as cb
from cellbridge import transitions as core
from cellbridge.neighbors import assign_to_cells, cell_spacing
from translating_course import FAST, V
from translating_course import translating_course as _translating


@pytest.fixture(scope="module")
def translating():
    adata = _translating()
    model = cb.tl.fit(adata, "day", n_steps=300, rng=0, **FAST)
    return adata, model


def _keys(adata):
    return set(adata.obsp.keys()), set(adata.uns.keys())


def test_rows_stochastic_sparse_and_survive_h5ad(translating, tmp_path, cb_messages):
    adata, model = translating
    adata = adata.copy()
    P = cb.tl.transition_matrix(adata, model, n_sims=4, n_neighbors=5, progress=False)
    assert sp.isspmatrix_csr(P) and P.shape == (adata.n_obs, adata.n_obs) and P.dtype == np.float64
    assert adata.obsp["cellbridge_transitions"] is P
    np.testing.assert_allclose(np.asarray(P.sum(axis=1)).ravel(), 1.0, rtol=0, atol=1e-12)
    assert P.data.min() >= 0
    nnz = np.diff(P.indptr)
    assert nnz.max() <= 4 * 5 and nnz.min() >= 5  # at least one path's 5 neighbours, at most all distinct
    params = adata.uns["cellbridge_transitions_params"]
    assert params["dt"] == 1.0  # median interval of days 0, 1, 2
    assert (params["n_sims"], params["n_neighbors"], params["use_rep"], params["time_key"]) == (4, 5, "X_pca", "day")
    assert any("added obsp['cellbridge_transitions'], uns['cellbridge_transitions_params']" in m for _, m in cb_messages)

    path = tmp_path / "t.h5ad"
    adata.write_h5ad(path)
    back = ad.read_h5ad(path)
    Q = back.obsp["cellbridge_transitions"]
    assert sp.issparse(Q)
    assert (Q != P).nnz == 0
    assert back.uns["cellbridge_transitions_params"]["dt"] == 1.0


def test_same_seed_same_matrix_and_core_agrees(translating):
    adata, model = translating
    a, b = adata.copy(), adata.copy()
    P = cb.tl.transition_matrix(a, model, n_sims=3, rng=5, progress=False, batch_size=300)
    Q = cb.tl.transition_matrix(b, model, n_sims=3, rng=5, progress=False, batch_size=300)
    assert (P != Q).nnz == 0
    R = cb.tl.transition_matrix(b, model, n_sims=3, rng=6, progress=False, batch_size=300)
    assert abs(P - R).max() > 1e-3
    # the AnnData-free core on the same arrays gives the same matrix
    C = core.transition_matrix(adata.obsm["X_pca"], adata.obs["day"].to_numpy(), model, n_sims=3, rng=5,
                               batch_size=300)
    assert abs(C - P).max() < 1e-12


def test_one_step_push_of_a_point_mass_lands_one_drift_step_ahead(translating):
    """Row i times the cells' coordinates is the barycentre of where cell i goes: x_i + V dt.

    Tolerances, from 8 fits (4 data seeds x 2 fit seeds, 10 paths per cell):

    - the mean error over the cells of days 0 and 1 (where the population is carried by V exactly) measured
      at most 0.015 for dt = 1 and 0.005 for dt = 0.5 (end states assigned to the snapshot they reach, or
      the two they fall between); the bounds 0.035 and 0.01 leave about 2x;
    - a single cell's barycentre has Monte-Carlo noise sigma sqrt(dt / n_sims) per dimension (0.056 here)
      plus the pull of the kNN assignment towards the cloud: the median error over cells measured at most
      0.086 (dt = 1) and 0.055 (dt = 0.5), bounded by 0.17 and 0.11 (|V| = 1.12).
    """
    adata, model = translating
    x, t = adata.obsm["X_pca"].astype(np.float64), adata.obs["day"].to_numpy()
    moving = t < 2
    for dt, mean_tol, median_tol in ((1.0, 0.035, 0.17), (0.5, 0.01, 0.11)):
        P = cb.tl.transition_matrix(adata.copy(), model, dt, n_sims=10, progress=False)
        err = (P @ x - x)[moving] - dt * V
        assert np.linalg.norm(err.mean(axis=0)) < mean_tol, (dt, err.mean(axis=0))
        assert np.median(np.linalg.norm(err, axis=1)) < median_tol, dt


def test_last_time_point_is_its_own_knn_spread_and_later_steps_stop_there(translating):
    """Cells at the last day are not moved: their rows are exactly assign_to_cells of the cells themselves
    among the last day's cells, so the last snapshot is closed (no mass leaves it). A step of 1.5 days from
    day 1 stops at day 2, one V ahead (the same 0.035 bound as the mean push)."""
    adata, model = translating
    x, t = adata.obsm["X_pca"].astype(np.float64), adata.obs["day"].to_numpy()
    P = cb.tl.transition_matrix(adata.copy(), model, 1.5, n_sims=10, n_neighbors=7, progress=False)
    last = np.flatnonzero(t == 2)
    own = assign_to_cells(x[last], x[last], n_neighbors=7, bandwidth=cell_spacing(x))
    assert abs(P[last][:, last] - own).max() < 1e-12
    assert P[last][:, np.flatnonzero(t != 2)].nnz == 0
    assert np.asarray(P[last, last]).ravel().min() > 0.1  # each keeps a share of its own mass
    err = (P @ x - x)[t == 1] - V
    assert np.linalg.norm(err.mean(axis=0)) < 0.035, err.mean(axis=0)


def test_steps_never_go_back_in_time(translating):
    """A full interval lands on the next snapshot's cells only; half an interval on the cells of the two
    snapshots it falls between (its own and the next), never on an earlier one."""
    adata, model = translating
    t = adata.obs["day"].to_numpy()
    P = cb.tl.transition_matrix(adata.copy(), model, n_sims=4, progress=False).tocoo()
    np.testing.assert_array_equal(t[P.col], np.minimum(t[P.row] + 1, 2))
    H = cb.tl.transition_matrix(adata.copy(), model, 0.5, n_sims=4, progress=False).tocoo()
    moved = t[H.row] < 2
    assert set(np.unique(t[H.col][moved] - t[H.row][moved])) <= {0.0, 1.0}


def test_ode_has_one_path_per_cell(translating):
    adata, model = translating
    a = adata.copy()
    P = cb.tl.transition_matrix(a, model, n_sims=10, n_neighbors=6, stochastic=False, progress=False)
    assert np.diff(P.indptr).max() <= 6
    np.testing.assert_allclose(np.asarray(P.sum(axis=1)).ravel(), 1.0, rtol=0, atol=1e-12)
    assert not a.uns["cellbridge_transitions_params"]["stochastic"]


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(dt=0), ValueError, "dt must be positive"),
    (dict(dt=-1.0), ValueError, "dt must be positive"),
    (dict(dt="1"), TypeError, "dt must be"),
    (dict(dt=float("nan")), TypeError, "dt must be"),
    (dict(n_sims=0), ValueError, "n_sims"),
    (dict(n_sims=2.5), ValueError, "n_sims"),
    (dict(n_neighbors=0), ValueError, "n_neighbors"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(rng=-1), ValueError, "rng"),
    (dict(use_rep="X_umap"), ValueError, "use_rep"),
    (dict(time_key="age"), ValueError, "time_key"),
    (dict(key_added=""), ValueError, "key_added"),
    (dict(progress="yes"), TypeError, "progress"),
])
def test_bad_input_raises_and_leaves_adata_unchanged(translating, kwargs, exc, match):
    adata, model = translating
    adata = adata.copy()
    before = _keys(adata)
    with pytest.raises(exc, match=match):
        cb.tl.transition_matrix(adata, model, progress=False, **kwargs)
    assert _keys(adata) == before


def test_model_of_other_dimension_or_times_outside_raise(translating):
    adata, model = translating
    other = adata.copy()
    other.obsm["X_pca"] = np.zeros((other.n_obs, 3), dtype=np.float32)
    before = _keys(other)
    with pytest.raises(ValueError, match=r"use_rep='X_pca'.*3 dimensions, the model 2"):
        cb.tl.transition_matrix(other, model, progress=False)
    assert _keys(other) == before
    late = adata.copy()
    late.obs["day"] = late.obs["day"] + 3.0  # days 3..5, beyond the model's [0, 2]
    with pytest.raises(ValueError, match="time_key='day'.*outside the model's time points"):
        cb.tl.transition_matrix(late, model, progress=False)
    assert _keys(late) == before
    with pytest.raises(TypeError, match="model must be"):
        cb.tl.transition_matrix(adata.copy(), "model", progress=False)
