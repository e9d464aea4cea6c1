"""Readers of the stored GRN simulations: BEELINE-format folders (BoolODE) and SERGIO DS4."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from cellbridge.datasets.beeline import bin_by_step, read_beeline, read_sergio
from cellbridge.grn import edges_to_matrix, score_network

from shared_data import SHARED
from shared_data import need as _need

DYN_LI = SHARED / "grn" / "boolode_sims" / "dyn-LI" / "dyn-LI-1000-1"
DYN_BF = SHARED / "grn" / "boolode_sims" / "dyn-BF" / "dyn-BF-1000-1"
DS4 = SHARED / "grn" / "sergio" / "DS4"


def test_bin_by_step():
    bins, edges = bin_by_step(np.array([0, 9, 10, 19, 20, 50]), 5)
    np.testing.assert_array_equal(edges, [0, 10, 20, 30, 40, 50])
    np.testing.assert_array_equal(bins, [0, 0, 1, 1, 2, 4])  # the maximum joins the last bin
    np.testing.assert_array_equal(bin_by_step(np.array([3, 3]), 4)[0], [0, 0])
    with pytest.raises(ValueError, match="positive"):
        bin_by_step(np.array([1, 2]), 0)


def test_read_dyn_li():
    adata, edges = read_beeline(_need(DYN_LI), n_time_bins=5)
    assert adata.shape == (1000, 7)
    assert list(adata.var_names) == [f"g{i}" for i in range(1, 8)]
    # the step comes from the cell id E<simulation>_<step>
    name = adata.obs_names[0]
    assert adata.obs["step"].iloc[0] == int(name.split("_")[1])
    assert adata.obs["simulation"].iloc[0] == int(name.split("_")[0][1:])
    # 5 equal-width bins of the step, every bin populated, later bins = later steps
    t = adata.obs["time"].to_numpy()
    np.testing.assert_array_equal(np.unique(t), [0, 1, 2, 3, 4])
    step = adata.obs["step"].to_numpy()
    assert all(step[t == k].max() < step[t == k + 1].min() for k in range(4))
    edges_bins = adata.uns["beeline"]["bin_edges"]
    assert edges_bins[0] == step.min() and edges_bins[-1] == step.max()
    # log1p by default, raw values kept
    np.testing.assert_allclose(adata.X, np.log1p(adata.layers["expression"]), rtol=1e-5, atol=1e-6)
    assert adata.obs["pseudotime"].between(0, 1).all()


def test_read_dyn_li_reference_orientation():
    """refNetwork.csv is stored as Gene2,Gene1,Type; Gene1 is the regulator (read by name)."""
    adata, edges = read_beeline(_need(DYN_LI))
    raw = pd.read_csv(DYN_LI / "refNetwork.csv")
    assert list(raw.columns[:2]) == ["Gene2", "Gene1"]  # the stored order that a positional read gets wrong
    assert len(edges) == 8
    pairs = dict(zip(zip(edges["regulator"], edges["target"]), edges["sign"]))
    # dyn-linear: g1 -> g2 -> ... -> g7, g7 -| g1, g7 self-activation
    assert pairs[("g1", "g2")] == 1 and ("g2", "g1") not in pairs
    assert pairs[("g6", "g7")] == 1 and pairs[("g7", "g1")] == -1 and pairs[("g7", "g7")] == 1
    truth = adata.uns["grn_truth"]
    assert list(truth["regulator"]) == list(edges["regulator"])
    # the truth goes straight into the metrics: 7 true non-self edges of 42 candidates
    a = edges_to_matrix(edges, adata.var_names)
    res = score_network(np.abs(a).astype(float), truth, genes=adata.var_names)
    assert res["n_true_edges"] == 7 and res["edge_density"] == pytest.approx(7 / 42)
    assert res["auroc"] == 1.0


def test_read_beeline_options_and_h5ad(tmp_path):
    adata, _ = read_beeline(_need(DYN_LI), n_time_bins=10, log1p=False)
    assert adata.obs["time"].nunique() == 10 and "expression" not in adata.layers
    f = tmp_path / "li.h5ad"
    adata.write_h5ad(f)
    assert list(ad.read_h5ad(f).uns["grn_truth"]["target"]) == list(adata.uns["grn_truth"]["target"])


def test_read_branching_beeline_folder():
    adata, edges = read_beeline(_need(DYN_BF))
    assert adata.n_obs == 1000
    assert {"pseudotime_1", "pseudotime_2"} <= set(adata.obs.columns)  # one column per branch
    assert set(adata.obs["cluster"].cat.categories) == {"0", "1"}  # ClusterIds.csv of the parent folder
    assert ("g4", "g6", -1) in set(map(tuple, edges.itertuples(index=False)))


def test_read_beeline_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="ExpressionData"):
        read_beeline(tmp_path)
    pd.DataFrame({"c1": [1.0], "c2": [2.0]}, index=["g1"]).to_csv(tmp_path / "ExpressionData.csv")
    pd.DataFrame({"PseudoTime": [0.1, 0.2]}, index=["c1", "c2"]).to_csv(tmp_path / "PseudoTime.csv")
    pd.DataFrame({"Gene1": ["g1"], "Gene2": ["g1"], "Type": ["+"]}).to_csv(tmp_path / "refNetwork.csv", index=False)
    with pytest.raises(ValueError, match="E<simulation>_<step>"):
        read_beeline(tmp_path)


def test_read_sergio_ds4():
    adata, edges = read_sergio(_need(DS4))
    assert adata.shape == (900, 100)
    assert len(edges) == 137
    # blocks of 300 cells per type along 0 -> 1 -> 2: stages 0, 1, 2
    np.testing.assert_array_equal(adata.uns["sergio"]["stage_of_type"], [0, 1, 2])
    np.testing.assert_array_equal(adata.obs["stage"].to_numpy(), np.repeat([0, 1, 2], 300))
    np.testing.assert_array_equal(adata.obs["time"].to_numpy(), np.repeat([0.0, 1.0, 2.0], 300))
    # gt_GRN.csv rows are regulator,target (0-based): its first row is 1,85
    assert (edges["regulator"].iloc[0], edges["target"].iloc[0]) == ("g1", "g85")
    # signs from SERGIO's interaction table: 68 activations, 69 repressions
    assert (edges["sign"] == 1).sum() == 68 and (edges["sign"] == -1).sum() == 69
