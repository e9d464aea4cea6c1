"""Leave-one-timepoint-out evaluation (AnnData-free core of :func:`cellbridge.tl.leave_one_out`).

For each held-out time point ``t_k`` (interior: it has a neighbour on each side), every predictor is given
the cells of all *other* time points, predicts the cells at ``t_k`` starting from the cells of ``t_{k-1}``,
and is scored against the real cells of ``t_k`` by distribution distances. Baselines
(:mod:`cellbridge.evaluation.baselines`) predict from the two neighbours alone.

A *predictor* is a callable ``predict(x_train, t_train, x_start, t_start, t_target, seed) -> {name: cells}``
returning one or more named predictions (one fit can give an SDE and an ODE prediction);
:func:`model_predictor` builds one from a model factory such as :meth:`cellbridge.CellBridgeModel.fit`.
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

__all__ = ["METRICS", "RESULT_COLUMNS", "Predictor", "model_predictor", "leave_one_out", "summarize"]

Predictor = Callable[[np.ndarray, np.ndarray, np.ndarray, float, float, int], dict]

#: Name -> distance ``f(predicted, real, max_cells=, rng=)``; W1 first, the literature's headline number.
METRICS: dict[str, Callable[..., float]] = {
    "w1": lambda x, y, **kw: wasserstein(x, y, p=1, **kw),
    "w2": lambda x, y, **kw: wasserstein(x, y, p=2, **kw),
    "mmd": mmd_rbf,
    "energy": energy_distance,
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
    """
    modes = [bool(stochastic)] if isinstance(stochastic, (bool, np.bool_)) else [bool(s) for s in stochastic]
    if not modes:
        raise ValueError("stochastic must name at least one integration (True: SDE, False: ODE)")

    def predict(x_train, t_train, x_start, t_start, t_target, seed):
        model = factory(x_train, t_train, rng=seed)
        out = {}
        for sde in modes:
            path = model.simulate(x_start, [t_start, t_target], stochastic=sde,
                                  steps_per_interval=steps_per_interval, rng=seed)
            out[f"{name}-{'sde' if sde else 'ode'}"] = np.asarray(path[-1])
        return out

    return predict


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
        point, once per seed. None or empty: baselines only.
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
        predictions: dict[str, tuple[str, np.ndarray]] = {}
        for label, predict in predictors.items():
            bar.set_postfix_str(f"t={tk:g} {label}")
            out = predict(x[keep], t[keep], x_prev, t_prev, tk, seed)
            for name, cells in out.items():
                predictions[name] = ("model", np.asarray(cells))
        s = (tk - t_prev) / (t_next - t_prev)
        for name in baselines:
            predictions[name] = ("baseline", ALL_BASELINES[name](x_prev, x_next, s, rng=seed))
        for name, (kind, cells) in predictions.items():
            if not np.all(np.isfinite(cells)):
                logger.warning(f"leave-one-out: prediction {name!r} at t={tk:g} has non-finite values; scored as NaN")
            for metric in metrics:
                on_device = {"device": metric_device} if metric in _DEVICE_METRICS and metric_device is not None else {}
                value = (METRICS[metric](cells, x_true, max_cells=max_cells, rng=seed, **on_device)
                         if np.all(np.isfinite(cells)) else float("nan"))
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
