"""cb.tl.velocity: the known drift of a translating population, consistency with model.drift, the gene-space
layer, h5ad round trip and bad input."""

import anndata as ad
import numpy as np
import pandas as pd
import pytest

import cellbridge as cb
from translating_course import FAST, V
from translating_course import translating_course as _translating


@pytest.fixture(scope="module")
def translating():
    adata = _translating()
    model = cb.tl.fit(adata, "day", n_steps=300, rng=0, **FAST)
    return adata, model


@pytest.fixture(scope="module")
def genes():
    """40 genes driven by the 2-D translating course, PCA (3 components, varm['PCs']) by cb.pp.prepare."""
    base = _translating(n=60)
    g = np.random.default_rng(1)
    X = base.obsm["X_pca"] @ g.standard_normal((2, 40)) + 0.1 * g.standard_normal((base.n_obs, 40)) + 5.0
    adata = ad.AnnData(X=X.astype(np.float32), obs=base.obs.copy(),
                       var=pd.DataFrame(index=[f"g{j}" for j in range(40)]))
    cb.pp.prepare(adata, time_key="day", n_comps=3)
    model = cb.tl.fit(adata, "day", n_steps=30, rng=0, **FAST)
    return adata, model


def test_mean_ode_velocity_is_the_constant_drift(translating):
    """Every snapshot is the previous one shifted by V, so the probability-flow velocity averages to V.

    Tolerance: with these settings (300 steps, batch 32, (16, 16) networks) the error |mean - V| measured
    0.0165 on this fit and at most 0.032 over 8 fits (4 data seeds x 2 fit seeds; exact snapshot means, so
    no sampling error); 0.07 leaves about a 2x margin (|V| = 1.12).
    """
    adata, model = translating
    adata = adata.copy()
    cb.tl.velocity(adata, model, kind="ode")
    mean = adata.obsm["velocity_pca"].mean(axis=0)
    assert np.linalg.norm(mean - V) < 0.07, mean
    assert adata.obsm["velocity_pca"].dtype == np.float32 and adata.obsm["velocity_pca"].shape == (adata.n_obs, 2)
    assert "velocity" not in adata.layers  # no loadings: no gene-space layer
    params = dict(adata.uns["velocity_params"])
    assert list(params.pop("embeddings")) == ["pca"]
    assert params == {"kind": "ode", "use_rep": "X_pca", "time_key": "day", "model_method": "sf2m"}


@pytest.mark.parametrize("kind", ["sde", "ode"])
def test_velocity_is_the_model_drift_at_each_cells_time(translating, kind):
    adata, model = translating
    adata = adata.copy()
    cb.tl.velocity(adata, model, kind=kind, key_added="v")
    vel = adata.obsm["v_pca"]
    x, t = adata.obsm["X_pca"], adata.obs["day"].to_numpy()
    stochastic = kind == "sde"
    for day in np.unique(t):  # one time point is one batch here: exactly model.drift on it
        rows = t == day
        np.testing.assert_array_equal(vel[rows], model.drift(day, x[rows], stochastic=stochastic).astype(np.float32))
    for i in (0, 250, 599):  # a cell alone (float32 sums may differ in the last bit from a batch's)
        np.testing.assert_allclose(vel[i], model.drift(t[i], x[i:i + 1], stochastic=stochastic)[0], rtol=1e-5, atol=1e-6)
    # batches of 7 cells give the same velocities
    cb.tl.velocity(adata, model, kind=kind, key_added="w", batch_size=7)
    np.testing.assert_allclose(adata.obsm["w_pca"], vel, rtol=1e-5, atol=1e-6)
    assert adata.uns["v_params"]["kind"] == kind
    if kind == "sde":  # the SDE drift is not the ODE velocity (the score term)
        cb.tl.velocity(adata, model, kind="ode", key_added="o")
        assert np.abs(adata.obsm["o_pca"] - vel).max() > 1e-3


def test_gene_layer_is_velocity_times_loadings_and_survives_h5ad(genes, tmp_path):
    adata, model = genes
    adata = adata.copy()
    cb.tl.velocity(adata, model, kind="ode")
    vel, layer = adata.obsm["velocity_pca"], adata.layers["velocity"]
    loadings = adata.varm["PCs"]
    assert loadings.shape == (adata.n_vars, 3) and layer.shape == (adata.n_obs, adata.n_vars)
    np.testing.assert_allclose(layer, vel @ loadings.T, rtol=1e-5, atol=1e-6)
    # the states beside it: the PCA reconstruction, so that displacements there are those in PCA space
    state = adata.layers["velocity_state"]
    np.testing.assert_allclose(state, np.asarray(adata.X).mean(0) + adata.obsm["X_pca"] @ loadings.T, rtol=1e-5,
                               atol=1e-4)
    i, j = 3, 100
    np.testing.assert_allclose((state[j] - state[i]) @ layer[i],
                               (adata.obsm["X_pca"][j] - adata.obsm["X_pca"][i]) @ vel[i], rtol=1e-3, atol=1e-4)
    adata.write_h5ad(tmp_path / "velocity.h5ad")
    back = ad.read_h5ad(tmp_path / "velocity.h5ad")
    np.testing.assert_array_equal(back.obsm["velocity_pca"], vel)
    np.testing.assert_array_equal(back.layers["velocity"], layer)
    np.testing.assert_array_equal(back.layers["velocity_state"], state)
    assert dict(back.uns["velocity_params"]) == dict(adata.uns["velocity_params"])


def test_use_rep_x_writes_only_the_layer(tmp_path):
    base = _translating(n=40)
    adata = ad.AnnData(X=base.obsm["X_pca"].copy(), obs=base.obs.copy())
    model = cb.tl.fit(adata, "day", use_rep="X", n_steps=20, rng=0, **FAST)
    cb.tl.velocity(adata, model, kind="sde")
    assert not any(k.startswith("velocity") for k in adata.obsm)
    t = adata.obs["day"].to_numpy()
    rows = t == 1.0
    np.testing.assert_array_equal(adata.layers["velocity"][rows],
                                  model.drift(1.0, adata.X[rows], stochastic=True).astype(np.float32))
    assert adata.uns["velocity_params"]["use_rep"] == "X"
    np.testing.assert_array_equal(adata.layers["velocity_state"], adata.X)
    adata.write_h5ad(tmp_path / "x.h5ad")
    np.testing.assert_array_equal(ad.read_h5ad(tmp_path / "x.h5ad").layers["velocity"], adata.layers["velocity"])


def _keys(adata):
    return set(adata.obsm), set(adata.layers), set(adata.uns)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(model=None), TypeError, "model"),
    (dict(kind="magic"), ValueError, "kind"),
    (dict(kind=True), ValueError, "kind"),
    (dict(time_key="nope"), ValueError, "time_key"),
    (dict(time_key=3), TypeError, "time_key"),
    (dict(use_rep="X_wrong"), ValueError, "use_rep.*3 dimensions, the model 2"),
    (dict(use_rep="X_missing"), ValueError, "use_rep"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(batch_size=2.5), ValueError, "batch_size"),
    (dict(batch_size=True), ValueError, "batch_size"),
    (dict(key_added=""), ValueError, "key_added"),
])
def test_bad_input_raises_naming_the_argument_and_writes_nothing(translating, kwargs, error, match):
    adata, model = translating
    adata = adata.copy()
    adata.obsm["X_wrong"] = np.zeros((adata.n_obs, 3), dtype=np.float32)
    before = _keys(adata)
    call = dict(model=model) | kwargs
    with pytest.raises(error, match=match):
        cb.tl.velocity(adata, call.pop("model"), **call)
    assert _keys(adata) == before
