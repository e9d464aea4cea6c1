"""Tests of cellbridge.pl.leave_one_out and leave_one_out_cells with hand-made result tables and predictions."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import anndata as ad
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import LineCollection

import cellbridge as cb
from cellbridge.pl import leave_one_out, leave_one_out_cells

HELD = [1.0, 2.0, 4.0]
MODELS = ["sf2m-sde", "sf2m-ode"]
BASELINES = ["previous", "next", "random_pairs", "ot_interpolation"]
METRICS = ["w1", "mmd"]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _table(n_seeds: int = 3, seed: int = 0) -> pd.DataFrame:
    """A tidy table as cb.tl.leave_one_out returns it, with distinct random values."""
    rng = np.random.default_rng(seed)
    rows = []
    for tk in HELD:
        for s in range(n_seeds):
            for m in MODELS + BASELINES:
                for metric in METRICS:
                    kind = "model" if m in MODELS else "baseline"
                    rows.append((tk, m, kind, s, metric, float(rng.uniform(0.5, 3.0))))
    return pd.DataFrame(rows, columns=["held_out", "method", "kind", "seed", "metric", "value"])


def _by_gid(ax):
    return {line.get_gid(): line for line in ax.get_lines()}


# ------------------------------------------------------------------------------------------------------
# leave_one_out: metric per held-out time point
# ------------------------------------------------------------------------------------------------------


def test_one_line_per_method_models_first():
    ax = leave_one_out(_table(), "w1", show=False)
    lines = ax.get_lines()
    assert len(lines) == len(MODELS) + len(BASELINES)
    assert [line.get_gid() for line in lines] == MODELS + BASELINES


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("n_seeds", [1, 3])
def test_line_data_are_the_means_over_seeds(metric, n_seeds):
    table = _table(n_seeds=n_seeds)
    ax = leave_one_out(table, metric, show=False)
    expected = table[table["metric"] == metric].groupby(["method", "held_out"])["value"].mean()
    for method, line in _by_gid(ax).items():
        np.testing.assert_allclose(line.get_xdata(), HELD)
        np.testing.assert_allclose(line.get_ydata(), expected.loc[method].loc[HELD].to_numpy())
    assert list(ax.get_xticks()) == HELD


def test_rows_in_any_order_give_the_same_lines():
    table = _table()
    shuffled = table.sample(frac=1.0, random_state=3)
    a = _by_gid(leave_one_out(table, show=False))
    b = _by_gid(leave_one_out(shuffled, show=False))
    for m in MODELS + BASELINES:
        np.testing.assert_allclose(a[m].get_ydata(), b[m].get_ydata())


def test_error_bars_are_sd_over_seeds_only_with_several_seeds():
    table = _table(n_seeds=3)
    ax = leave_one_out(table, "w1", show=False)
    bars = {c.get_gid(): c for c in ax.collections if isinstance(c, LineCollection)}
    assert set(bars) == {f"{m} sd" for m in MODELS + BASELINES}
    stats = table[table["metric"] == "w1"].groupby(["method", "held_out"])["value"].agg(["mean", "std"])
    for m in MODELS + BASELINES:
        segs = bars[f"{m} sd"].get_segments()
        assert len(segs) == len(HELD)
        lo = np.array([s[:, 1].min() for s in segs])
        hi = np.array([s[:, 1].max() for s in segs])
        np.testing.assert_allclose(lo, (stats.loc[m]["mean"] - stats.loc[m]["std"]).to_numpy(), rtol=1e-6)
        np.testing.assert_allclose(hi, (stats.loc[m]["mean"] + stats.loc[m]["std"]).to_numpy(), rtol=1e-6)

    single = leave_one_out(_table(n_seeds=1), "w1", show=False)
    assert not [c for c in single.collections if isinstance(c, LineCollection)]
    assert len(single.get_lines()) == len(MODELS) + len(BASELINES)


def test_baselines_dashed_models_solid_reference_highlighted():
    ax = leave_one_out(_table(), show=False)
    lines = _by_gid(ax)
    for m in MODELS:
        assert lines[m].get_linestyle() == "-"
    for m in BASELINES:
        assert lines[m].get_linestyle() == "--"
    ref = lines["ot_interpolation"]
    assert matplotlib.colors.to_hex(ref.get_color()) == "#000000"
    others = [lines[m] for m in BASELINES if m != "ot_interpolation"]
    assert all(ref.get_linewidth() > o.get_linewidth() for o in others)
    assert all((o.get_alpha() or 1.0) < 1.0 for o in others)
    assert all(ref.get_zorder() > o.get_zorder() for o in others)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(labels) == len(MODELS) + len(BASELINES)
    assert "ot_interpolation (reference)" in labels
    assert ax.get_ylabel() == "W1 to the real cells"
    assert "held-out" in ax.get_xlabel()


def test_methods_selects_and_orders():
    ax = leave_one_out(_table(), "mmd", methods=["ot_interpolation", "sf2m-ode"], show=False)
    assert [line.get_gid() for line in ax.get_lines()] == ["ot_interpolation", "sf2m-ode"]
    assert ax.get_ylabel() == "MMD to the real cells"


def test_kind_inferred_without_kind_column():
    table = _table(n_seeds=1).drop(columns=["kind", "seed"])
    lines = _by_gid(leave_one_out(table, show=False))
    assert lines["sf2m-sde"].get_linestyle() == "-"
    assert lines["random_pairs"].get_linestyle() == "--"


def test_nan_value_leaves_a_gap(cb_log):
    table = _table(n_seeds=2)
    hit = ((table["method"] == "sf2m-sde") & (table["held_out"] == 2.0) & (table["metric"] == "w1")
           & (table["seed"] == 1))
    table.loc[hit, "value"] = np.nan
    y = _by_gid(leave_one_out(table, show=False))["sf2m-sde"].get_ydata()
    assert np.isnan(y[1]) and np.all(np.isfinite(y[[0, 2]]))
    assert any("NaN" in r.getMessage() for r in cb_log)


def test_reads_the_record_of_tl_leave_one_out():
    adata = cb.datasets.bifurcation(n_cells=40, n_dims=4, rng=0)
    res = cb.tl.leave_one_out(adata, time_key="day", method=None, metrics=("w1", "w2"), n_seeds=2,
                              max_cells=40, progress=False)
    ax = leave_one_out(adata, "w2", show=False)
    expected = res[res["metric"] == "w2"].groupby(["method", "held_out"])["value"].mean()
    lines = _by_gid(ax)
    assert list(lines) == list(pd.unique(res["method"]))
    for m, line in lines.items():
        np.testing.assert_allclose(line.get_ydata(), expected.loc[m].to_numpy())
    assert ax.get_xlabel() == "held-out time point (day)"
    assert ax.get_ylabel() == "W2 to the real cells"


def test_errors_name_what_is_available():
    table = _table()
    with pytest.raises(ValueError, match=r"'w7'.*available metrics: \['w1', 'mmd'\]"):
        leave_one_out(table, "w7", show=False)
    with pytest.raises(ValueError, match=r"\['nope'\].*available methods: \['sf2m-sde'"):
        leave_one_out(table, methods=["sf2m-sde", "nope"], show=False)
    adata = ad.AnnData(np.zeros((3, 2), dtype=np.float32))
    adata.uns["my_loo"] = {"results": table, "params": {}}
    with pytest.raises(ValueError, match=r"'cellbridge_leave_one_out'.*\['my_loo'\]"):
        leave_one_out(adata, show=False)
    assert len(leave_one_out(adata, key="my_loo", show=False).get_lines()) == 6
    adata.uns["broken"] = {"params": {}}
    with pytest.raises(ValueError, match="no 'results'"):
        leave_one_out(adata, key="broken", show=False)
    with pytest.raises(ValueError, match="lacks column"):
        leave_one_out(table.drop(columns=["held_out"]), show=False)


def test_draws_into_given_axes_and_saves(tmp_path):
    fig, ax = plt.subplots()
    path = tmp_path / "loo.png"
    out = leave_one_out(_table(), ax=ax, show=False, save=str(path))
    assert out is ax
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ------------------------------------------------------------------------------------------------------
# leave_one_out_cells: predicted against real cells
# ------------------------------------------------------------------------------------------------------

TIMES = [0.0, 1.0, 2.0, 3.0]
N_PER_TIME = 25


def _small_timecourse(labels: bool = False) -> ad.AnnData:
    rng = np.random.default_rng(0)
    n = N_PER_TIME * len(TIMES)
    t = np.repeat(TIMES, N_PER_TIME)
    x = (rng.standard_normal((n, 4)) + t[:, None]).astype(np.float32)
    day = [f"day{int(v)}" for v in t] if labels else t
    a = ad.AnnData(X=x, obs=pd.DataFrame({"day": day}, index=[f"c{i}" for i in range(n)]))
    a.obsm["X_pca"] = x.copy()
    return a


def _offsets(ax) -> dict[str, np.ndarray]:
    return {c.get_gid(): np.asarray(c.get_offsets()) for c in ax.collections}


@pytest.mark.parametrize("dims", [(0, 1), (3, 1)])
def test_cells_offsets_are_the_chosen_columns(dims):
    adata = _small_timecourse()
    pred = np.random.default_rng(1).standard_normal((30, 4))
    ax = leave_one_out_cells(adata, pred, 2.0, time_key="day", dims=dims, show=False)
    off = _offsets(ax)
    assert list(off) == ["previous", "next", "real", "predicted"]
    x, t = adata.obsm["X_pca"], adata.obs["day"].to_numpy()
    np.testing.assert_allclose(off["real"], x[t == 2.0][:, list(dims)])
    np.testing.assert_allclose(off["predicted"], pred[:, list(dims)])
    np.testing.assert_allclose(off["previous"], x[t == 1.0][:, list(dims)])
    np.testing.assert_allclose(off["next"], x[t == 3.0][:, list(dims)])
    assert ax.get_xlabel() == f"X_pca[{dims[0]}]" and ax.get_ylabel() == f"X_pca[{dims[1]}]"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(labels) == 4 and any("predicted" in s for s in labels) and any("real" in s for s in labels)


def test_cells_from_a_simulation_at_the_held_out_time_only():
    adata = _small_timecourse(labels=True)
    adata.obsm["X_other"] = adata.obsm["X_pca"] * 2
    n_traj, t_eval = 10, np.array([1.0, 1.5, 2.0, 3.0])
    states = np.random.default_rng(2).standard_normal((n_traj, t_eval.size, 4)).astype(np.float32)
    sim = ad.AnnData(obs=pd.DataFrame({"time": np.tile(t_eval, n_traj),
                                       "trajectory": np.repeat(np.arange(n_traj), t_eval.size)},
                                      index=[f"r{i}" for i in range(n_traj * t_eval.size)]))
    sim.obsm["X_other"] = states.reshape(-1, 4)
    sim.uns["cellbridge_simulation"] = {"use_rep": "X_other"}
    ax = leave_one_out_cells(adata, sim, "day2", time_key="day", dims=(2, 0), show=False)
    off = _offsets(ax)
    np.testing.assert_allclose(off["predicted"], states[:, 2][:, [2, 0]])
    real = adata.obsm["X_other"][adata.obs["day"].to_numpy() == "day2"]
    np.testing.assert_allclose(off["real"], real[:, [2, 0]])
    assert ax.get_xlabel() == "X_other[2]"
    with pytest.raises(ValueError, match=r"no rows at the held-out time 0.*\[1.0, 1.5, 2.0, 3.0\]"):
        leave_one_out_cells(adata, sim, "day0", time_key="day", show=False)


def test_cells_at_the_first_time_point_have_one_neighbour():
    adata = _small_timecourse()
    ax = leave_one_out_cells(adata, np.zeros((5, 4)), 0, time_key="day", show=False)
    assert list(_offsets(ax)) == ["next", "real", "predicted"]


def test_cells_errors_name_what_is_available():
    adata = _small_timecourse()
    pred = np.zeros((5, 4))
    with pytest.raises(ValueError, match=r"dims \(0, 4\).*4 columns.*0\.\.3"):
        leave_one_out_cells(adata, pred, 1.0, time_key="day", dims=(0, 4), show=False)
    with pytest.raises(ValueError, match=r"dims \(-1, 0\)"):
        leave_one_out_cells(adata, pred, 1.0, time_key="day", dims=(-1, 0), show=False)
    with pytest.raises(ValueError, match="two columns"):
        leave_one_out_cells(adata, pred, 1.0, time_key="day", dims=(0, 1, 2), show=False)
    with pytest.raises(ValueError, match=r"held_out=5.*\['0', '1', '2', '3'\]"):
        leave_one_out_cells(adata, pred, 5, time_key="day", show=False)
    with pytest.raises(ValueError, match="3 columns"):
        leave_one_out_cells(adata, np.zeros((5, 3)), 1.0, time_key="day", show=False)
    with pytest.raises(ValueError, match=r"'nope'.*\['day'\]"):
        leave_one_out_cells(adata, pred, 1.0, time_key="nope", show=False)
    with pytest.raises(ValueError, match="X_umap"):
        leave_one_out_cells(adata, pred, 1.0, time_key="day", use_rep="X_umap", show=False)
