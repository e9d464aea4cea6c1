"""cb.tl.fit / cb.tl.simulate end to end, persistence, reproducibility and bad input."""

import copy

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

import cellbridge as cb
from cellbridge.metrics import wasserstein

FAST = dict(n_steps=60, batch_size=32, hidden_dims=(16, 16), progress=False, device="cpu")


@pytest.fixture(scope="module")
def course():
    return cb.datasets.bifurcation(n_cells=120, n_dims=4, rng=0)


@pytest.fixture(scope="module")
def fitted(course):
    adata = course.copy()
    model = cb.tl.fit(adata, time_key="day", n_steps=800, batch_size=128, progress=False, device="cpu", rng=0)
    return adata, model


def test_fit_records_in_uns_and_writes_h5ad(fitted, tmp_path):
    adata, model = fitted
    rec = adata.uns["cellbridge"]
    np.testing.assert_array_equal(rec["time_points"], [0, 1, 2, 3, 4])
    assert rec["params"]["time_key"] == "day" and rec["params"]["n_steps"] == 800
    assert len(rec["loss_history"]["loss"]) == 800
    assert rec["params"]["sigma"] == pytest.approx(model.sigma)
    adata.write_h5ad(tmp_path / "fit.h5ad")
    back = ad.read_h5ad(tmp_path / "fit.h5ad")
    np.testing.assert_allclose(back.uns["cellbridge"]["loss_history"]["loss"], rec["loss_history"]["loss"])


def test_simulation_reaches_the_last_snapshot(fitted):
    """Cells pushed from day 0 land much closer (W1) to day 4 than day 0 itself is, and the training loss fell."""
    adata, model = fitted
    sim = cb.tl.simulate(adata, model, rng=0)
    end = sim.obsm["X_pca"][sim.obs["time"].to_numpy() == 4.0]
    obs = lambda d: adata.obsm["X_pca"][adata.obs["day"].to_numpy() == d]  # noqa: E731
    assert wasserstein(end, obs(4.0)) < 0.35 * wasserstein(obs(0.0), obs(4.0))
    loss = adata.uns["cellbridge"]["loss_history"]["loss"]
    assert loss[-100:].mean() < 0.7 * loss[:20].mean()


def test_simulate_layout(fitted):
    adata, model = fitted
    sim = cb.tl.simulate(adata, model, from_time=1, t_eval=[1.5, 3.0], n_cells=7, stochastic=False, rng=3)
    assert sim.n_obs == 7 * 3
    np.testing.assert_allclose(sim.obs["time"].to_numpy()[:3], [1.0, 1.5, 3.0])
    assert (sim.obs["trajectory"].to_numpy() == np.repeat(np.arange(7), 3)).all()
    start = sim.obs["time"].to_numpy() == 1.0
    src = sim.obs["source_cell"].to_numpy()[start]
    assert (adata.obs.loc[src, "day"].to_numpy() == 1.0).all()
    np.testing.assert_allclose(sim.obsm["X_pca"][start], adata[src].obsm["X_pca"], rtol=1e-5, atol=1e-5)
    assert sim.uns["cellbridge_simulation"]["use_rep"] == "X_pca"
    with pytest.raises(ValueError, match="not an observed time point"):
        cb.tl.simulate(adata, model, from_time=0.5)


def test_save_load_round_trip_gives_identical_simulations(fitted, tmp_path):
    adata, model = fitted
    model.save(tmp_path / "m")
    loaded = cb.load(tmp_path / "m")
    a = cb.tl.simulate(adata, model, n_cells=30, rng=5)
    b = cb.tl.simulate(adata, loaded, n_cells=30, rng=5)
    np.testing.assert_array_equal(a.obsm["X_pca"], b.obsm["X_pca"])
    assert loaded.sigma == model.sigma and loaded.time_key == "day"
    with pytest.raises(FileExistsError):
        model.save(tmp_path / "m")
    with pytest.raises(FileNotFoundError):
        cb.load(tmp_path / "nothing")


def test_same_seed_same_model(course):
    m1 = cb.tl.fit(course.copy(), "day", rng=7, **FAST)
    m2 = cb.tl.fit(course.copy(), "day", rng=7, **FAST)
    m3 = cb.tl.fit(course.copy(), "day", rng=8, **FAST)
    w = lambda m: torch.cat([p.flatten() for p in m.networks["flow"].parameters()])  # noqa: E731
    assert torch.equal(w(m1), w(m2))
    assert not torch.equal(w(m1), w(m3))


