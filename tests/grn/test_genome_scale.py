"""Genome-scale GRN: a TF list restricts what is computed, top_k / min_score keep the table and varp sparse,
ties of the per-target scale are broken by the unscaled score, and grn_graph draws only its edges' genes."""

import anndata as ad
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.patches import FancyArrowPatch  # noqa: E402
from scipy import sparse  # noqa: E402

import cellbridge as cb  # noqa: E402
from cellbridge.grn import readout as ro  # noqa: E402
from cellbridge.grn import velocity_regression as vr  # noqa: E402
from cellbridge.model import CellBridgeModel  # noqa: E402
from cellbridge.normalization import Normalization  # noqa: E402
from cellbridge.nn import NGMDrift, TimeMLP  # noqa: E402

N_GENES, N_TFS, TOP_K = 500, 20, 5


def _tf_course(seed=0, n_genes=N_GENES, n_tfs=N_TFS, n_cells=150, times=np.linspace(0, 2, 5), n_clusters=30):
    """Snapshots of dx = A x dt + noise dW where only the first ``n_tfs`` genes (the TFs) regulate: every
    other gene has two TF regulators, the TFs only decay; every gene decays at rate 1. Cells start in 30
    clusters (several states), each snapshot from fresh trajectories."""
    rng = np.random.default_rng(seed)
    a = -np.eye(n_genes)
    for j in range(n_tfs, n_genes):
        regs = rng.choice(n_tfs, 2, replace=False)
        a[j, regs] = rng.choice([-1.0, 1.0], 2) * rng.uniform(0.8, 1.5, 2)
    centres = rng.normal(0, 2.0, (n_clusters, n_genes))
    xs, h = [], 0.02
    for end in times:
        z = centres[rng.integers(n_clusters, size=n_cells)] + 0.1 * rng.normal(size=(n_cells, n_genes))
        for _ in range(int(round(end / h))):
            z += h * z @ a.T + 0.05 * np.sqrt(h) * rng.normal(size=z.shape)
        xs.append(z)
    genes = [f"TF{i}" for i in range(n_tfs)] + [f"G{i}" for i in range(n_tfs, n_genes)]
    adata = ad.AnnData(np.concatenate(xs).astype(np.float32), var=pd.DataFrame(index=genes))
    adata.obs["day"] = np.repeat(times, n_cells)
    adata.obs["half"] = np.where(np.arange(adata.n_obs) % 2 == 0, "even", "odd")
    truth = np.sign(a.T)  # [regulator, target]
    np.fill_diagonal(truth, 0)
    return adata, genes[:n_tfs], truth


@pytest.fixture(scope="module")
def course():
    return _tf_course()


@pytest.fixture(scope="module")
def network(course):
    adata, tfs, truth = course
    adata = adata.copy()
    edges = cb.tl.grn(adata, time_key="day", regulators=tfs, top_k=TOP_K, n_sub=1, groupby="half")
    return adata, edges


def test_only_tf_rows_are_scored_and_the_regression_sees_only_tfs(course, network, monkeypatch):
    adata, tfs, truth = course
    _, edges = network
    assert set(edges["regulator"].astype(str)) <= set(tfs)
    varp = network[0].varp["cellbridge_grn"]
    assert sparse.issparse(varp) and varp.format == "csr" and varp.dtype == np.float32
    dense = varp.toarray()
    assert not dense[N_TFS:].any() and dense[:N_TFS].any()  # rows of non-TFs are empty
    # the kept edges find the true ones: most true TF -> target edges are among each target's top 5
    true_pairs = {(tfs[i], adata.var_names[j]) for i, j in zip(*np.nonzero(truth[:N_TFS]))}
    overall = edges[edges["group"] == "all"]
    found = {(r, t) for r, t in zip(overall["regulator"].astype(str), overall["target"].astype(str))}
    assert len(true_pairs & found) / len(true_pairs) > 0.9
    # the regressions' inputs are the TFs' columns (and each target's own level), their outputs every target
    shapes = []
    real = vr.velocity_coefficients_with_own_level
    monkeypatch.setattr(vr, "velocity_coefficients_with_own_level",
                        lambda x, own, v, **kw: shapes.append((x.shape, own.shape, v.shape)) or real(x, own, v, **kw))
    monkeypatch.setattr(vr, "velocity_coefficients", None)  # the all-gene regression is not run
    cb.tl.grn(adata.copy(), time_key="day", regulators=tfs, n_sub=1)
    n = adata.n_obs
    assert shapes == [((n, N_TFS), (n, N_GENES), (n, N_GENES))]


