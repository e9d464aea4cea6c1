"""Leave-one-out of weighted (growth) predictions; a balanced model scores exactly as before weights."""

import importlib

import anndata as ad
import numpy as np
import ot
import pandas as pd
import pytest
from scipy.spatial.distance import cdist

import cellbridge as cb
from cellbridge.metrics import energy_distance, mmd_rbf, wasserstein

loo = importlib.import_module("cellbridge.evaluation.leave_one_out")


class ShiftModel:
    """A fake fitted model: cells move one unit along x per time unit, plus 0.1 seeded noise on the SDE.

    With ``growth_slope`` it has growth: log-weights ``growth_slope * y0 * (t1 - t0)``.
    """

    def __init__(self, growth_slope=None):
        self.growth_slope = growth_slope
        self.has_growth = growth_slope is not None

    def simulate(self, x0, t_eval, *, stochastic=True, steps_per_interval=100, rng=0, return_log_weights=False):
        x0 = np.asarray(x0, float)
        t0, t1 = float(t_eval[0]), float(t_eval[-1])
        noise = np.random.default_rng(rng).normal(size=x0.shape) * (0.1 if stochastic else 0.0)
        states = np.stack([x0, x0 + (t1 - t0) * np.array([1.0, 0.0]) + noise])
        if not return_log_weights:
            return states
        lw = np.zeros((2, len(x0)))
        if self.has_growth:
            lw[1] = self.growth_slope * x0[:, 1] * (t1 - t0)
        return states, lw


def lanes(n=60, seed=0, upper_share=0.5):
    """Two lanes y = -2 / +2 moving along x at unit speed; ``upper_share`` of each snapshot in the upper one."""
    rng = np.random.default_rng(seed)
    xs, ts = [], []
    for t in range(4):
        up = int(round(n * upper_share))
        lane = np.repeat([-2.0, 2.0], [n - up, up])
        xs.append(np.column_stack([t + 0.3 * rng.normal(size=n), lane + 0.3 * rng.normal(size=n)]))
        ts.append(np.full(n, float(t)))
    return np.concatenate(xs).astype(np.float32), np.concatenate(ts)


# the model rows of leave_one_out(lanes(), {"m": ShiftModel()}, metrics=all four, n_seeds=2, max_cells=40),
# computed with the implementation before weighted predictions existed (commit cfbfafb)
BEFORE = [0.456018399474, 0.891450522462, 0.009368468301, 0.280548341866, 0.460873559183, 0.893456757651,
          0.00939332787, 0.278507419251, 0.264896104537, 0.502581085365, 0.001293088872, 0.166628799084,
          0.276282685487, 0.514156158153, 0.001075360619, 0.166431645679, 0.472717908947, 0.890180106478,
          0.005842390295, 0.244279652251, 0.448894923996, 0.882179595143, 0.005465334022, 0.23663920493,
          0.328474772381, 0.568441524928, 0.002330318693, 0.190876814097, 0.321932119667, 0.574505688865,
          0.001983157886, 0.188628454171]


def run(model, **kw):
    x, t = lanes(**kw.pop("data", {}))
    return loo.leave_one_out(x, t, {"m": loo.model_predictor(lambda xt, tt, rng: model, "m", **kw)},
                             metrics=("w1", "w2", "mmd", "energy"), n_seeds=2, max_cells=40, progress=False)


@pytest.mark.parametrize("model", [ShiftModel(), ShiftModel(growth_slope=0.0)], ids=["balanced", "zero-growth"])
def test_a_balanced_model_scores_exactly_as_before(model):
    res = run(model, weighted=None if not model.has_growth else False)
    np.testing.assert_allclose(res[res.kind == "model"].value.to_numpy(), BEFORE, rtol=1e-10, atol=1e-12)


