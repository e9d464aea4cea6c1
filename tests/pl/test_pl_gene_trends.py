"""Tests of cellbridge.pl.gene_trends with a hand-made table in cellbridge.tl.gene_trends' layout."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import anndata as ad
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection

from cellbridge.pl import gene_trends

TIMES = np.linspace(0.0, 2.0, 5)
GENES = ["Gata1", "Spi1", "Cd3e"]
FATES = ["erythroid", "myeloid"]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _mean(gene: int, fate: int, t: np.ndarray) -> np.ndarray:
    return (gene + 1) * np.sin(t + fate) + 2.0 * fate


def _se(gene: int, fate: int, t: np.ndarray) -> np.ndarray:
    return 0.05 * (1 + gene + fate) * (1 + t)


@pytest.fixture
def table() -> pd.DataFrame:
    rows = [
        {"time": t, "gene": g, "fate": f, "mean": _mean(i, j, t), "se": _se(i, j, t), "n_trajectories": 40}
        for i, g in enumerate(GENES) for j, f in enumerate(FATES) for t in TIMES
    ]
    # shuffled: the plot must sort by time itself
    return pd.DataFrame(rows).sample(frac=1.0, random_state=0).reset_index(drop=True)


@pytest.fixture
def adata(table) -> ad.AnnData:
    a = ad.AnnData(X=np.zeros((4, len(GENES)), dtype=np.float32))
    a.var_names = GENES
    a.uns["cellbridge_gene_trends"] = table
    a.uns["cellbridge_gene_trends_params"] = {"time_key": "day"}
    return a


def _bands(ax) -> dict[str, PolyCollection]:
    return {c.get_gid(): c for c in ax.collections if isinstance(c, PolyCollection)}


def _band_limits(band: PolyCollection, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper edge of a fill_between band at the times ``t``."""
    verts = band.get_paths()[0].vertices
    lo, hi = [], []
    for ti in t:
        ys = verts[np.isclose(verts[:, 0], ti), 1]
        lo.append(ys.min())
        hi.append(ys.max())
    return np.array(lo), np.array(hi)


def test_panels_lines_and_bands(adata):
    axs = gene_trends(adata)
    assert isinstance(axs, list) and len(axs) == len(GENES)
    # genes=None: every gene of the table, in order of appearance
    assert [ax.get_title() for ax in axs] == list(pd.unique(adata.uns["cellbridge_gene_trends"]["gene"]))
    for ax in axs:
        i = GENES.index(ax.get_title())
        assert ax.get_xlabel() == "time (day)"
        assert ax.get_ylabel() == "expression"
        lines = {line.get_gid(): line for line in ax.get_lines()}
        assert list(lines) == FATES
        legend = ax.get_legend()
        assert [text.get_text() for text in legend.get_texts()] == FATES
        bands = _bands(ax)
        for j, fate in enumerate(FATES):
            np.testing.assert_allclose(lines[fate].get_xdata(), TIMES)
            np.testing.assert_allclose(lines[fate].get_ydata(), _mean(i, j, TIMES))
            lo, hi = _band_limits(bands[f"{fate} band"], TIMES)
            np.testing.assert_allclose(lo, _mean(i, j, TIMES) - 2 * _se(i, j, TIMES))
            np.testing.assert_allclose(hi, _mean(i, j, TIMES) + 2 * _se(i, j, TIMES))
            # the band has its line's colour
            np.testing.assert_allclose(bands[f"{fate} band"].get_facecolor()[0][:3],
                                       matplotlib.colors.to_rgb(lines[fate].get_color()))


def test_accepts_the_table_and_selects_genes_and_fates(table):
    axs = gene_trends(table, ["Cd3e", "Gata1"], fates="myeloid", n_se=1.0)
    assert [ax.get_title() for ax in axs] == ["Cd3e", "Gata1"]
    assert axs[0].get_xlabel() == "time"  # no record: plain label
    lines = axs[0].get_lines()
    assert [line.get_gid() for line in lines] == ["myeloid"]
    np.testing.assert_allclose(lines[0].get_ydata(), _mean(2, 1, TIMES))
    lo, hi = _band_limits(_bands(axs[0])["myeloid band"], TIMES)
    np.testing.assert_allclose(hi - lo, 2 * _se(2, 1, TIMES))
    one = gene_trends(table, "Spi1", n_se=0)
    assert len(one) == 1 and not _bands(one[0])


def test_single_fate_all(table):
    single = table[table["fate"] == "erythroid"].assign(fate="all")
    axs = gene_trends(single, ncols=2)
    assert len(axs) == 3
    assert [line.get_gid() for line in axs[0].get_lines()] == ["all"]
    assert [t.get_text() for t in axs[0].get_legend().get_texts()] == ["all"]
    assert len({round(ax.get_position().y0, 3) for ax in axs}) == 2  # two rows
    no_fate = single.drop(columns="fate")
    assert [line.get_gid() for line in gene_trends(no_fate, "Gata1")[0].get_lines()] == ["all"]


def test_sharey_and_save(adata, tmp_path):
    path = tmp_path / "trends.png"
    axs = gene_trends(adata, sharey=True, legend=False, save=str(path))
    assert axs[0].get_ylim() == axs[2].get_ylim()
    assert axs[0].get_legend() is None
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_errors(adata, table):
    with pytest.raises(ValueError, match="'Hbb'.*Gata1"):
        gene_trends(adata, ["Gata1", "Hbb"])
    with pytest.raises(ValueError, match="'stem'"):
        gene_trends(adata, fates=["stem"])
    with pytest.raises(KeyError, match="other_key.*cellbridge.tl.gene_trends"):
        gene_trends(adata, key="other_key")
    with pytest.raises(ValueError, match=r"\['se'\]"):
        gene_trends(table.drop(columns="se"))
    with pytest.raises(ValueError, match="n_se"):
        gene_trends(table, n_se=-1)
    with pytest.raises(TypeError, match="AnnData or a pandas.DataFrame"):
        gene_trends(table.to_numpy())