def test_regression_with_own_level_is_ridge_per_target():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 6)) * np.array([1.0, 2.0, 0.5, 3.0, 1.0, 1.0])
    own = rng.normal(size=(300, 4))
    v = x[:, :3] @ rng.normal(size=(3, 4)) - 2.0 * own + 0.1 * rng.normal(size=(300, 4))
    inside = np.array([False, True, False, False])
    coef = vr.velocity_coefficients_with_own_level(x, own, v, own_is_input=inside, alphas=[3.0])
    from sklearn.linear_model import Ridge

    z = (x - x.mean(0)) / x.std(0)
    zo = (own - own.mean(0)) / own.std(0)
    for i in range(4):
        design = z if inside[i] else np.column_stack([z, zo[:, i]])
        np.testing.assert_allclose(coef[i], Ridge(alpha=3.0).fit(design, v[:, i]).coef_[:6], rtol=1e-10, atol=1e-12)
    # with every target's level already an input, the penalty chosen by leave-one-out is RidgeCV's
    np.testing.assert_allclose(vr.velocity_coefficients_with_own_level(x, own, v, own_is_input=np.ones(4, bool)),
                               vr.velocity_coefficients(x, v), rtol=1e-8, atol=1e-10)
    # leaving the own level out biases the coefficients: the closed form does not
    a = rng.normal(size=(3, 4))
    own = x[:, :3] @ a + 0.3 * rng.normal(size=(300, 4))  # the targets follow their regulators ...
    v = x[:, :3] @ np.ones((3, 4)) - 3.0 * own  # ... and decay
    with_own = vr.velocity_coefficients_with_own_level(x, own, v, alphas=[1e-6])
    np.testing.assert_allclose(with_own[:, :3], (np.ones((3, 4)) * x[:, :3].std(0)[:, None]).T, rtol=1e-4)
    assert np.abs(vr.velocity_coefficients(x, v)[:, :3] - with_own[:, :3]).max() > 1.0


def test_at_most_top_k_rows_per_target_and_group(network):
    _, edges = network
    counts = edges.groupby(["group", "target"], observed=True).size()
    assert counts.max() == TOP_K and counts.min() == TOP_K  # every target has more than 5 candidate TFs
    assert set(edges["group"]) == {"all", "even", "odd"}
    assert edges.groupby("group", observed=True).size().to_dict() == {g: N_GENES * TOP_K for g in ("all", "even", "odd")}
    # each target's kept rows are its strongest candidates
    full = cb.grn.infer_network(network[0].X, network[0].obs["day"].to_numpy(), network[0].var_names,
                                regulators=list(network[0].var_names[:N_TFS]), n_sub=1)
    s = full.scores[:N_TFS]
    kept = edges[edges["group"] == "all"]
    for target in ["G20", "G321", "TF3"]:
        j = list(network[0].var_names).index(target)
        best = set(np.asarray(network[0].var_names[:N_TFS])[np.argsort(-s[:, j], kind="stable")[:TOP_K]])
        assert set(kept.loc[kept["target"] == target, "regulator"].astype(str)) == best


def test_no_ties_at_the_top_of_any_target(network):
    _, edges = network
    overall = edges[edges["group"] == "all"]
    # n_sub=1: the per-target scale puts every target's strongest regulator at exactly 1 ...
    tops = overall.groupby("target", observed=True).head(1)
    assert (tops["score"] == 1.0).all() and len(tops) == N_GENES
    # ... the unscaled score tells them apart, and orders them in the table
    assert tops["raw_score"].is_unique and tops["raw_score"].is_monotonic_decreasing
    # within each target the top row is strictly ahead of the second one (score, then raw score)
    second = overall.groupby("target", observed=True).nth(1).set_index("target")
    first = tops.set_index("target").loc[second.index]
    ahead = (first["score"] > second["score"]) | ((first["score"] == second["score"])
                                                  & (first["raw_score"] > second["raw_score"]))
    assert ahead.all()
    # the table is sorted by (score, raw score) in every group
    for _, g in edges.groupby("group", observed=True):
        key = list(zip(-g["score"], -g["raw_score"]))
        assert key == sorted(key)


def test_sparse_varp_and_table_round_trip_through_h5ad(network, tmp_path):
    adata, edges = network
    adata.write_h5ad(tmp_path / "grn.h5ad")
    back = ad.read_h5ad(tmp_path / "grn.h5ad")
    v = back.varp["cellbridge_grn"]
    assert sparse.issparse(v)
    np.testing.assert_array_equal(v.toarray(), adata.varp["cellbridge_grn"].toarray())
    overall = edges[edges["group"] == "all"]
    assert v.nnz == int((overall["score"] > 0).sum())
    pd.testing.assert_frame_equal(back.uns["cellbridge_grn"]["edges"], edges)
    assert back.uns["cellbridge_grn"]["params"]["top_k"] == TOP_K
    # the metrics read a sparse varp
    res = cb.grn.score_network(v, pd.DataFrame({"regulator": ["TF0"], "target": ["G20"]}), genes=adata.var_names)
    assert 0.0 <= res["auroc"] <= 1.0


