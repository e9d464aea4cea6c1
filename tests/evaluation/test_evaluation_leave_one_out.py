"""Leave-one-out on time courses whose truth is known."""

import numpy as np
import pandas as pd
import pytest

import cellbridge as cb
from cellbridge.evaluation import leave_one_out, summarize
from cellbridge.evaluation.leave_one_out import RESULT_COLUMNS, model_predictor


def two_lanes(n=150, times=(0, 1, 2, 3, 4), seed=0):
    """Two clusters at y = +-2 moving along x at unit speed.

    Straight lines between random pairs cross between the lanes half the time, so the random-pair
    prediction puts half its cells near y = 0, where no real cell is (W1 about 1); the dynamics, and any
    method that learns them, keep the lanes.
    """
    rng = np.random.default_rng(seed)
    xs, ts = [], []
    for t in times:
        lane = np.repeat([-2.0, 2.0], [n // 2, n - n // 2])  # exactly half per lane: no mass imbalance
        xs.append(np.column_stack([t + 0.3 * rng.normal(size=n), lane + 0.3 * rng.normal(size=n)]))
        ts.append(np.full(n, float(t)))
    return np.concatenate(xs).astype(np.float32), np.concatenate(ts)


def test_baselines_only_on_two_lanes():
    x, t = two_lanes()
    res = leave_one_out(x, t, None, metrics=("w1", "energy"), n_seeds=2, progress=False)
    assert list(res.columns) == RESULT_COLUMNS
    assert sorted(res["held_out"].unique()) == [1.0, 2.0, 3.0]
    assert set(res["method"]) == {"previous", "next", "random_pairs", "ot_interpolation"}
    # 3 held-out points x 2 seeds x 4 baselines x 2 metrics
    assert len(res) == 48
    table = summarize(res)
    # OT pairs stay in their lane and move by one unit: close to the floor of two 150-cell samples; random
    # pairs cross lanes half the time (distance ~2 for half the mass: W1 ~ 1); the snapshots are one unit off
    assert table.loc["ot_interpolation", "mean"] < 0.35
    assert table.loc["random_pairs", "mean"] > 0.7
    assert table.loc["previous", "mean"] > 0.8


def test_model_beats_random_pairs_and_every_point_is_scored():
    x, t = two_lanes()

    def factory(x_train, t_train, rng):
        return cb.CellBridgeModel.fit(x_train, t_train, n_steps=300, batch_size=128, progress=False, device="cpu", rng=rng)

    res = leave_one_out(x, t, {"sf2m": model_predictor(factory, "sf2m")}, holdout=[1, 3],
                        baselines=("random_pairs", "ot_interpolation"), progress=False)
    assert set(res["held_out"]) == {1.0, 3.0}
    assert set(res["method"]) == {"sf2m-sde", "sf2m-ode", "random_pairs", "ot_interpolation"}
    w1 = res[res.metric == "w1"].pivot_table(index="held_out", columns="method", values="value")
    # at every held-out point the fitted dynamics keep the lanes: well under the random pairs' ~1
    assert (w1["sf2m-sde"] < 0.6 * w1["random_pairs"]).all(), w1
    assert (w1["sf2m-ode"] < 0.6 * w1["random_pairs"]).all(), w1


@pytest.mark.parametrize("holdout, match", [([0], "first or last"), ([2.5], "not a time point"), ("all", "interior")])
def test_bad_holdout_is_rejected(holdout, match):
    x, t = two_lanes(n=20)
    with pytest.raises(ValueError, match=match):
        leave_one_out(x, t, None, holdout=holdout, progress=False)


def test_two_time_points_cannot_be_left_out():
    x, t = two_lanes(n=20, times=(0, 1))
    with pytest.raises(ValueError, match="three time points"):
        leave_one_out(x, t, None, progress=False)


def test_unknown_metric_and_baseline_are_named():
    x, t = two_lanes(n=20)
    with pytest.raises(ValueError, match="unknown metric"):
        leave_one_out(x, t, None, metrics=("w3",), progress=False)
    with pytest.raises(ValueError, match="unknown baseline"):
        leave_one_out(x, t, None, baselines=("spline",), progress=False)


def test_tl_leave_one_out_writes_an_h5ad_safe_record(tmp_path, cb_log):
    x, t = two_lanes(n=60)
    import anndata as ad

    adata = ad.AnnData(obs=pd.DataFrame({"day": t}, index=[f"c{i}" for i in range(len(t))]), obsm={"X_pca": x})
    before = set(adata.uns)
    res = cb.tl.leave_one_out(adata, "day", method=None, metrics=("w1", "mmd"), progress=False)
    assert set(adata.uns) - before == {"cellbridge_leave_one_out"}
    pd.testing.assert_frame_equal(adata.uns["cellbridge_leave_one_out"]["results"], res)
    adata.write_h5ad(tmp_path / "a.h5ad")
    back = ad.read_h5ad(tmp_path / "a.h5ad").uns["cellbridge_leave_one_out"]
    pd.testing.assert_frame_equal(back["results"], res, check_dtype=False)
    assert list(back["params"]["holdout"]) == [1.0, 2.0, 3.0]
    assert any("added uns['cellbridge_leave_one_out']" in r.getMessage() for r in cb_log)


def test_tl_leave_one_out_leaves_adata_alone_on_bad_input():
    x, t = two_lanes(n=20)
    import anndata as ad

    adata = ad.AnnData(obs=pd.DataFrame({"day": t}, index=[f"c{i}" for i in range(len(t))]), obsm={"X_pca": x})
    with pytest.raises(ValueError, match="first or last"):
        cb.tl.leave_one_out(adata, "day", method=None, holdout=[4], progress=False)
    with pytest.raises(TypeError, match="factory"):
        cb.tl.leave_one_out(adata, "day", method=lambda x, t, rng: None, n_steps=10, progress=False)
    assert "cellbridge_leave_one_out" not in adata.uns


def test_metric_device_gives_the_host_values():
    x, t = two_lanes(n=60)
    kw = dict(metrics=("w1", "mmd", "energy"), baselines=("ot_interpolation", "random_pairs"), progress=False, rng=2)
    host = leave_one_out(x, t, **kw)
    dev = leave_one_out(x, t, metric_device="cpu", **kw)  # the torch path of mmd and energy
    assert host[RESULT_COLUMNS[:-1]].equals(dev[RESULT_COLUMNS[:-1]])
    np.testing.assert_allclose(dev["value"], host["value"], rtol=1e-8, atol=1e-12)
