"""cb.tl.grn: what it writes, where, in which orientation, and that the result stays h5ad-writable."""

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import torch

import cellbridge as cb
from cellbridge.nn import NGMDrift
from cellbridge.model import CellBridgeModel
from cellbridge.normalization import Normalization
from cellbridge.nn import TimeMLP
from linear_system import linear_time_course

GENES = ["a", "b", "c", "d"]
# hand-set NGM: a -> b (activation), b -| c (repression), d -> a (activation); nothing else
TRUE = {("a", "b"): 1, ("b", "c"): -1, ("d", "a"): 1}


def _model(use_rep="X", dim=4, ngm=True):
    torch.manual_seed(0)
    if ngm:
        flow = NGMDrift(dim, (3,), activation="tanh", time_conditioned=True)
        with torch.no_grad():
            flow.w_in.zero_()
            flow.w_time.zero_()
            flow.w_out.fill_(1.0)
            flow.b_out.zero_()
            for (r, t), s in TRUE.items():
                flow.w_in[GENES.index(t), :, GENES.index(r)] = s * torch.tensor([1.0, 0.5, 0.25])
            for i in range(dim):  # degradation: a strong self-column, never an edge
                flow.w_in[i, :, i] -= 3.0
    else:
        flow = TimeMLP(dim, (8,))
    score = TimeMLP(dim, (8,))
    config = {"method": "sf2m", "sigma": 0.1, "dim": dim, "time_points": [0.0, 1.0, 2.0],
              "use_rep": use_rep, "time_key": "day", "time_labels": ["d0", "d1", "d2"], "network": flow.config}
    norm = Normalization(np.zeros(dim, np.float32), 1.0, 0.0, 2.0)
    return CellBridgeModel(config, {"flow": flow, "score": score}, norm)