def test_a_balanced_fit_scores_as_the_unweighted_metrics():
    """A real (short) balanced fit: every row is the metric of the simulated cells, as before weights."""
    x, t = lanes()

    def factory(xt, tt, rng):
        return cb.CellBridgeModel.fit(xt, tt, n_steps=30, batch_size=32, progress=False, device="cpu", rng=rng)

    res = loo.leave_one_out(x, t, {"m": loo.model_predictor(factory, "m")}, holdout=[1], baselines=(),
                            metrics=("w1", "w2", "mmd", "energy"), max_cells=40, progress=False)
    # repetition 0's seed: the first draw from rng=0
    seed = int(np.random.default_rng(0).integers(0, 2**31 - 1, size=1)[0])
    model = factory(x[t != 1], t[t != 1], rng=seed)
    for sde in (True, False):
        cells = model.simulate(x[t == 0], [0.0, 1.0], stochastic=sde, rng=seed)[-1]
        rows = res[res.method == f"m-{'sde' if sde else 'ode'}"].set_index("metric").value
        for metric, f in loo.METRICS.items():
            assert rows[metric] == f(cells, x[t == 1], max_cells=40, rng=seed), metric


def test_a_growth_prediction_is_scored_as_a_weighted_cloud():
    model = ShiftModel(growth_slope=0.3)
    x, t = lanes()
    pred = loo.model_predictor(lambda xt, tt, rng: model, "m")(x, t, x[t == 0], 0.0, 1.0, 7)
    cells, w = pred["m-sde"]
    lw = 0.3 * x[t == 0][:, 1].astype(float)
    np.testing.assert_allclose(w, np.exp(lw) / np.exp(lw).sum(), rtol=1e-12)
    real = x[t == 1]
    # W1: POT's weighted emd2 on the whole clouds
    cost = cdist(cells, real.astype(float))
    expected = ot.emd2(w, np.full(len(real), 1 / len(real)), cost)
    assert loo.score("w1", (cells, w), real, max_cells=None, rng=7) == pytest.approx(expected, rel=1e-9)
    assert loo.score("w2", (cells, w), real, max_cells=None, rng=7) == wasserstein(cells, real, p=2, max_cells=None,
                                                                                    weights_x=w)
    # MMD / energy: on the resample with the generator seeded (seed, 1)
    resampled = loo.weighted_resample(cells, w, rng=np.random.default_rng([7, 1]))
    assert loo.score("mmd", (cells, w), real, rng=7) == mmd_rbf(resampled, real, rng=7)
    assert loo.score("energy", (cells, w), real, rng=7) == energy_distance(resampled, real, rng=7)
    # uniform weights: W1 is the unweighted W1
    uniform = np.full(len(cells), 1 / len(cells))
    assert loo.score("w1", (cells, uniform), real, rng=7) == pytest.approx(loo.score("w1", cells, real, rng=7), rel=1e-12)


def test_weights_that_match_the_imbalance_score_better():
    """Truth: 75% of each snapshot in the upper lane; the prediction pushes a 50/50 start, but its weights
    (log-weight 0.5 ln 3 * y / 2 * dt: 3:1 after one unit) restore the 3:1 split: weighted W1 well below
    the unweighted one, and the leave-one-out rows are the weighted scores."""
    x, t = lanes(n=80, upper_share=0.75)
    x0 = lanes(n=80, upper_share=0.5)[0][t == 0]
    model = ShiftModel(growth_slope=np.log(3) / 4)
    states, lw = model.simulate(x0, [0.0, 1.0], stochastic=False, return_log_weights=True)
    w = loo.normalized_weights(lw[-1])
    real = x[t == 1]
    weighted = loo.score("w1", (states[-1], w), real, max_cells=None)
    uniform = loo.score("w1", states[-1], real, max_cells=None)
    assert weighted < 0.6 * uniform, (weighted, uniform)
    assert loo.score("energy", (states[-1], w), real) < loo.score("energy", states[-1], real)


