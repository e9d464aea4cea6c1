"""Tests of cellbridge.pl.fates with a hand-made fate table in cellbridge.tl.fates' layout."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import anndata as ad
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import Normalize, to_rgba

from cellbridge.pl import fates

N = 60
N_SOURCES = 25
GROUPS = ["erythroid", "myeloid", "lymphoid"]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _probabilities(umap: np.ndarray) -> np.ndarray:
    """Known probabilities from the coordinates: a softmax of three linear scores (rows sum to 1)."""
    scores = np.stack([umap[:, 0], umap[:, 1], -umap[:, 0] - umap[:, 1]], axis=1)
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.fixture
def adata() -> ad.AnnData:
    rng = np.random.default_rng(0)
    names = [f"c{i}" for i in range(N)]
    a = ad.AnnData(X=rng.standard_normal((N, 5)).astype(np.float32), obs=pd.DataFrame(index=names))
    a.obsm["X_pca"] = rng.standard_normal((N, 4))
    a.obsm["X_umap"] = rng.standard_normal((N, 2)) * 3
    p = np.full((N, len(GROUPS)), np.nan)
    p[:N_SOURCES] = _probabilities(a.obsm["X_umap"][:N_SOURCES])
    a.obsm["cellbridge_fates"] = pd.DataFrame(p, index=names, columns=GROUPS)
    a.obsm["cellbridge_fates_se"] = pd.DataFrame(np.where(np.isnan(p), np.nan, 0.01), index=names, columns=GROUPS)
    a.uns["cellbridge_fates_params"] = {"from_time": 0.0, "to_time": 2.0, "groupby": "cell_type", "n_sims": 100}
    return a


def _collections(ax):
    by_gid = {c.get_gid(): c for c in ax.collections}
    return by_gid["source"], by_gid["other"]


def test_one_panel_per_group_with_titles_and_colour_bars(adata):
    axs = fates(adata)
    assert isinstance(axs, list) and len(axs) == len(GROUPS)
    fig = axs[0].figure
    assert all(ax.figure is fig for ax in axs)
    for ax, group in zip(axs, GROUPS):
        assert group in ax.get_title()
        assert ax.get_xlabel() == "UMAP1" and ax.get_ylabel() == "UMAP2"
        cbar = ax.collections[-1].colorbar
        assert cbar is not None and cbar.ax.get_ylabel() == f"P({group})"
        assert cbar.mappable.norm.vmin == 0.0 and cbar.mappable.norm.vmax == 1.0
    # three panels plus three colour bars, nothing else
    assert len(fig.axes) == 2 * len(GROUPS)
    assert "from 0 to 2" in axs[0].get_title()


def test_source_colours_are_the_colormap_of_their_probabilities(adata):
    axs = fates(adata, cmap="viridis")
    axs[0].figure.canvas.draw()  # face colours are mapped from the array at draw time
    p_all = adata.obsm["cellbridge_fates"].to_numpy()
    umap = adata.obsm["X_umap"]
    cmap = plt.get_cmap("viridis")
    for k, ax in enumerate(axs):
        source, other = _collections(ax)
        values = np.asarray(source.get_array())
        offsets = np.asarray(source.get_offsets())
        assert values.shape == (N_SOURCES,)
        # match each drawn point to its cell by position, then compare its value and colour
        cell = np.array([np.flatnonzero(np.all(np.isclose(umap, xy), axis=1))[0] for xy in offsets])
        assert sorted(cell.tolist()) == list(range(N_SOURCES))
        np.testing.assert_allclose(values, p_all[cell, k])
        np.testing.assert_allclose(source.get_facecolors(), cmap(Normalize(0, 1)(p_all[cell, k])), atol=1e-6)
        assert np.all(np.diff(values) >= 0)  # likeliest on top
        # the non-sources (NaN rows) are grey, at their positions
        np.testing.assert_allclose(other.get_offsets(), umap[N_SOURCES:])
        np.testing.assert_allclose(other.get_facecolors()[0], to_rgba("lightgray"))
        assert other.get_array() is None


def test_groups_select_and_order_panels(adata):
    axs = fates(adata, groups=["lymphoid", "erythroid"], ncols=1)
    assert len(axs) == 2
    assert "lymphoid" in axs[0].get_title() and "erythroid" in axs[1].get_title()
    source, _ = _collections(axs[0])
    assert np.all(np.isin(np.asarray(source.get_array()), adata.obsm["cellbridge_fates"]["lymphoid"].to_numpy()))
    one = fates(adata, groups="myeloid")
    assert len(one) == 1 and "myeloid" in one[0].get_title()


def test_ncols_lays_out_rows(adata):
    axs = fates(adata, ncols=2)
    rows = {round(ax.get_position().y0, 3) for ax in axs}
    assert len(rows) == 2


def test_basis_none_draws_the_model_representation(adata):
    adata.uns["cellbridge"] = {"params": {"use_rep": "X_pca"}}
    axs = fates(adata, basis=None, dims=(1, 2))
    source, other = _collections(axs[0])
    np.testing.assert_allclose(other.get_offsets(), adata.obsm["X_pca"][N_SOURCES:, [1, 2]])
    assert axs[0].get_xlabel() == "X_pca[1]" and axs[0].get_ylabel() == "X_pca[2]"
    # no fit record: X_pca by default; a record in the fates' params wins
    del adata.uns["cellbridge"]
    adata.obsm["X_latent"] = adata.obsm["X_pca"][:, :2] * 10
    adata.uns["cellbridge_fates_params"]["use_rep"] = "X_latent"
    _, other = _collections(fates(adata, basis=None)[0])
    np.testing.assert_allclose(other.get_offsets(), adata.obsm["X_latent"][N_SOURCES:])


def test_basis_by_key_and_custom_key(adata):
    adata.obsm["my_fates"] = adata.obsm.pop("cellbridge_fates")
    axs = fates(adata, basis="X_umap", key="my_fates")
    assert len(axs) == len(GROUPS)


def test_save_writes_png(adata, tmp_path):
    path = tmp_path / "fates.png"
    fates(adata, save=str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_errors(adata):
    with pytest.raises(KeyError, match="nope.*cellbridge.tl.fates"):
        fates(adata, key="nope")
    with pytest.raises(KeyError, match="tsne"):
        fates(adata, basis="tsne")
    with pytest.raises(ValueError, match="'stem'.*erythroid"):
        fates(adata, groups=["stem"])
    with pytest.raises(ValueError, match="dims"):
        fates(adata, dims=(0, 2))
    with pytest.raises(ValueError, match="ncols"):
        fates(adata, ncols=0)
    adata.obsm["arr"] = np.zeros((N, 2))
    with pytest.raises(ValueError, match="DataFrame"):
        fates(adata, key="arr")
    del adata.obsm["X_pca"]
    with pytest.raises(KeyError, match="X_pca"):
        fates(adata, basis=None)
