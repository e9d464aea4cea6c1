"""Network readout from a drift: Jacobians, orientation, PCA mapping, and recovery of a linear system."""

import numpy as np
import pytest
import torch

from cellbridge.grn import readout, score_network
from cellbridge.nn import NGMDrift
from linear_system import linear_time_course


def test_jacobian_of_a_linear_drift_and_orientation():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(5, 5))
    at = torch.tensor(a, dtype=torch.float32)
    drift = lambda t, x: x @ at.T + t  # noqa: E731  f(x) = A x + t, J = A
    x = rng.normal(size=(13, 5))
    jac = readout.drift_jacobian(drift, x, np.linspace(0, 1, 13), batch_size=4)
    assert jac.shape == (13, 5, 5)
    np.testing.assert_allclose(jac, np.broadcast_to(a, jac.shape), rtol=1e-5, atol=1e-5)
    s = readout.jacobian_scores(jac)
    np.testing.assert_allclose(s, np.abs(a.T) * (1 - np.eye(5)), rtol=1e-5)  # S[regulator j, target i] = |A_ij|
    np.testing.assert_array_equal(readout.jacobian_signs(jac), np.sign(a.T) * (1 - np.eye(5)))


def test_jacobian_of_a_nonlinear_drift_matches_finite_differences():
    torch.manual_seed(0)
    net = NGMDrift(4, (6, 5), time_conditioned=True)
    x = np.random.default_rng(1).normal(size=(3, 4)).astype(np.float32)
    jac = readout.drift_jacobian(net, x, 0.3)
    h = 1e-3
    for j in range(4):
        e = np.zeros(4, np.float32)
        e[j] = h
        with torch.no_grad():
            fd = (net(0.3, torch.tensor(x + e)) - net(0.3, torch.tensor(x - e))).numpy() / (2 * h)
        np.testing.assert_allclose(jac[:, :, j], fd, atol=2e-3)


def test_groups_and_score_kinds():
    # f_1 = x_0^2: the mean Jacobian cancels over symmetric cells, the mean absolute one does not
    drift = lambda t, x: torch.stack([torch.zeros_like(x[:, 0]), x[:, 0] ** 2], 1)  # noqa: E731
    x = np.array([[-1.0, 0.0], [1.0, 0.0], [2.0, 0.0]])
    groups = np.array(["neg", "pos", "pos"])
    r = readout.read_network(drift, x, 0.0, groups=groups, score="abs_mean_jacobian", group_score="mean_abs_jacobian")
    assert r.scores["all"][0, 1] == pytest.approx(abs((-2 + 2 + 4) / 3))
    assert r.scores["neg"][0, 1] == pytest.approx(2.0) and r.signs["neg"][0, 1] == -1
    assert r.scores["pos"][0, 1] == pytest.approx(3.0) and r.signs["pos"][0, 1] == 1
    assert r.n_cells == {"all": 3, "neg": 1, "pos": 2}
    with pytest.raises(ValueError, match="ngm"):
        readout.read_network(drift, x, 0.0, score="group_norm")


def test_pca_to_genes():
    rng = np.random.default_rng(2)
    q, _ = np.linalg.qr(rng.normal(size=(6, 2)))
    j = rng.normal(size=(2, 2))
    g = readout.pca_to_genes(j, q)
    # the gene-space drift Q f(Q^T x) of a linear f = J z has Jacobian Q J Q^T, rank 2
    np.testing.assert_allclose(g, q @ j @ q.T)
    assert np.linalg.matrix_rank(g) == 2
    with pytest.raises(ValueError, match="loadings"):
        readout.pca_to_genes(j, q.T)


def test_ngm_scores_zero_diagonal_and_input_scale():
    torch.manual_seed(0)
    net = NGMDrift(3, (4,))
    s = readout.ngm_scores(net)
    np.testing.assert_allclose(np.diag(s), 0)
    g = net.group_norms().detach().numpy()
    np.testing.assert_allclose(s[0, 1], g[0, 1], rtol=1e-6)
    s2 = readout.ngm_scores(net, input_scale=np.array([2.0, 1.0, 1.0]))
    np.testing.assert_allclose(s2[0, 1], 2 * g[0, 1], rtol=1e-6)


@pytest.mark.slow
def test_ngm_fit_recovers_a_sparse_linear_system_with_signs():
    import anndata as ad
    import pandas as pd

    import cellbridge as cb

    x, t, truth = linear_time_course(seed=0)
    genes = [f"g{i}" for i in range(x.shape[1])]
    adata = ad.AnnData(x, var=pd.DataFrame(index=genes))
    adata.obs["time"] = t
    # bridges alone (velocity matching, on by default for an NGM, is tested in tests/methods/test_velocity_term.py)
    model = cb.tl.fit(adata, "time", use_rep="X", drift="ngm", ngm_lambda=1e-2, n_steps=600, batch_size=128,
                      ot_method="exact", velocity_matching=0, progress=False, rng=0)
    edges = cb.tl.grn(adata, model)  # scores: mean |Jacobian| of the NGM; signs: the mean Jacobian
    signs = (edges.pivot(index="regulator", columns="target", values="sign")
             .reindex(index=genes, columns=genes).fillna(0).to_numpy())
    res = score_network(adata.varp["cellbridge_grn"], truth, signs, genes=genes)
    assert res["auroc"] > 0.95, res
    assert res["signed_accuracy"] >= 0.9, res
    # the group norms of the same fit rank the edges almost as well
    cb.tl.grn(adata, model, score="group_norm", key_added="norms")
    assert score_network(adata.varp["norms"], truth, genes=genes)["auroc"] > 0.9


def test_scale_targets_closed_forms():
    s = np.array([[0.0, 2.0, 0.0], [4.0, 0.0, 0.0], [1.0, 1.0, 0.0]])  # [regulator, target]; target 3 unregulated
    np.testing.assert_allclose(readout.scale_targets(s, "max"), [[0, 1, 0], [1, 0, 0], [0.25, 0.5, 0]])
    # sqrt: divided by sqrt(target's largest x network's largest = 4)
    np.testing.assert_allclose(readout.scale_targets(s, "sqrt"), s / np.sqrt(np.array([[4.0, 2.0, 1.0]]) * 4.0) * (s > 0))
    assert readout.scale_targets(s, "sqrt")[1, 0] == 1.0 and readout.scale_targets(s, "sqrt")[0, 1] < 1.0
    np.testing.assert_array_equal(readout.scale_targets(s, None), s)
    with pytest.raises(ValueError, match="target_scale"):
        readout.scale_targets(s, "mean")
