"""Leave-one-timepoint-out evaluation (AnnData-free core of :func:`cellbridge.tl.leave_one_out`).

For each held-out time point ``t_k`` (interior: it has a neighbour on each side), every predictor is given
the cells of all *other* time points, predicts the cells at ``t_k`` starting from the cells of ``t_{k-1}``,
and is scored against the real cells of ``t_k`` by distribution distances. Baselines
(:mod:`cellbridge.evaluation.baselines`) predict from the two neighbours alone.

A *predictor* is a callable ``predict(x_train, t_train, x_start, t_start, t_target, seed) -> {name: cells}``
returning one or more named predictions (one fit can give an SDE and an ODE prediction);
:func:`model_predictor` builds one from a model factory such as :meth:`cellbridge.CellBridgeModel.fit`.

A prediction is either an array of cells (a uniform cloud) or a pair ``(cells, weights)``: a weighted
cloud, as a growth model (``growth=True``) predicts it, its particles carrying the mass they gained or lost
along their paths. A weighted prediction is scored as that weighted distribution (:func:`score`):

- ``"w1"``, ``"w2"``: exact OT with the normalised weights as the predicted side's masses
  (:func:`cellbridge.metrics.wasserstein` with ``weights_x``), the held-out cells uniform;
- ``"mmd"``, ``"energy"`` (which take no weights): on a resample of the predicted cells, as many as there
  are, drawn with replacement in proportion to the weights by a generator seeded with the repetition's
  seed (:func:`weighted_resample`); both are V-statistics, for which a repeated cell is a weight.

A uniform prediction (an array, or a model without growth) is scored exactly as before weights existed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .._logging import logger
from .._utils import RNGLike, as_numpy_rng
from ..metrics import energy_distance, mmd_rbf, wasserstein
from .baselines import ALL_BASELINES, BASELINES

__all__ = ["METRICS", "WEIGHTED_METRICS", "RESULT_COLUMNS", "Predictor", "model_predictor", "leave_one_out",
           "normalized_weights", "score", "summarize", "weighted_resample"]

Predictor = Callable[[np.ndarray, np.ndarray, np.ndarray, float, float, int], dict]

#: Name -> distance ``f(predicted, real, max_cells=, rng=)``; W1 first, the literature's headline number.
METRICS: dict[str, Callable[..., float]] = {
    "w1": lambda x, y, **kw: wasserstein(x, y, p=1, **kw),
    "w2": lambda x, y, **kw: wasserstein(x, y, p=2, **kw),
    "mmd": mmd_rbf,
    "energy": energy_distance,
}

#: Name -> distance ``f(predicted, real, weights_x=, max_cells=, rng=)`` of the metrics that take the predicted
#: side's weights; the others score a weighted prediction on :func:`weighted_resample`.
WEIGHTED_METRICS: dict[str, Callable[..., float]] = {
    "w1": lambda x, y, **kw: wasserstein(x, y, p=1, **kw),
    "w2": lambda x, y, **kw: wasserstein(x, y, p=2, **kw),
}

#: the metrics that can run on an accelerator (dense kernel sums)
_DEVICE_METRICS = ("mmd", "energy")

#: Columns of the tidy result table, in order.
RESULT_COLUMNS = ["held_out", "method", "kind", "seed", "metric", "value"]


def model_predictor(
    factory: Callable[..., Any],
    name: str = "model",
    *,
    stochastic: bool | Sequence[bool] = (True, False),
    steps_per_interval: int = 100,
    weighted: bool | None = None,
) -> Predictor:
    """Turn a model factory into a predictor for :func:`leave_one_out`.

    Parameters
    ----------
    factory
        ``factory(x_train, t_train, rng=seed) -> model``; the model must offer
        ``simulate(x0, t_eval, stochastic=..., steps_per_interval=..., rng=...)`` returning states
        ``(len(t_eval), n, d)``, as :class:`cellbridge.CellBridgeModel` does.
    name
        Prefix of the prediction names: ``"{name}-sde"`` for ``stochastic=True``, ``"{name}-ode"`` for the
        probability-flow ODE.
    stochastic
        Which integrations to score (one fit serves both).
    steps_per_interval
        Integration steps per (median) interval between time points.
    weighted
        Predict weighted clouds ``(cells, weights)``: the simulated cells with the normalised weights
        ``exp(log w)`` integrated along their paths by the model's growth rate
        (``simulate(..., return_log_weights=True)``). None (default): when the model has growth
        (``model.has_growth``), else the uniform cloud as before. True for a model without growth is an
        error; False scores a growth model's cells as if they were uniform.

    Returns
    -------
    Predictor
        ``predict(x_train, t_train, x_start, t_start, t_target, seed) -> {name: prediction}``.
    """
    modes = [bool(stochastic)] if isinstance(stochastic, (bool, np.bool_)) else [bool(s) for s in stochastic]
    if not modes:
        raise ValueError("stochastic must name at least one integration (True: SDE, False: ODE)")

    def predict(x_train, t_train, x_start, t_start, t_target, seed):
        model = factory(x_train, t_train, rng=seed)
        has_growth = bool(getattr(model, "has_growth", False))
        if weighted and not has_growth:
            raise ValueError("weighted=True needs a model fitted with growth=True (model.has_growth)")
        use_weights = has_growth if weighted is None else bool(weighted)
        out = {}
        for sde in modes:
            label = f"{name}-{'sde' if sde else 'ode'}"
            if use_weights:
                path, log_w = model.simulate(x_start, [t_start, t_target], stochastic=sde,
                                             steps_per_interval=steps_per_interval, rng=seed, return_log_weights=True)
                lw = np.asarray(log_w, dtype=np.float64)[-1]
                # non-finite log-weights (a diverged rate) are passed on as NaN weights: scored as NaN
                w = normalized_weights(lw) if np.isfinite(lw).all() else np.full(len(lw), np.nan)
                out[label] = (np.asarray(path[-1]), w)
            else:
                path = model.simulate(x_start, [t_start, t_target], stochastic=sde,
                                      steps_per_interval=steps_per_interval, rng=seed)
                out[label] = np.asarray(path[-1])
        return out

    return predict


def normalized_weights(log_weights) -> np.ndarray:
    """Weights ``exp(log w)`` normalised to sum 1 (computed stably, after subtracting the largest).

    Parameters
    ----------
    log_weights
        Log-weights ``(n,)``, finite.

    Returns
    -------
    numpy.ndarray
        Non-negative float64 weights summing to 1.
    """
    lw = np.asarray(log_weights, dtype=np.float64).reshape(-1)
    if lw.size == 0 or not np.isfinite(lw).all():
        raise ValueError("log-weights must be a non-empty array of finite numbers")
    w = np.exp(lw - lw.max())
    return w / w.sum()


def weighted_resample(cells: np.ndarray, weights, rng: RNGLike = 0) -> np.ndarray:
    """``len(cells)`` cells drawn with replacement with probabilities ``weights`` (normalised).

    Parameters
    ----------
    cells
        Cells ``(n, d)``.
    weights
        Non-negative weights ``(n,)`` with a positive sum.
    rng
        Seed or generator of the draw; the same seed gives the same resample.

    Returns
    -------
    numpy.ndarray
        The resampled cells ``(n, d)``.
    """
    cells = np.asarray(cells)
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    if w.shape != (len(cells),) or not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"weights must be {len(cells)} non-negative finite numbers with a positive sum")
    idx = as_numpy_rng(rng).choice(len(cells), size=len(cells), replace=True, p=w / w.sum())
    return cells[idx]


def score(metric: str, prediction, real: np.ndarray, *, max_cells: int | None = 2000, rng: RNGLike = 0,
          device=None) -> float:
    """One metric of one prediction against the real cells, as :func:`leave_one_out` scores it.

    Parameters
    ----------
    metric
        A name of :data:`METRICS`.
    prediction
        Cells ``(n, d)`` (uniform) or a pair ``(cells, weights)`` (weighted): W1 and W2 use the weights as
        the predicted masses (:data:`WEIGHTED_METRICS`); MMD and energy distance are computed on
        :func:`weighted_resample` of the cells with a generator seeded by ``rng``.
    real
        Held-out cells ``(m, d)``, uniform.
    max_cells
        Both sides are subsampled to at most this many cells (a weighted side keeps its rows' weights).
    rng
        Seed of the subsampling (and of the resample of a weighted prediction).
    device
        Device of MMD and energy distance (None: NumPy).

    Returns
    -------
    float
        The value; NaN when the prediction's cells or weights hold non-finite values.
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; available: {list(METRICS)}")
    cells, weights = prediction if isinstance(prediction, tuple) else (prediction, None)
    cells = np.asarray(cells)
    if not np.all(np.isfinite(cells)) or (weights is not None and not np.all(np.isfinite(weights))):
        return float("nan")
    on_device = {"device": device} if metric in _DEVICE_METRICS and device is not None else {}
    if weights is None:
        return float(METRICS[metric](cells, real, max_cells=max_cells, rng=rng, **on_device))
    if metric in WEIGHTED_METRICS:
        return float(WEIGHTED_METRICS[metric](cells, real, weights_x=weights, max_cells=max_cells, rng=rng))
    # a generator of its own (from the same seed): the metric's subsampling draws stay as they are
    draw = np.random.default_rng([int(rng), 1]) if isinstance(rng, (int, np.integer)) else as_numpy_rng(rng)
    resampled = weighted_resample(cells, weights, rng=draw)
    return float(METRICS[metric](resampled, real, max_cells=max_cells, rng=rng, **on_device))


def _holdout_times(time_points: np.ndarray, holdout: str | Iterable[float]) -> list[float]:
    interior = time_points[1:-1]
    if isinstance(holdout, str):
        if holdout != "interior":
            raise ValueError(f"holdout must be 'interior' or a list of time points, got {holdout!r}")
        chosen = list(interior)
    else:
        chosen = []
        for value in holdout:
            v = float(value)
            match = np.flatnonzero(np.isclose(time_points, v, rtol=0, atol=1e-9 * max(1.0, abs(v))))
            if match.size == 0:
                raise ValueError(f"held-out time {value!r} is not a time point of the data ({time_points.tolist()})")
            if match[0] in (0, len(time_points) - 1):
                raise ValueError(f"held-out time {value!r} is the first or last time point; only interior "
                                 "time points can be predicted from both neighbours")
            chosen.append(float(time_points[match[0]]))
    if not chosen:
        raise ValueError("no time point to hold out: leave-one-out needs at least three time points")
    if len(time_points) - 1 < 2:
        raise ValueError("leave-one-out needs at least three time points")
    return sorted(set(chosen))


def leave_one_out(
    x: np.ndarray,
    t: np.ndarray,
    predictors: dict[str, Predictor] | None = None,
    *,
    holdout: str | Iterable[float] = "interior",
    metrics: Sequence[str] = ("w1",),
    baselines: Sequence[str] = tuple(BASELINES),
    n_seeds: int = 1,
    max_cells: int | None = 2000,
    metric_device=None,
    rng: RNGLike = 0,
    progress: bool = True,
) -> pd.DataFrame:
    """Hold out each chosen time point, predict it from the rest, and score every prediction.

    Parameters
    ----------
    x, t
        Cells ``(n, d)`` and their times ``(n,)``, at three or more time points.
    predictors
        ``{label: predictor}`` (see :func:`model_predictor`); each is refitted without the held-out time
        point, once per seed. None or empty: baselines only. A predictor may return weighted clouds
        ``(cells, weights)`` (a growth model's, see :func:`model_predictor`), scored by :func:`score`.
    holdout
        ``"interior"`` (every time point but the first and last) or a list of interior time points.
    metrics
        Names from :data:`METRICS`: ``"w1"``, ``"w2"``, ``"mmd"``, ``"energy"``.
    baselines
        Names from :data:`cellbridge.evaluation.baselines.ALL_BASELINES` (default: the four of
        :data:`cellbridge.evaluation.BASELINES`); empty for none.
    n_seeds
        Repetitions with different seeds (model training, simulation noise, baseline pairing and metric
        subsampling all change with the seed).
    max_cells
        Both sides of a distance are subsampled to at most this many cells.
    metric_device
        Device of the dense-kernel metrics (``"mmd"``, ``"energy"``; see :mod:`cellbridge.metrics`); None
        computes them with NumPy. W1 and W2 are exact OT on the host either way.
    rng
        Seed of the whole evaluation: the per-repetition seeds are drawn from it.
    progress
        Show a progress bar over (held-out time point, seed).

    Returns
    -------
    pandas.DataFrame
        Tidy table with columns :data:`RESULT_COLUMNS`: ``held_out`` (time), ``method`` (prediction or
        baseline name), ``kind`` (``"model"`` or ``"baseline"``), ``seed``, ``metric``, ``value``.
    """
    x = np.asarray(x, dtype=np.float32)
    t = np.asarray(t, dtype=np.float64)
    if x.ndim != 2 or t.shape != (x.shape[0],):
        raise ValueError(f"x must be (n_cells, n_dims) and t (n_cells,), got {x.shape} and {t.shape}")
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or not metrics:
        raise ValueError(f"unknown metric(s) {unknown}; available: {list(METRICS)}")
    unknown = [b for b in baselines if b not in ALL_BASELINES]
    if unknown:
        raise ValueError(f"unknown baseline(s) {unknown}; available: {list(ALL_BASELINES)}")
    if int(n_seeds) < 1:
        raise ValueError(f"n_seeds must be a positive integer, got {n_seeds}")
    predictors = dict(predictors or {})
    if not predictors and not baselines:
        raise ValueError("nothing to evaluate: give a predictor or at least one baseline")
    time_points = np.unique(t)
    held = _holdout_times(time_points, holdout)
    seeds = [int(s) for s in as_numpy_rng(rng).integers(0, 2**31 - 1, size=int(n_seeds))]

    rows: list[tuple] = []
    tasks = [(tk, rep) for tk in held for rep in range(len(seeds))]
    bar = tqdm(tasks, desc="leave-one-out", disable=not progress, unit="fit" if predictors else "point")
    for tk, rep in bar:
        seed = seeds[rep]
        k = int(np.searchsorted(time_points, tk))
        t_prev, t_next = float(time_points[k - 1]), float(time_points[k + 1])
        x_prev, x_next, x_true = x[t == t_prev], x[t == t_next], x[t == tk]
        keep = t != tk
        predictions: dict[str, tuple[str, Any]] = {}
        for label, predict in predictors.items():
            bar.set_postfix_str(f"t={tk:g} {label}")
            out = predict(x[keep], t[keep], x_prev, t_prev, tk, seed)
            for name, cells in out.items():
                if isinstance(cells, tuple):
                    if len(cells) != 2:
                        raise ValueError(f"prediction {name!r} must be cells or a pair (cells, weights)")
                    predictions[name] = ("model", (np.asarray(cells[0]), np.asarray(cells[1], dtype=np.float64)))
                else:
                    predictions[name] = ("model", np.asarray(cells))
        s = (tk - t_prev) / (t_next - t_prev)
        for name in baselines:
            predictions[name] = ("baseline", ALL_BASELINES[name](x_prev, x_next, s, rng=seed))
        for name, (kind, pred) in predictions.items():
            cells = np.column_stack(pred) if isinstance(pred, tuple) else pred
            if not np.all(np.isfinite(cells)):
                logger.warning(f"leave-one-out: prediction {name!r} at t={tk:g} has non-finite values; scored as NaN")
            for metric in metrics:
                value = score(metric, pred, x_true, max_cells=max_cells, rng=seed, device=metric_device)
                rows.append((tk, name, kind, rep, metric, float(value)))
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


def summarize(results: pd.DataFrame, metric: str = "w1", reference: str | None = "ot_interpolation") -> pd.DataFrame:
    """Mean and standard deviation per method over held-out points and seeds, with the ratio to a reference.

    Parameters
    ----------
    results
        A table from :func:`leave_one_out`.
    metric
        Which metric to summarise.
    reference
        Method whose mean the ``ratio`` column divides by (None: no ratio column).

    Returns
    -------
    pandas.DataFrame
        Indexed by method (models first, then baselines, each in order of appearance): ``mean``, ``std``
        (over held-out points and seeds, ``ddof=1``), ``n`` and ``ratio``.
    """
    sub = results[results["metric"] == metric]
    if sub.empty:
        raise ValueError(f"no rows for metric {metric!r} (available: {sorted(results['metric'].unique())})")
    order = list(dict.fromkeys(sub.sort_values("kind", kind="stable", key=lambda c: c != "model")["method"]))
    table = sub.groupby("method")["value"].agg(["mean", "std", "count"]).rename(columns={"count": "n"}).loc[order]
    if reference is not None:
        if reference not in table.index:
            raise ValueError(f"reference {reference!r} is not among the methods ({order})")
        table["ratio"] = table["mean"] / table.loc[reference, "mean"]
    return table