def test_graph_draws_only_the_genes_of_its_edges(network):
    adata, edges = network
    ax = cb.pl.grn_graph(adata, n_edges=6)
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    labels = {t.get_text() for t in ax.texts}
    overall = edges[edges["group"] == "all"].head(6)
    assert len(arrows) == 6
    assert labels == set(overall["regulator"].astype(str)) | set(overall["target"].astype(str))
    assert len(ax.collections) == len(labels)  # one node marker per drawn gene, not 500
    plt.close("all")


def test_min_score_and_defaults_and_checks(course):
    adata, tfs, _ = course
    a = adata.copy()
    edges = cb.tl.grn(a, time_key="day", regulators=tfs, top_k=None, min_score=0.5, n_sub=1)
    assert edges["score"].min() >= 0.5 and len(edges) < N_TFS * N_GENES
    assert sparse.issparse(a.varp["cellbridge_grn"])
    # every candidate pair: a dense varp, as before
    edges = cb.tl.grn(a, time_key="day", regulators=tfs, top_k=None, n_sub=1)
    assert len(edges) == N_TFS * (N_GENES - 1) and isinstance(a.varp["cellbridge_grn"], np.ndarray)
    # the default, 20 per target: every pair of the 20 TFs (a dense varp), 20 of every gene's 499
    cb.tl.grn(a, time_key="day", regulators=tfs, n_sub=1)
    assert isinstance(a.varp["cellbridge_grn"], np.ndarray)
    edges = cb.tl.grn(a, time_key="day", targets=["G20", "G21", "TF2"], n_sub=1)
    assert edges.groupby("target", observed=True).size().to_dict() == {"TF2": 20, "G20": 20, "G21": 20}
    assert sparse.issparse(a.varp["cellbridge_grn"]) and a.varp["cellbridge_grn"].nnz == 60
    with pytest.raises(ValueError, match=r"2 of the 4 regulators .*\['Sox2', 'Nanog'\]"):
        cb.tl.grn(a, time_key="day", regulators=["TF0", "Sox2", "TF1", "Nanog"])
    with pytest.raises(ValueError, match="empty"):
        cb.tl.grn(a, time_key="day", regulators=[])
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="top_k"):
            cb.tl.grn(a, time_key="day", regulators=tfs, top_k=bad)
    with pytest.raises(ValueError, match="min_score"):
        cb.tl.grn(a, time_key="day", regulators=tfs, min_score=float("nan"))


# --------------------------------------------------------------------------------------------------
# the learned route: an NGM's Jacobian from its structure, restricted to TFs
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("hidden, timed", [((8,), True), ((6, 5), False)])
def test_structured_ngm_jacobian_equals_reverse_mode(hidden, timed):
    torch.manual_seed(0)
    ngm = NGMDrift(12, hidden, activation="selu", time_conditioned=timed)
    x, t = torch.randn(30, 12), torch.rand(30)
    full = ro.drift_jacobian(ngm, x, t)
    regs, tgts = np.array([0, 3, 4, 9]), np.array([1, 3, 5, 6, 11])
    np.testing.assert_allclose(ro.ngm_jacobian(ngm, x, t.reshape(-1, 1)).double().numpy(), full,
                               rtol=1e-4, atol=1e-6)
    part = ro.ngm_jacobian(ngm, x, t.reshape(-1, 1), regulators=regs, targets=tgts).double().numpy()
    np.testing.assert_allclose(part, full[:, tgts][:, :, regs], rtol=1e-4, atol=1e-6)


