"""Tests of cellbridge.pl.growth_rate with a hand-made rate column in cellbridge.tl.growth_rate's layout."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import anndata as ad
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import TwoSlopeNorm

import cellbridge as cb
from cellbridge.pl import growth_rate

N = 50


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _adata(identifiable="relative"):
    rng = np.random.default_rng(0)
    umap = rng.normal(size=(N, 2))
    rate = 0.8 * umap[:, 0] - 0.1  # known rates of both signs
    rate[:3] = np.nan  # cells without a rate
    a = ad.AnnData(np.zeros((N, 3)), obs=pd.DataFrame({"cellbridge_growth_rate": rate},
                                                       index=[f"c{i}" for i in range(N)]))
    a.obsm["X_umap"] = umap
    a.uns["cellbridge_growth_rate"] = {"identifiable": identifiable}
    return a


def _collection(ax, gid):
    return next(c for c in ax.collections if c.get_gid() == gid)


def test_colours_are_the_diverging_colormap_of_the_rates_centred_at_zero():
    a = _adata()
    ax = growth_rate(a, basis="umap")
    points = _collection(ax, "rate")
    values = np.asarray(points.get_array())
    rate = a.obs["cellbridge_growth_rate"].to_numpy()
    assert len(values) == np.isfinite(rate).sum()
    # drawn in increasing |rate|, at their own positions
    order = np.argsort(np.abs(values))
    np.testing.assert_array_equal(order, np.arange(len(values)))
    finite = np.flatnonzero(np.isfinite(rate))
    np.testing.assert_allclose(np.sort(values), np.sort(rate[finite]))
    by_value = {float(v): xy for v, xy in zip(values, points.get_offsets())}
    for i in finite:
        np.testing.assert_allclose(by_value[float(rate[i])], a.obsm["X_umap"][i])
    # the colours are RdBu_r of the rates on a symmetric scale centred at 0
    vmax = np.nanmax(np.abs(rate))
    norm = points.norm
    assert isinstance(norm, TwoSlopeNorm) and norm.vcenter == 0 and norm.vmin == -vmax and norm.vmax == vmax
    ax.figure.canvas.draw()  # the face colours are mapped at draw time
    expected = plt.get_cmap("RdBu_r")(TwoSlopeNorm(0.0, -vmax, vmax)(values))
    np.testing.assert_allclose(points.get_facecolors(), expected, atol=1e-6)
    # a rate of 0 is the colormap's centre
    np.testing.assert_allclose(points.cmap(norm(0.0)), plt.get_cmap("RdBu_r")(0.5))
    # the NaN cells are grey beneath
    assert len(_collection(ax, "other").get_offsets()) == 3
    # a labelled colour bar naming the unit and that the rates are relative
    colorbar = points.colorbar
    assert "log-mass per time unit" in colorbar.ax.get_ylabel() and "relative" in colorbar.ax.get_ylabel()
    assert ax.get_xlabel() == "UMAP1" and ax.get_ylabel() == "UMAP2"


def test_vmax_and_given_axes_and_save(tmp_path):
    a = _adata("absolute")
    fig, given = plt.subplots()
    ax = growth_rate(a, basis="X_umap", vmax=0.5, ax=given, save=tmp_path / "g.png")
    assert ax is given and (tmp_path / "g.png").stat().st_size > 0
    points = _collection(ax, "rate")
    assert points.norm.vmin == -0.5 and points.norm.vmax == 0.5
    assert "absolute" in points.colorbar.ax.get_ylabel()
    assert cb.pl.growth_rate is growth_rate


def test_missing_key_basis_and_bad_values_are_named():
    a = _adata()
    with pytest.raises(KeyError, match="cellbridge.tl.growth_rate"):
        growth_rate(a, key="nope")
    with pytest.raises(KeyError, match="tsne"):
        growth_rate(a, basis="tsne")
    with pytest.raises(ValueError, match="vmax"):
        growth_rate(a, vmax=0.0)
    a.obs["cellbridge_growth_rate"] = np.nan
    with pytest.raises(ValueError, match="no finite rate"):
        growth_rate(a)
    a.obs["cellbridge_growth_rate"] = "x"
    with pytest.raises(ValueError, match="numbers"):
        growth_rate(a)
    with pytest.raises(TypeError, match="AnnData"):
        growth_rate(np.zeros((3, 2)))