def test_gene_space_values_through_pca_loadings():
    rng = np.random.default_rng(0)
    n, genes = 90, 30
    X = rng.normal(size=(n, genes)).astype(np.float32) + np.repeat([0, 1, 2], 30)[:, None] * 0.5
    adata = ad.AnnData(X=sp.csr_matrix(X), obs=pd.DataFrame({"day": np.repeat(["day0", "day1", "day2"], 30)},
                                                            index=[f"c{i}" for i in range(n)]))
    cb.pp.prepare(adata, time_key="day", n_comps=5)
    model = cb.tl.fit(adata, "day", **FAST)
    sim = cb.tl.simulate(adata, model, from_time="day0", n_cells=5, rng=0)
    assert sim.shape == (15, genes)
    Z = sim.obsm["X_pca"]
    expected = X.mean(0) + Z @ adata.varm["PCs"].T
    np.testing.assert_allclose(sim.X, expected, rtol=1e-4, atol=1e-4)


def _snapshot(adata):
    return {"obs": adata.obs.copy(), "obsm": {k: np.array(v, copy=True) for k, v in adata.obsm.items()},
            "uns": copy.deepcopy(dict(adata.uns)), "X": adata.X.copy()}


def _assert_unchanged(adata, snap):
    pd.testing.assert_frame_equal(adata.obs, snap["obs"])
    assert set(adata.obsm) == set(snap["obsm"])
    for k, v in snap["obsm"].items():
        np.testing.assert_array_equal(np.asarray(adata.obsm[k]), v)
    assert set(adata.uns) == set(snap["uns"])


def _bad(kind):
    adata = cb.datasets.bifurcation(n_cells=20, n_dims=3, rng=1)
    if kind == "missing time_key":
        return adata, dict(time_key="hour"), "hour"
    if kind == "one time point":
        adata.obs["day"] = 2.0
        return adata, {}, "1 distinct time point"
    if kind == "lonely cell":
        adata = adata[adata.obs["day"].to_numpy() != 4.0].copy()
        adata.obs.loc[adata.obs_names[0], "day"] = 7.0
        return adata, {}, "has 1 cell"
    if kind == "nan":
        adata.obsm["X_pca"][3, 1] = np.nan
        return adata, {}, "NaN or infinite values in 1 cell"
    if kind == "inf":
        adata.obsm["X_pca"][5, 0] = np.inf
        return adata, {}, "NaN or infinite values in 1 cell"
    if kind == "missing rep":
        return adata, dict(use_rep="X_umap"), "X_umap"
    if kind == "unorderable":
        adata.obs["day"] = np.where(adata.obs["day"] < 2, "early", "late")
        return adata, {}, "cannot be ordered"
    raise KeyError(kind)


@pytest.mark.parametrize("kind", ["missing time_key", "one time point", "lonely cell", "nan", "inf", "missing rep", "unorderable"])
def test_bad_input_raises_and_leaves_adata_unchanged(kind):
    adata, kwargs, match = _bad(kind)
    snap = _snapshot(adata)
    args = {"time_key": "day", **kwargs}
    with pytest.raises(ValueError, match=match):
        cb.tl.fit(adata, **args, **FAST)
    _assert_unchanged(adata, snap)


def test_sparse_float64_expression_is_accepted():
    rng = np.random.default_rng(2)
    X = sp.csr_matrix(rng.poisson(1.0, size=(40, 6)).astype(np.float64))
    adata = ad.AnnData(X=X, obs=pd.DataFrame({"day": np.repeat([0.0, 1.0], 20)}, index=[f"c{i}" for i in range(40)]))
    model = cb.tl.fit(adata, "day", use_rep="X", **FAST)
    assert model.dim == 6 and adata.X.dtype == np.float64 and sp.issparse(adata.X)


def test_bad_settings():
    adata = cb.datasets.bifurcation(n_cells=20, n_dims=3, rng=1)
    with pytest.raises(ValueError, match="sigma"):
        cb.tl.fit(adata, "day", sigma=-1.0, **FAST)
    with pytest.raises(ValueError, match="unknown method"):
        cb.tl.fit(adata, "day", method="magic", **FAST)
    with pytest.raises(TypeError, match="unknown training arguments"):
        cb.tl.fit(adata, "day", n_epochs=3, **FAST)
    assert "cellbridge" not in adata.uns


def test_num_threads_holds_during_training_and_is_restored(cb_log):
    adata = cb.datasets.bifurcation(n_cells=20, n_dims=3, rng=1)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        cb.tl.fit(adata, "day", num_threads=1, **FAST)
        assert torch.get_num_threads() == 2
        assert any("training on cpu (1 threads)" in r.getMessage() for r in cb_log)
        for bad in (0, 1.5, True):
            snap = _snapshot(adata)
            with pytest.raises(ValueError, match="num_threads"):
                cb.tl.fit(adata, "day", num_threads=bad, key_added="other", **FAST)
            _assert_unchanged(adata, snap)
            assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_cpu_threads_restores_the_setting_when_the_body_fails():
    from cellbridge._utils import cpu_threads

    before = torch.get_num_threads()
    with pytest.raises(RuntimeError, match="inside"):
        with cpu_threads(1 if before > 1 else 2):
            assert torch.get_num_threads() != before
            raise RuntimeError("inside")
    assert torch.get_num_threads() == before
