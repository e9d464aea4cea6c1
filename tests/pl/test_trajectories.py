"""Tests of cellbridge.pl.trajectories with a hand-made simulation that follows tl.simulate's contract."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import anndata as ad
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.lines import Line2D

from cellbridge.pl import trajectories

N_OBS_PER_TIME = 30
TIMES = np.array([0.0, 1.0, 2.0])
N_TRAJ = 12
T_EVAL = np.linspace(0.0, 2.0, 9)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def adata() -> ad.AnnData:
    rng = np.random.default_rng(0)
    n = N_OBS_PER_TIME * TIMES.size
    x = rng.standard_normal((n, 4)).astype(np.float32)
    obs = pd.DataFrame({"day": np.repeat(TIMES, N_OBS_PER_TIME)}, index=[f"c{i}" for i in range(n)])
    a = ad.AnnData(X=x, obs=obs)
    a.obsm["X_pca"] = x.copy()
    return a


@pytest.fixture
def sim() -> ad.AnnData:
    """One row per (trajectory, time), rows by trajectory then time, states in obsm['X_pca']."""
    rng = np.random.default_rng(1)
    states = np.cumsum(rng.standard_normal((N_TRAJ, T_EVAL.size, 4)), axis=1).astype(np.float32)
    obs = pd.DataFrame(
        {
            "time": np.tile(T_EVAL, N_TRAJ),
            "trajectory": np.repeat(np.arange(N_TRAJ), T_EVAL.size),
            "source_cell": np.repeat([f"c{i}" for i in range(N_TRAJ)], T_EVAL.size),
            "source_time": 0.0,
        },
        index=[f"traj{k}_t{j}" for k in range(N_TRAJ) for j in range(T_EVAL.size)],
    )
    s = ad.AnnData(X=np.zeros((obs.shape[0], 0), dtype=np.float32), obs=obs)
    s.obsm["X_pca"] = states.reshape(-1, 4)
    s.uns["cellbridge_simulation"] = {"use_rep": "X_pca", "t_eval": T_EVAL, "stochastic": True}
    s.uns["_states"] = states  # for the test only: the ground truth per trajectory
    return s


def _lines(ax) -> list[Line2D]:
    return [line for line in ax.get_lines() if isinstance(line, Line2D)]


def test_counts_of_lines_and_points(adata, sim):
    ax = trajectories(adata, sim, time_key="day", n_trajectories=5)
    assert len(_lines(ax)) == 5
    scatter = ax.collections[0]
    assert scatter.get_offsets().shape == (adata.n_obs, 2)
    np.testing.assert_allclose(scatter.get_offsets(), adata.obsm["X_pca"][:, :2])
    # coloured by time, with a colour bar labelled by the time key
    np.testing.assert_allclose(scatter.get_array(), adata.obs["day"].to_numpy())
    assert len(ax.figure.axes) == 2
    assert ax.figure.axes[1].get_ylabel() == "day"


@pytest.mark.parametrize("dims", [(0, 1), (2, 3), (3, 0)])
def test_each_line_follows_its_trajectory_in_the_chosen_dims(adata, sim, dims):
    ax = trajectories(adata, sim, time_key="day", dims=dims, n_trajectories=7, rng=3)
    lines = _lines(ax)
    assert len(lines) == 7
    ids = [int(line.get_gid()) for line in lines]
    assert len(set(ids)) == 7  # drawn without replacement
    states = sim.uns["_states"]
    for line, tid in zip(lines, ids):
        np.testing.assert_allclose(line.get_xdata(), states[tid, :, dims[0]])
        np.testing.assert_allclose(line.get_ydata(), states[tid, :, dims[1]])
    np.testing.assert_allclose(ax.collections[0].get_offsets(), adata.obsm["X_pca"][:, list(dims)])


def test_lines_are_in_time_order_even_when_rows_are_shuffled(adata, sim):
    shuffled = sim[np.random.default_rng(5).permutation(sim.n_obs)].copy()
    ax = trajectories(adata, shuffled, time_key="day", n_trajectories=N_TRAJ)
    states = sim.uns["_states"]
    for line in _lines(ax):
        tid = int(line.get_gid())
        np.testing.assert_allclose(line.get_xdata(), states[tid, :, 0])


def test_all_trajectories_when_fewer_than_requested(adata, sim):
    ax = trajectories(adata, sim, time_key="day", n_trajectories=1000)
    assert sorted(int(line.get_gid()) for line in _lines(ax)) == list(range(N_TRAJ))


def test_choice_is_seeded(adata, sim):
    def ids(seed):
        ax = trajectories(adata, sim, time_key="day", n_trajectories=4, rng=seed)
        return [line.get_gid() for line in _lines(ax)]

    assert ids(0) == ids(0)
    assert any(ids(0) != ids(s) for s in range(1, 5))


def test_draws_into_given_axes_and_explicit_use_rep(adata, sim):
    adata.obsm["X_other"] = adata.obsm["X_pca"] * 2
    sim.obsm["X_other"] = sim.obsm["X_pca"] * 2
    fig, ax = plt.subplots()
    out = trajectories(adata, sim, time_key="day", use_rep="X_other", n_trajectories=3, ax=ax)
    assert out is ax
    tid = int(_lines(ax)[0].get_gid())
    np.testing.assert_allclose(_lines(ax)[0].get_xdata(), 2 * sim.uns["_states"][tid, :, 0])


def test_save_writes_png(adata, sim, tmp_path):
    path = tmp_path / "traj.png"
    trajectories(adata, sim, time_key="day", save=str(path))
    assert path.stat().st_size > 1000
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_errors(adata, sim):
    del sim.uns["cellbridge_simulation"]
    with pytest.raises(ValueError, match="use_rep"):
        trajectories(adata, sim, time_key="day")
    with pytest.raises(KeyError, match="X_umap"):
        trajectories(adata, sim, time_key="day", use_rep="X_umap")
    with pytest.raises(KeyError, match="nope"):
        trajectories(adata, sim, time_key="nope", use_rep="X_pca")
    with pytest.raises(ValueError, match="dims"):
        trajectories(adata, sim, time_key="day", use_rep="X_pca", dims=(0, 4))
