"""Tests of cellbridge.pp.prepare."""

from __future__ import annotations

import copy
import logging

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from cellbridge._keys import PREPARE_KEY, TIME_NUMERIC
from cellbridge.pp import prepare


def make_adata(n_obs: int = 60, n_vars: int = 20, seed: int = 0) -> ad.AnnData:
    rng = np.random.default_rng(seed)
    adata = ad.AnnData(rng.normal(size=(n_obs, n_vars)).astype(np.float32))
    adata.obs_names = [f"cell{i}" for i in range(n_obs)]
    adata.var_names = [f"gene{j}" for j in range(n_vars)]
    adata.obs["time"] = np.repeat(["day4", "day0", "D2.5"], n_obs // 3)
    adata.uns["note"] = "x"
    return adata


def snapshot(adata: ad.AnnData) -> dict:
    return {
        "obs": adata.obs.copy(deep=True),
        "obsm": {k: copy.deepcopy(v) for k, v in adata.obsm.items()},
        "uns": sorted(adata.uns.keys()),
        "varm": sorted(adata.varm.keys()),
        "X": adata.X.copy(),
    }


def assert_unchanged(adata: ad.AnnData, snap: dict) -> None:
    pd.testing.assert_frame_equal(adata.obs, snap["obs"])
    assert sorted(adata.obsm.keys()) == sorted(snap["obsm"].keys())
    for key, value in snap["obsm"].items():
        np.testing.assert_array_equal(adata.obsm[key], value)
    assert sorted(adata.uns.keys()) == snap["uns"]
    assert sorted(adata.varm.keys()) == snap["varm"]
    if sp.issparse(snap["X"]):
        assert sp.issparse(adata.X)
        np.testing.assert_array_equal(adata.X.toarray(), snap["X"].toarray())
    else:
        np.testing.assert_array_equal(adata.X, snap["X"])
    assert adata.X.dtype == snap["X"].dtype


EXPECTED_TIME = np.repeat([4.0, 0.0, 2.5], 20)


# --------------------------------------------------------------------------------------------------
# what prepare writes
# --------------------------------------------------------------------------------------------------


def test_prepare_computes_pca_and_writes_keys(cb_log):
    adata = make_adata()
    assert prepare(adata, time_key="time", n_comps=10) is None

    assert adata.obs[TIME_NUMERIC].dtype == np.float64
    np.testing.assert_array_equal(adata.obs[TIME_NUMERIC].to_numpy(), EXPECTED_TIME)
    assert adata.obs["time"].tolist() == make_adata().obs["time"].tolist()  # original column kept

    assert adata.obsm["X_pca"].shape == (60, 10)
    assert adata.varm["PCs"].shape == (20, 10)
    assert "pca" in adata.uns and adata.uns["pca"]["variance"].shape == (10,)

    record = adata.uns[PREPARE_KEY]
    assert record["params"] == {"time_key": "time", "use_rep": "X_pca", "n_comps": 10}
    np.testing.assert_array_equal(record["time_points"], [0.0, 2.5, 4.0])
    assert record["time_points"].dtype == np.float64
    assert list(record["labels"]) == ["day0", "D2.5", "day4"]

    messages = [r.getMessage() for r in cb_log if r.levelno == logging.INFO]
    assert messages[-1] == (
        "added obs['cellbridge_time'] (numeric time), obsm['X_pca'] (10 PCs), uns['cellbridge_prepare']"
    )


def test_prepare_pca_matches_scanpy():
    import scanpy as sc

    adata = make_adata()
    prepare(adata, time_key="time", n_comps=5, rng=3)
    ref = make_adata()
    sc.pp.pca(ref, n_comps=5, random_state=3)
    np.testing.assert_allclose(adata.obsm["X_pca"], ref.obsm["X_pca"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(adata.varm["PCs"], ref.varm["PCs"], rtol=1e-5, atol=1e-5)


def test_prepare_caps_n_comps():
    adata = make_adata(n_obs=60, n_vars=20)
    prepare(adata, time_key="time")  # n_comps=50 > n_vars - 1
    assert adata.obsm["X_pca"].shape == (60, 19)
    assert adata.uns[PREPARE_KEY]["params"]["n_comps"] == 50

    few_cells = make_adata(n_obs=9, n_vars=20)
    prepare(few_cells, time_key="time", n_comps=30)
    assert few_cells.obsm["X_pca"].shape == (9, 8)


def test_prepare_sparse_float64_X():
    adata = make_adata()
    dense = adata.X.astype(np.float64)
    adata.X = sp.csr_matrix(dense)
    prepare(adata, time_key="time", n_comps=4)
    assert sp.issparse(adata.X) and adata.X.dtype == np.float64  # X left as it was
    pcs = adata.obsm["X_pca"]
    assert pcs.shape == (60, 4) and np.isfinite(pcs).all()
    ref = make_adata()
    prepare(ref, time_key="time", n_comps=4)
    # same subspace as on the dense matrix: compare the leading component up to sign
    a, b = pcs[:, 0], ref.obsm["X_pca"][:, 0]
    assert min(np.abs(a - b).max(), np.abs(a + b).max()) < 1e-3 * np.abs(b).max()


def test_prepare_rng_is_deterministic():
    a, b = make_adata(), make_adata()
    prepare(a, time_key="time", n_comps=5, rng=7)
    prepare(b, time_key="time", n_comps=5, rng=7)
    np.testing.assert_array_equal(a.obsm["X_pca"], b.obsm["X_pca"])


def test_prepare_keeps_existing_pca(cb_log):
    adata = make_adata()
    existing = np.random.default_rng(1).normal(size=(60, 3)).astype(np.float32)
    adata.obsm["X_pca"] = existing.copy()
    prepare(adata, time_key="time", n_comps=10)
    np.testing.assert_array_equal(adata.obsm["X_pca"], existing)
    assert "PCs" not in adata.varm and "pca" not in adata.uns
    assert TIME_NUMERIC in adata.obs and PREPARE_KEY in adata.uns
    message = [r.getMessage() for r in cb_log if r.levelno == logging.INFO][-1]
    assert "obsm['X_pca'] (3 dims)" in message and "PCs)" not in message


def test_prepare_other_rep_and_X():
    adata = make_adata()
    adata.obsm["X_scvi"] = np.ones((60, 4), dtype=np.float32)
    prepare(adata, time_key="time", use_rep="X_scvi")
    assert "X_pca" not in adata.obsm
    assert adata.uns[PREPARE_KEY]["params"]["use_rep"] == "X_scvi"

    adata = make_adata()
    prepare(adata, time_key="time", use_rep="X")
    assert "X_pca" not in adata.obsm and "pca" not in adata.uns
    np.testing.assert_array_equal(adata.obs[TIME_NUMERIC].to_numpy(), EXPECTED_TIME)


def test_prepare_ordered_categorical_labels():
    adata = make_adata()
    adata.obs["stage"] = pd.Categorical(
        np.repeat(["late", "ctrl", "early"], 20), categories=["ctrl", "early", "late"], ordered=True
    )
    prepare(adata, time_key="stage", n_comps=3)
    np.testing.assert_array_equal(adata.obs[TIME_NUMERIC].to_numpy(), np.repeat([2.0, 0.0, 1.0], 20))
    assert list(adata.uns[PREPARE_KEY]["labels"]) == ["ctrl", "early", "late"]


def test_prepare_numeric_time():
    adata = make_adata()
    adata.obs["hours"] = np.repeat([24, 0, 12], 20)
    prepare(adata, time_key="hours", n_comps=3)
    assert adata.obs[TIME_NUMERIC].dtype == np.float64
    np.testing.assert_array_equal(adata.uns[PREPARE_KEY]["time_points"], [0.0, 12.0, 24.0])
    assert list(adata.uns[PREPARE_KEY]["labels"]) == ["0", "12", "24"]


def test_prepare_copy_leaves_input_untouched():
    adata = make_adata()
    snap = snapshot(adata)
    out = prepare(adata, time_key="time", n_comps=6, copy=True)
    assert isinstance(out, ad.AnnData) and out is not adata
    assert out.obsm["X_pca"].shape == (60, 6)
    np.testing.assert_array_equal(out.obs[TIME_NUMERIC].to_numpy(), EXPECTED_TIME)
    assert PREPARE_KEY in out.uns and "PCs" in out.varm
    assert_unchanged(adata, snap)


def test_prepare_uns_is_h5ad_writable(tmp_path):
    adata = make_adata()
    prepare(adata, time_key="time", n_comps=5)
    path = tmp_path / "a.h5ad"
    adata.write_h5ad(path)
    back = ad.read_h5ad(path)
    record = back.uns[PREPARE_KEY]
    np.testing.assert_array_equal(record["time_points"], [0.0, 2.5, 4.0])
    assert [str(label) for label in record["labels"]] == ["day0", "D2.5", "day4"]
    assert dict(record["params"]) == {"time_key": "time", "use_rep": "X_pca", "n_comps": 5}
    np.testing.assert_array_equal(back.obs[TIME_NUMERIC].to_numpy(), EXPECTED_TIME)
    np.testing.assert_allclose(back.obsm["X_pca"], adata.obsm["X_pca"])


# --------------------------------------------------------------------------------------------------
# failures write nothing
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("labels", "match"),
    [
        (["day0", "ctrl", "d1_rep2"], "cannot be ordered"),
        (["day1", "d1", "day2"], "ambiguous"),
        ([True, False, True], "boolean"),
    ],
)
def test_prepare_bad_time_writes_nothing(labels, match):
    adata = make_adata()
    adata.obs["time"] = np.repeat(labels, 20)
    snap = snapshot(adata)
    with pytest.raises(ValueError, match=match):
        prepare(adata, time_key="time")
    assert_unchanged(adata, snap)


def test_prepare_missing_time_key():
    adata = make_adata()
    snap = snapshot(adata)
    with pytest.raises(ValueError, match=r"'day' is not a column of adata\.obs.*'time'"):
        prepare(adata, time_key="day")
    assert_unchanged(adata, snap)


def test_prepare_missing_other_rep():
    adata = make_adata()
    snap = snapshot(adata)
    with pytest.raises(ValueError, match=r"no key 'X_scvi'.*use_rep='X_pca'"):
        prepare(adata, time_key="time", use_rep="X_scvi")
    assert_unchanged(adata, snap)


@pytest.mark.parametrize("sparse", [False, True])
def test_prepare_nan_in_X_writes_nothing(sparse):
    adata = make_adata()
    X = adata.X.copy()
    X[3, 2] = np.nan
    X[8, 0] = np.inf
    adata.X = sp.csr_matrix(X) if sparse else X
    snap = snapshot(adata)
    with pytest.raises(ValueError, match=r"adata\.X has NaN or infinite values in 2 cell"):
        prepare(adata, time_key="time")
    assert_unchanged(adata, snap)
    assert TIME_NUMERIC not in adata.obs and "X_pca" not in adata.obsm


def test_prepare_nan_in_existing_rep_writes_nothing():
    adata = make_adata()
    pcs = np.ones((60, 3), dtype=np.float32)
    pcs[0, 0] = np.nan
    adata.obsm["X_pca"] = pcs
    snap = snapshot(adata)
    with pytest.raises(ValueError, match=r"obsm\['X_pca'\] has NaN"):
        prepare(adata, time_key="time")
    assert_unchanged(adata, snap)


def test_prepare_bad_arguments():
    adata = make_adata()
    snap = snapshot(adata)
    with pytest.raises(TypeError, match="AnnData"):
        prepare(adata.X, time_key="time")
    with pytest.raises(ValueError, match="n_comps must be an integer >= 1"):
        prepare(adata, time_key="time", n_comps=0)
    with pytest.raises(TypeError, match="rng"):
        prepare(adata, time_key="time", rng="seed")
    assert_unchanged(adata, snap)


def test_prepare_constant_X_writes_nothing():
    adata = make_adata()
    adata.X = np.ones_like(adata.X)
    snap = snapshot(adata)
    with pytest.raises(ValueError, match="PCA of adata.X failed"):
        prepare(adata, time_key="time", n_comps=3)
    assert_unchanged(adata, snap)
