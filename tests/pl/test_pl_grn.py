"""cb.pl.grn_heatmap and cb.pl.grn_graph draw what the edge table says."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.patches import FancyArrowPatch  # noqa: E402

import cellbridge as cb  # noqa: E402

EDGES = pd.DataFrame({
    "regulator": ["a", "b", "c", "a", "c", "b"],
    "target": ["b", "c", "a", "c", "b", "a"],
    "score": [3.0, 2.0, 1.0, 0.5, 0.2, 0.0],
    "sign": [1, -1, 1, -1, 1, 0],
    "group": ["all"] * 6,
})


def test_heatmap_places_signed_scores_regulator_by_target():
    ax = cb.pl.grn_heatmap(EDGES, genes=["a", "b", "c"], truth=EDGES.head(2))
    img = ax.get_images()[0].get_array()
    assert img[0, 1] == 3.0 and img[1, 2] == -2.0 and img[2, 0] == 1.0  # rows regulators, columns targets
    assert img[0, 0] == 0
    assert ax.get_xlabel() == "target" and ax.get_ylabel() == "regulator"
    plt.close("all")


def test_graph_draws_the_top_edges_coloured_by_sign():
    ax = cb.pl.grn_graph(EDGES, n_edges=3, truth=EDGES.head(2))
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    assert len(arrows) == 3
    colours = sorted(tuple(np.round(a.get_edgecolor()[:3], 3)) for a in arrows)
    assert len(set(colours)) == 2  # activation and repression
    assert {a.get_linestyle() for a in arrows} == {"-", "--"}  # the third edge is not a true one
    plt.close("all")


def test_plots_read_an_anndata_and_check_the_group():
    import anndata as ad

    adata = ad.AnnData(np.zeros((2, 3), np.float32), var=pd.DataFrame(index=["a", "b", "c"]))
    with pytest.raises(ValueError, match="tl.grn"):
        cb.pl.grn_heatmap(adata)
    adata.uns["cellbridge_grn"] = {"edges": EDGES}
    cb.pl.grn_graph(adata)
    with pytest.raises(ValueError, match="no group"):
        cb.pl.grn_heatmap(adata, group="x")
    plt.close("all")
