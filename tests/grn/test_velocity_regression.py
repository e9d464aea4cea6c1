"""The model-free network: ridge coefficients against a closed form, recovery of known networks."""

import logging

import numpy as np
import pytest

import cellbridge as cb
from cellbridge.grn import score_network
from cellbridge.grn.velocity_regression import MIN_GROUP_CELLS, velocity_coefficients, velocity_network
from linear_system import linear_time_course

#: BEELINE's linear chain (dyn-linear): g1 -| ... g1 -> g2 -> ... -> g7, g7 -| g1, g7 -> g7
CHAIN = {"g1": "not g7", "g2": "g1", "g3": "g2", "g4": "g3", "g5": "g4", "g6": "g5", "g7": "g6 or g7"}


def test_coefficients_of_exact_linear_velocities():
    # v = A x + b without noise: the regression returns A per standard deviation of each gene; the
    # penalty chosen by leave-one-out is the smallest (1e-3 on 500 standardised cells: shrinkage ~1e-6)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 4)) * np.array([1.0, 2.0, 0.5, 3.0])
    a = rng.normal(size=(4, 4))
    v = x @ a.T + 1.0
    np.testing.assert_allclose(velocity_coefficients(x, v), a * x.std(0), rtol=1e-4, atol=1e-6)
    # a constant gene gets no coefficient
    x[:, 2] = 1.0
    assert np.all(velocity_coefficients(x, v)[:, 2] == 0)


@pytest.mark.parametrize("seed", [0, 1])
def test_synchronous_snapshots_of_a_linear_system(seed):
    # every cell of a snapshot recorded at the same time: the snapshots are used as they are (n_sub=1)
    x, t, truth = linear_time_course(seed=seed)
    r = velocity_network(x, t, n_sub=1)
    res = score_network(r.scores["all"], truth, r.signs["all"])
    assert res["auroc"] > 0.9, res  # 0.93 / 0.96 for seeds 0 / 1
    assert res["signed_accuracy"] == 1.0, res
    s = r.scores["all"]
    assert np.all(np.diag(s) == 0) and np.all(np.diag(r.signs["all"]) == 0)
    # per-target scale: every target's strongest regulator scores 1
    np.testing.assert_allclose(s.max(axis=0), 1.0)


@pytest.mark.parametrize("seed", [0, 1])
def test_refined_time_points_recover_an_asynchronous_chain(seed):
    # BoolODE's linear chain recorded at 25 times, labelled with 5 coarse snapshots: the cells of a
    # snapshot span a fifth of the process, which refinement resolves (on the 8 runs of seeds 0-3 with
    # 25 or 50 recording times: refined 0.89-0.95, snapshots as they are 0.60-0.78)
    adata, edges = cb.datasets.simulate_boolode(CHAIN, 24, np.linspace(0.2, 5, 25), ics={"g1": 1.0}, rng=seed)
    x = np.log1p(np.asarray(adata.X, dtype=np.float64))
    snapshot = np.floor(adata.obs["time"].to_numpy() - 1e-9).clip(0, 4)
    genes = list(adata.var_names)
    refined = score_network((r := velocity_network(x, snapshot)).scores["all"], edges, r.signs["all"], genes=genes)
    coarse = score_network(velocity_network(x, snapshot, n_sub=1).scores["all"], edges, genes=genes)
    assert refined["auroc"] > 0.88, refined
    assert refined["signed_accuracy"] >= 0.85, refined
    assert refined["auroc"] > coarse["auroc"] + 0.1, (refined, coarse)


def test_pca_coordinates_map_back_to_genes():
    # a full rotation Q: OT, progress and the velocities rotate with the data, so Q A_pc Q^T is A (up to the
    # ridge penalty acting on standardised PCs rather than genes: 0.4-1.3% on seeds 0-3)
    x, t, _ = linear_time_course(seed=0)
    q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(8, 8)))
    genes = velocity_network(x, t).mean_jacobian["all"]
    pcs = velocity_network(x @ q, t, loadings=q).mean_jacobian["all"]
    assert np.linalg.norm(pcs - genes) < 0.03 * np.linalg.norm(genes)


def test_groups_and_bad_input(cb_log):
    x, t, _ = linear_time_course(seed=0, n_cells=60)
    groups = np.where(np.arange(len(t)) % 2 == 0, "even", "odd").astype(object)
    groups[:MIN_GROUP_CELLS - 1] = "tiny"  # too few cells for a regression
    r = velocity_network(x, t, n_sub=1, groups=groups)
    assert set(r.scores) == {"all", "even", "odd"}
    assert r.n_cells["all"] == len(t) and r.n_cells["even"] + r.n_cells["odd"] == len(t) - MIN_GROUP_CELLS + 1
    assert any("tiny" in rec.getMessage() and rec.levelno == logging.WARNING for rec in cb_log)
    with pytest.raises(ValueError, match="n_sub"):
        velocity_network(x, t, n_sub=61)
    with pytest.raises(ValueError, match="at least one"):
        velocity_network(x, t, n_sub=())
    with pytest.raises(ValueError, match="one label per cell"):
        velocity_network(x, t, groups=groups[:-1])
    with pytest.raises(ValueError, match="loadings"):
        velocity_network(x, t, loadings=np.eye(3))