def _adata(n=90):
    rng = np.random.default_rng(0)
    a = ad.AnnData(rng.normal(size=(n, 4)).astype(np.float32), var=pd.DataFrame(index=GENES))
    a.obs["day"] = pd.Categorical(np.repeat(["d0", "d1", "d2"], n // 3))
    a.obs["cluster"] = np.tile(["x", "y", "z"], n // 3)
    return a


def test_grn_writes_varp_and_edges_in_regulator_target_orientation(cb_log, tmp_path):
    adata, model = _adata(), _model()
    edges = cb.tl.grn(adata, model)
    s = adata.varp["cellbridge_grn"]
    assert s.shape == (4, 4) and np.all(np.diag(s) == 0)
    for (r, t) in TRUE:
        assert s[GENES.index(r), GENES.index(t)] > 0  # row = regulator, column = target
        assert s[GENES.index(t), GENES.index(r)] == 0  # never the reverse
    assert np.count_nonzero(s) == len(TRUE)
    rec = adata.uns["cellbridge_grn"]
    assert rec["edges"] is edges
    assert list(edges.columns[:5]) == ["regulator", "target", "score", "sign", "jacobian"]
    assert len(edges) == 12 and set(edges["group"]) == {"all"}
    top = edges.head(3)
    assert {(r, t) for r, t in zip(top["regulator"], top["target"])} == set(TRUE)
    for r, t, sg in zip(top["regulator"], top["target"], top["sign"]):
        assert sg == TRUE[(r, t)]
    assert rec["params"]["score_kind"] == "mean_abs_jacobian" and rec["params"]["drift"] == "ngm"
    assert any("varp['cellbridge_grn']" in r.getMessage() for r in cb_log)
    # the scores are the metrics' convention: a perfect network
    truth = pd.DataFrame([(r, t, s) for (r, t), s in TRUE.items()], columns=["regulator", "target", "sign"])
    res = cb.grn.score_network(s, truth, adata.varp["cellbridge_grn"], genes=GENES)
    assert res["auroc"] == 1.0
    signs = edges.pivot(index="regulator", columns="target", values="sign").reindex(index=GENES, columns=GENES).fillna(0)
    assert cb.grn.signed_accuracy(signs.to_numpy(), truth, genes=GENES) == 1.0
    adata.write_h5ad(tmp_path / "grn.h5ad")
    back = ad.read_h5ad(tmp_path / "grn.h5ad")
    np.testing.assert_array_equal(back.varp["cellbridge_grn"], s)
    pd.testing.assert_frame_equal(back.uns["cellbridge_grn"]["edges"].reset_index(drop=True),
                                  edges.reset_index(drop=True), check_categorical=False)


def test_grn_subsets_regulators_and_targets():
    adata, model = _adata(), _model()
    edges = cb.tl.grn(adata, model, regulators=["a", "b"], targets=["b", "c"], key_added="sub")
    assert set(edges["regulator"]) <= {"a", "b"} and set(edges["target"]) <= {"b", "c"}
    assert len(edges) == 3  # a->b, a->c, b->c (b->b is a self-loop)
    s = adata.varp["sub"]
    assert s[GENES.index("d"), GENES.index("a")] == 0  # a true edge outside the chosen genes
    assert s[GENES.index("a"), GENES.index("b")] > 0
    with pytest.raises(ValueError, match="not among the genes"):
        cb.tl.grn(adata, model, regulators=["zz"])


def test_grn_per_group_and_time_bin():
    adata, model = _adata(), _model()
    edges = cb.tl.grn(adata, model, groupby="cluster")
    assert list(edges["group"].cat.categories) == ["all", "x", "y", "z"]
    assert (edges.groupby("group", observed=True).size() == 12).all()
    per = edges[edges["group"] == "y"]
    assert set(zip(per.head(3)["regulator"], per.head(3)["target"])) == set(TRUE)
    edges = cb.tl.grn(adata, model, time_bins=True)
    assert list(edges["group"].cat.categories) == ["all", "d0", "d1", "d2"]
    edges = cb.tl.grn(adata, model, time_bins=[0.0, 1.0, 2.0], groupby="cluster")
    assert "x|[0, 1)" in set(edges["group"].astype(str)) and "z|[1, 2]" in set(edges["group"].astype(str))
    assert adata.uns["cellbridge_grn"]["n_cells_per_group"]["all"] == adata.n_obs


def test_grn_scales_across_targets_and_averages_an_ensemble():
    adata, m1, m2 = _adata(), _model(), _model()
    with torch.no_grad():  # a second fit that disagrees: a -> b twice as strong, and an extra edge c -> d
        m2.networks["flow"].w_in[GENES.index("b"), :, GENES.index("a")] *= 2.0
        m2.networks["flow"].w_in[GENES.index("d"), :, GENES.index("c")] = 0.3 * torch.tensor([1.0, 0.5, 0.25])
    dense, tables = {}, {}
    for k, model in (("1", m1), ("2", m2)):
        for how in ("sqrt", "max", None):
            name = f"{how}{k}"
            tables[name] = cb.tl.grn(adata, model, target_scale=how, key_added=name, top_k=None)
            dense[name] = np.asarray(adata.varp[name], dtype=np.float64)
    for k in ("1", "2"):
        raw = dense[f"None{k}"]
        top = raw.max(axis=0, keepdims=True)
        # "max": each target's column divided by its largest; "sqrt": by the geometric mean of that and the
        # network's largest; the unscaled scores are the raw_score column of every table
        np.testing.assert_allclose(dense[f"max{k}"], np.divide(raw, top, out=np.zeros_like(raw), where=top > 0),
                                   rtol=1e-6)
        np.testing.assert_allclose(dense[f"sqrt{k}"], np.divide(raw, np.sqrt(top * raw.max()),
                                                                out=np.zeros_like(raw), where=top > 0), rtol=1e-6)
        for how in ("sqrt", "max"):
            merged = tables[f"{how}{k}"].merge(tables[f"None{k}"], on=["regulator", "target"], suffixes=("", "_raw"))
            np.testing.assert_allclose(merged["raw_score"], merged["score_raw"], rtol=1e-6)
    assert np.allclose(tables["None1"]["raw_score"], tables["None1"]["score"])  # unscaled: the score itself
    assert set(np.round(dense["max1"][dense["max1"] > 0], 6)) == {1.0}  # one regulator per target here
    assert np.isclose(dense["sqrt1"].max(), 1.0) and np.sum(np.isclose(dense["sqrt1"], 1.0)) == 1
    # the ensemble: mean of the scaled scores; raw_score the mean of the unscaled; signs of the mean Jacobian
    ens = cb.tl.grn(adata, [m1, m2], key_added="ens", top_k=None)
    np.testing.assert_allclose(adata.varp["ens"], (dense["sqrt1"] + dense["sqrt2"]) / 2, rtol=1e-6)
    key = ["regulator", "target"]
    merged = ens.merge(tables["sqrt1"], on=key, suffixes=("", "_1")).merge(tables["sqrt2"], on=key, suffixes=("", "_2"))
    np.testing.assert_allclose(merged["jacobian"], (merged["jacobian_1"] + merged["jacobian_2"]) / 2, rtol=1e-6)
    np.testing.assert_allclose(merged["raw_score"], (merged["raw_score_1"] + merged["raw_score_2"]) / 2, rtol=1e-6)
    assert (merged["sign"] == np.sign(merged["jacobian"])).all()
    cd = merged[(merged.regulator == "c") & (merged.target == "d")].iloc[0]
    assert cd["sign"] == 1 and cd["sign_1"] == 0 and 0 < cd["score"] < 1  # one fit of two has the edge
    assert adata.uns["ens"]["params"]["n_models"] == 2 and adata.uns["ens"]["params"]["target_scale"] == "sqrt"
    with pytest.raises(ValueError, match="share one representation"):
        cb.tl.grn(adata, [m1, _model("X_pca", dim=2, ngm=False)])
    with pytest.raises(ValueError, match="share their kind of drift"):  # an NGM beside an MLP drift
        cb.tl.grn(adata, [m1, _model(ngm=False)], key_added="grn_bad")
    with pytest.raises(TypeError, match="non-empty list"):
        cb.tl.grn(adata, [])
    with pytest.raises(ValueError, match="target_scale must be"):
        cb.tl.grn(adata, m1, target_scale="min", key_added="grn_bad")
    with pytest.raises(ValueError, match="always scaled per target"):
        cb.tl.grn(adata, time_key="day", target_scale=None, key_added="grn_bad")
    assert "grn_bad" not in adata.uns and "grn_bad" not in adata.varp  # nothing half-written


def test_grn_of_a_pca_space_model_goes_through_the_loadings():
    adata = _adata()
    rng = np.random.default_rng(1)
    q, _ = np.linalg.qr(rng.normal(size=(4, 2)))
    adata.varm["PCs"] = q.astype(np.float32)
    adata.obsm["X_pca"] = (adata.X - adata.X.mean(0)) @ q
    model = _model("X_pca", dim=2, ngm=False)
    edges = cb.tl.grn(adata, model)
    s = adata.varp["cellbridge_grn"]
    assert s.shape == (4, 4) and np.all(np.diag(s) == 0)
    assert adata.uns["cellbridge_grn"]["params"]["space"] == "genes via PCA loadings"
    assert set(edges["regulator"]) == set(GENES)
    # without loadings: edges between the model's own dimensions, nothing in varp
    del adata.varm["PCs"]
    edges = cb.tl.grn(adata, model, key_added="pc")
    assert "pc" not in adata.varp and set(edges["regulator"]) == {"X_pca_1", "X_pca_2"}


def test_fit_with_ngm_drift_saves_and_loads(tmp_path):
    adata = _adata()
    adata.obs["t"] = adata.obs["day"].cat.codes.astype(float)
    model = cb.tl.fit(adata, "t", use_rep="X", drift="ngm", ngm_adaptive=True, ngm_hidden_dims=(5,), n_steps=6,
                      batch_size=16, progress=False)
    flow = model.networks["flow"]
    assert isinstance(flow, NGMDrift) and flow.config["hidden_dims"] == [5]
    assert not flow.config["time_conditioned"]  # autonomous by default (SF2MConfig.ngm_time)
    assert isinstance(model.networks["score"], TimeMLP)
    assert model.config["train"]["drift"] == "ngm" and adata.uns["cellbridge"]["params"]["ngm_lambda"] == 1e-3
    model.save(tmp_path / "m")
    back = cb.load(tmp_path / "m")
    assert isinstance(back.networks["flow"], NGMDrift) and isinstance(back.networks["score"], TimeMLP)
    np.testing.assert_array_equal(back.drift(1.0, adata.X[:7]), model.drift(1.0, adata.X[:7]))
    e1 = cb.tl.grn(adata, model, key_added="a")
    e2 = cb.tl.grn(adata, back, key_added="b")
    np.testing.assert_allclose(e1["score"].to_numpy(), e2["score"].to_numpy())
    with pytest.raises(ValueError, match="drift"):
        cb.tl.fit(adata, "t", use_rep="X", drift="tree", n_steps=2, progress=False)


def _chain_course():
    """The linear system of tests/linear_system.py (8 genes, 8 signed edges), with string time labels."""
    x, t, truth = linear_time_course(seed=1, n_cells=120)
    genes = [f"g{i}" for i in range(x.shape[1])]
    adata = ad.AnnData(x, var=pd.DataFrame(index=genes))
    adata.obs["day"] = pd.Categorical([f"day{v:g}" for v in t * 5])
    return adata, truth, genes


def test_grn_without_a_model_reads_ot_velocities(cb_log, tmp_path):
    from cellbridge.grn.velocity_regression import velocity_network

    adata, truth, genes = _chain_course()
    edges = cb.tl.grn(adata, time_key="day", n_sub=1)
    # the same numbers as the AnnData-free core, in the same orientation
    core = velocity_network(adata.X, np.repeat(np.linspace(0, 5, 6), 120), n_sub=1)
    np.testing.assert_allclose(adata.varp["cellbridge_grn"], core.scores["all"], rtol=1e-6)
    res = cb.grn.score_network(adata.varp["cellbridge_grn"], truth, genes=genes)
    assert res["auroc"] > 0.9, res
    top = edges.iloc[0]
    i, j = genes.index(top["regulator"]), genes.index(top["target"])
    assert top["sign"] == np.sign(core.mean_jacobian["all"][j, i]) == truth[i, j]
    params = adata.uns["cellbridge_grn"]["params"]
    assert params["network"] == "ot_velocity" and params["score_kind"] == "ot_velocity" and "drift" not in params
    assert list(params["n_sub"]) == [1]
    assert any("OT-matched velocities" in r.getMessage() for r in cb_log)
    # per time point: the labels of the time column
    edges = cb.tl.grn(adata, time_key="day", n_sub=1, time_bins=True, key_added="per_day")
    assert list(edges["group"].cat.categories)[:3] == ["all", "day0", "day1"]
    adata.write_h5ad(tmp_path / "velocity.h5ad")


def test_grn_without_a_model_bad_input_writes_nothing():
    adata, _, _ = _chain_course()
    with pytest.raises(ValueError, match="time_key"):
        cb.tl.grn(adata)
    with pytest.raises(ValueError, match="without a model"):
        cb.tl.grn(adata, time_key="day", score="group_norm")
    with pytest.raises(ValueError, match="n_sub"):
        cb.tl.grn(adata, time_key="day", n_sub=500)
    with pytest.raises(TypeError, match="CellBridgeModel, a non-empty list of them, or None"):
        cb.tl.grn(adata, "model")
    assert "cellbridge_grn" not in adata.uns and "cellbridge_grn" not in adata.varp
    with pytest.raises(ValueError, match="fitted in 'X'"):
        cb.tl.grn(_adata(), _model(), use_rep="X_pca")