def test_read_network_streams_and_restricts(monkeypatch):
    torch.manual_seed(1)
    ngm = NGMDrift(40, (4,), activation="tanh", time_conditioned=True)
    x, t = np.random.default_rng(0).normal(size=(70, 40)).astype(np.float32), np.linspace(0, 1, 70)
    groups = np.where(np.arange(70) % 3 == 0, "a", "b")
    jac = ro.drift_jacobian(ngm, x, t)
    ref = ro.read_network(ngm, x, t, ngm=ngm, groups=groups, batch_size=16)
    # the batch-by-batch averages are the means over every cell's Jacobian, bit for bit
    np.testing.assert_array_equal(ref.mean_jacobian["all"], jac.mean(0))
    # a group's default score: |J_ij (x_j - x_j^0)| averaged over its cells, x^0 the lowest level over every cell
    levels = (x - x.min(0)).astype(np.float64)
    contribution = np.abs(jac * levels[:, None, :])[groups == "a"].mean(0)
    np.testing.assert_allclose(ref.scores["a"], ro._zero_diagonal(contribution.T), rtol=1e-12)
    assert ref.score_kind == {"all": "mean_abs_jacobian", "a": "mean_abs_contribution", "b": "mean_abs_contribution"}
    plain = ro.read_network(ngm, x, t, ngm=ngm, groups=groups, batch_size=16, group_score="mean_abs_jacobian")
    np.testing.assert_array_equal(plain.scores["a"], ro._zero_diagonal(np.abs(jac[groups == "a"]).mean(0).T))
    # the structured path (forced at 40 genes) and a TF restriction: the same numbers on the chosen entries
    monkeypatch.setattr(ro, "STRUCTURED_NGM_MIN_ENTRIES", 0)
    regs, tgts = np.arange(5), np.arange(3, 40)
    fast = ro.read_network(ngm, x, t, ngm=ngm, groups=groups, batch_size=16, regulators=regs, targets=tgts)
    for g in ("all", "a", "b"):
        np.testing.assert_allclose(fast.scores[g][np.ix_(regs, tgts)], ref.scores[g][np.ix_(regs, tgts)],
                                   rtol=1e-4, atol=1e-7)
        assert not fast.scores[g][5:].any() and not fast.scores[g][:, :3].any()
        np.testing.assert_allclose(fast.mean_jacobian[g][np.ix_(tgts, regs)], ref.mean_jacobian[g][np.ix_(tgts, regs)],
                                   rtol=1e-4, atol=1e-7)


def test_learned_route_with_a_tf_list(course):
    adata, tfs, _ = course
    adata = adata[:200].copy()
    torch.manual_seed(0)
    flow = NGMDrift(N_GENES, (4,), activation="tanh", time_conditioned=False)
    config = {"method": "sf2m", "sigma": 0.1, "dim": N_GENES, "time_points": [0.0, 1.0], "use_rep": "X",
              "time_key": "day", "network": flow.config}
    norm = Normalization(np.zeros(N_GENES, np.float32), 1.0, 0.0, 1.0)
    model = CellBridgeModel(config, {"flow": flow, "score": TimeMLP(N_GENES, (4,))}, norm)
    edges = cb.tl.grn(adata, model, regulators=tfs, top_k=TOP_K)
    assert set(edges["regulator"].astype(str)) <= set(tfs)
    assert edges.groupby("target", observed=True).size().max() == TOP_K
    dense = adata.varp["cellbridge_grn"].toarray()
    assert not dense[N_TFS:].any()
    # raw scores: the mean |J| over the cells; scores: divided by the geometric mean of each target's largest
    # over the TFs and the largest of all (target_scale="sqrt", the default)
    x = torch.as_tensor(adata.X)
    jac = ro.drift_jacobian(flow, x, torch.zeros(len(x)))  # autonomous: time does not matter
    raw = np.abs(jac).mean(0).T
    np.fill_diagonal(raw, 0.0)
    raw[N_TFS:] = 0.0
    scaled = raw / np.sqrt(raw.max(axis=0, keepdims=True) * raw.max())
    genes = list(adata.var_names)
    reg = [genes.index(g) for g in edges["regulator"].astype(str)]
    tgt = [genes.index(g) for g in edges["target"].astype(str)]
    np.testing.assert_allclose(edges["raw_score"], raw[reg, tgt], rtol=1e-4)
    np.testing.assert_allclose(edges["score"], scaled[reg, tgt], rtol=1e-4)
    r, c = np.nonzero(dense)
    np.testing.assert_allclose(dense[r, c], scaled[r, c], rtol=1e-4)
    # no ties at the top of any target
    assert (edges.groupby("target", observed=True)["score"].apply(lambda s: (s == s.max()).sum()) == 1).all()
    # target_scale="max" ties every target's strongest regulator at 1: the raw scores order the table there
    edges = cb.tl.grn(adata, model, regulators=tfs, top_k=TOP_K, target_scale="max")
    assert np.allclose(edges.groupby("target", observed=True).head(1)["score"], 1.0)
    for _, per in edges.groupby("target", observed=True):
        assert per["score"].is_monotonic_decreasing
        tied = per[per["score"] == per["score"].max()]
        assert tied["raw_score"].is_monotonic_decreasing