def test_leave_one_out_rows_of_a_growth_model_use_the_weights():
    res = run(ShiftModel(growth_slope=0.3))
    res_uniform = run(ShiftModel(growth_slope=0.3), weighted=False)
    a = res[res.kind == "model"].value.to_numpy()
    b = res_uniform[res_uniform.kind == "model"].value.to_numpy()
    assert np.isfinite(a).all() and not np.allclose(a, b)
    np.testing.assert_allclose(b, BEFORE, rtol=1e-10, atol=1e-12)  # weights ignored: the balanced numbers
    assert res.equals(run(ShiftModel(growth_slope=0.3)))  # same seed, same table


def test_weighted_true_needs_growth_and_bad_predictions_are_named():
    x, t = lanes()
    with pytest.raises(ValueError, match="growth=True"):
        loo.model_predictor(lambda xt, tt, rng: ShiftModel(), "m", weighted=True)(x, t, x[t == 0], 0.0, 1.0, 0)
    with pytest.raises(ValueError, match="non-negative"):
        loo.weighted_resample(np.zeros((3, 2)), [1.0, -1.0, 1.0])
    with pytest.raises(ValueError, match="finite"):
        loo.normalized_weights([0.0, np.nan])
    bad = {"m": lambda *a: {"m": (np.zeros((3, 2)), np.ones(3), 1)}}
    with pytest.raises(ValueError, match="pair"):
        loo.leave_one_out(x, t, bad, baselines=(), progress=False)


def test_non_finite_weights_score_nan(cb_log):
    model = ShiftModel(growth_slope=np.inf)
    res = run(model)
    assert res[res.kind == "model"].value.isna().all()
    assert res[res.kind == "baseline"].value.notna().all()
    assert any("non-finite" in r.getMessage() for r in cb_log)


def test_weighted_resample_is_seeded():
    cells = np.arange(20.0).reshape(10, 2)
    w = np.linspace(0, 1, 10)
    a = loo.weighted_resample(cells, w, rng=3)
    np.testing.assert_array_equal(a, loo.weighted_resample(cells, w, rng=3))
    assert not np.any(a[:, 0] == 0)  # the cell with weight 0 is never drawn


def test_entropic_and_unbalanced_baselines_are_rows():
    x, t = lanes()
    res = loo.leave_one_out(x, t, None, baselines=("ot_interpolation", "entropic_ot_interpolation",
                                                   "unbalanced_ot_interpolation"), progress=False)
    assert set(res.method) == {"ot_interpolation", "entropic_ot_interpolation", "unbalanced_ot_interpolation"}
    assert np.isfinite(res.value).all()


def test_tl_leave_one_out_passes_growth_settings(tmp_path):
    x, t = lanes(n=48)
    adata = ad.AnnData(x, obs=pd.DataFrame({"day": t, "rate": 0.1 * x[:, 1]}, index=[f"c{i}" for i in range(len(t))]))
    kw = dict(use_rep="X", holdout=[1], metrics=("w1", "mmd"), baselines=("ot_interpolation",), stochastic=False,
              n_steps=20, batch_size=32, progress=False, device="cpu")
    res = cb.tl.leave_one_out(adata, "day", growth=True, population_size={0: 1.0, 1: 1.5, 2: 2.0, 3: 3.0},
                              growth_prior="rate", **kw)
    assert set(res.method) == {"sf2m-ode", "ot_interpolation"} and np.isfinite(res.value).all()
    params = adata.uns["cellbridge_leave_one_out"]["params"]
    assert params["growth"] and params["growth_prior"] == "rate"
    adata.write_h5ad(tmp_path / "a.h5ad")
    balanced = cb.tl.leave_one_out(adata, "day", **kw)
    assert not np.allclose(balanced.value, res.value)
    with pytest.raises(ValueError, match="growth=True"):
        cb.tl.leave_one_out(adata, "day", population_size={0: 1.0}, **kw)
    with pytest.raises(ValueError, match="one size per time point"):
        cb.tl.leave_one_out(adata, "day", growth=True, population_size=[1.0, 2.0], **kw)
