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


# ---- basis= (trajectories mapped onto an embedding) and color= ---------------------------------------------


def _umap(x: np.ndarray) -> np.ndarray:
    """A non-linear 2-D 'embedding' of the 4-D cells."""
    return np.stack([np.tanh(x[:, 0]) * 4 + x[:, 1] ** 2, x[:, 2] * x[:, 3] * 3], axis=1)


@pytest.fixture
def embedded(adata):
    adata.obsm["X_umap"] = _umap(adata.obsm["X_pca"].astype(np.float64))
    return adata


def test_basis_maps_states_by_the_knn_barycentre(embedded, sim):
    from cellbridge.neighbors import assign_to_cells

    # trajectory 0 passes exactly through observed cells: each of its states is one of them
    on_cells = np.arange(T_EVAL.size) * 7
    sim.obsm["X_pca"][: T_EVAL.size] = embedded.obsm["X_pca"][on_cells]
    states = sim.obsm["X_pca"].reshape(N_TRAJ, T_EVAL.size, 4)
    ax = trajectories(embedded, sim, time_key="day", basis="umap", n_trajectories=N_TRAJ)
    np.testing.assert_allclose(ax.collections[0].get_offsets(), embedded.obsm["X_umap"])
    assert ax.get_xlabel() == "UMAP1" and ax.get_ylabel() == "UMAP2"
    reference = embedded.obsm["X_pca"].astype(np.float64)
    for line in _lines(ax):
        tid = int(line.get_gid())
        weights = assign_to_cells(reference, states[tid].astype(np.float64))
        expected = weights @ embedded.obsm["X_umap"]
        np.testing.assert_allclose(line.get_xdata(), expected[:, 0], rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(line.get_ydata(), expected[:, 1], rtol=1e-6, atol=1e-9)
        if tid == 0:  # a state on a cell gives that cell the largest weight: drawn nearest to it
            dense = weights.toarray()
            np.testing.assert_array_equal(dense.argmax(axis=1), on_cells)
            drawn = np.stack([line.get_xdata(), line.get_ydata()], axis=1)
            dist = np.linalg.norm(drawn[:, None, :] - embedded.obsm["X_umap"][None, :, :], axis=2)
            spread = np.linalg.norm(embedded.obsm["X_umap"].std(axis=0))
            assert np.all(dist[np.arange(T_EVAL.size), on_cells] < 0.5 * spread)


def test_basis_key_dims_and_neighbours(embedded, sim):
    embedded.obsm["X_umap"] = np.concatenate([embedded.obsm["X_umap"], embedded.obsm["X_pca"][:, :1]], axis=1)
    ax = trajectories(embedded, sim, time_key="day", basis="X_umap", dims=(2, 0), n_trajectories=2,
                      n_neighbors=1)
    assert ax.get_xlabel() == "UMAP3" and ax.get_ylabel() == "UMAP1"
    np.testing.assert_allclose(ax.collections[0].get_offsets(), embedded.obsm["X_umap"][:, [2, 0]])
    # one neighbour: every state is drawn exactly at its nearest observed cell
    line = _lines(ax)[0]
    states = sim.uns["_states"][int(line.get_gid())]
    nearest = np.argmin(np.linalg.norm(states[:, None, :] - embedded.obsm["X_pca"][None], axis=2), axis=1)
    np.testing.assert_allclose(line.get_xdata(), embedded.obsm["X_umap"][nearest, 2], rtol=1e-6)


def test_basis_none_and_basis_equal_to_use_rep_keep_exact_coordinates(embedded, sim):
    for kwargs, labels in (({}, ("X_pca[0]", "X_pca[1]")), ({"basis": "pca"}, ("PC1", "PC2"))):
        ax = trajectories(embedded, sim, time_key="day", n_trajectories=N_TRAJ, **kwargs)
        assert (ax.get_xlabel(), ax.get_ylabel()) == labels
        for line in _lines(ax):
            tid = int(line.get_gid())
            np.testing.assert_allclose(line.get_xdata(), sim.uns["_states"][tid, :, 0])
            np.testing.assert_allclose(line.get_ydata(), sim.uns["_states"][tid, :, 1])
        plt.close("all")


def test_color_categorical_uses_uns_colours_and_a_legend(embedded, sim):
    types = np.array(["stem", "ery", "mye"])[np.arange(embedded.n_obs) % 3]
    embedded.obs["cell_type"] = pd.Categorical(types, categories=["ery", "mye", "stem"])
    embedded.uns["cell_type_colors"] = ["#ff0000", "#00ff00", "#0000ff"]
    ax = trajectories(embedded, sim, time_key="day", basis="umap", color="cell_type", n_trajectories=3)
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["ery", "mye", "stem"]
    assert legend.get_title().get_text() == "cell_type"
    colours = {"ery": (1, 0, 0, 1), "mye": (0, 1, 0, 1), "stem": (0, 0, 1, 1)}
    faces = ax.collections[0].get_facecolors()
    np.testing.assert_allclose(faces[:, :3], [colours[t][:3] for t in types])  # alpha: the scatter's
    assert len(ax.figure.axes) == 1  # a legend, no colour bar
    assert len(_lines(ax)) == 3  # the legend's markers are not trajectories


def test_color_strings_default_palette_and_missing_values_grey(embedded, sim):
    types = np.array(["a", "b", None], dtype=object)[np.arange(embedded.n_obs) % 3]
    embedded.obs["kind"] = types
    ax = trajectories(embedded, sim, time_key="day", color="kind", n_trajectories=1)
    faces = ax.collections[0].get_facecolors()
    tab10 = plt.get_cmap("tab10")
    np.testing.assert_allclose(faces[0, :3], tab10(0)[:3])
    np.testing.assert_allclose(faces[1, :3], tab10(1)[:3])
    np.testing.assert_allclose(faces[2, :3], matplotlib.colors.to_rgb("lightgray"))
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b"]


def test_color_numeric_has_a_labelled_colour_bar(embedded, sim):
    embedded.obs["score"] = np.linspace(0.0, 1.0, embedded.n_obs)
    ax = trajectories(embedded, sim, time_key="day", basis="umap", color="score", n_trajectories=2)
    np.testing.assert_allclose(ax.collections[0].get_array(), embedded.obs["score"].to_numpy())
    assert len(ax.figure.axes) == 2 and ax.figure.axes[1].get_ylabel() == "score"
    assert ax.get_legend() is None
    # a gene of var_names colours by its expression in X
    embedded.var_names = ["g0", "g1", "g2", "g3"]
    ax = trajectories(embedded, sim, time_key="day", color="g2", n_trajectories=2, title="by g2")
    np.testing.assert_allclose(ax.collections[0].get_array(), embedded.X[:, 2], rtol=1e-6)
    assert ax.get_title() == "by g2"


def test_errors_of_basis_and_color(embedded, sim):
    with pytest.raises(KeyError, match="tsne"):
        trajectories(embedded, sim, time_key="day", basis="tsne")
    with pytest.raises(KeyError, match="cell_type"):
        trajectories(embedded, sim, time_key="day", color="cell_type")
    with pytest.raises(ValueError, match="dims"):
        trajectories(embedded, sim, time_key="day", basis="umap", dims=(0, 2))
