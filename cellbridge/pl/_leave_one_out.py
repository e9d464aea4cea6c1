"""Plots of the leave-one-timepoint-out evaluation (:func:`cellbridge.tl.leave_one_out`)."""

from __future__ import annotations

from collections.abc import Sequence

import anndata as ad
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import scipy.sparse as sp
from matplotlib.axes import Axes

from .._keys import DEFAULT_LOO_KEY, DEFAULT_REP, SIM_TIME, SIMULATION
from .._logging import logger
from ..time_labels import parse_time
from ..timecourse import get_rep
from ..evaluation.baselines import BASELINES

#: The baseline a model has to beat; drawn in black, on top of the other baselines.
REFERENCE = "ot_interpolation"

#: y-axis label per metric name of :data:`cellbridge.evaluation.METRICS`.
_METRIC_LABELS = {
    "w1": "W1 to the real cells",
    "w2": "W2 to the real cells",
    "mmd": "MMD to the real cells",
    "energy": "energy distance to the real cells",
}
_REQUIRED_COLUMNS = ("held_out", "method", "metric", "value")
_BASELINE_COLOURS = ("tab:gray", "tab:brown", "tab:olive", "tab:pink", "tab:cyan")


def _format_time(value: float) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:g}"


def _results_table(adata_or_results: ad.AnnData | pd.DataFrame, key: str) -> tuple[pd.DataFrame, dict]:
    """The result table and the ``params`` record (empty for a bare table)."""
    if isinstance(adata_or_results, pd.DataFrame):
        results, params = adata_or_results, {}
    elif isinstance(adata_or_results, ad.AnnData):
        uns = adata_or_results.uns
        if key not in uns:
            found = [k for k in uns.keys() if isinstance(uns[k], dict) and "results" in uns[k]]
            raise ValueError(
                f"adata.uns has no key {key!r}: run cellbridge.tl.leave_one_out first, or pass key= one of the "
                f"leave-one-out records {found if found else '(none found)'}; uns keys: {list(uns.keys())}"
            )
        record = uns[key]
        if not isinstance(record, dict) or "results" not in record:
            have = list(record.keys()) if isinstance(record, dict) else type(record).__name__
            raise ValueError(f"adata.uns[{key!r}] has no 'results' table (it holds {have}); "
                             "is it the record of cellbridge.tl.leave_one_out?")
        results, params = record["results"], dict(record.get("params", {}) or {})
        if not isinstance(results, pd.DataFrame):
            results = pd.DataFrame(results)
    else:
        raise TypeError(f"expected an AnnData or a pandas.DataFrame of results, not {type(adata_or_results).__name__}")
    missing = [c for c in _REQUIRED_COLUMNS if c not in results.columns]
    if missing:
        raise ValueError(f"the result table lacks column(s) {missing}; it has {list(results.columns)} (expected "
                         "those of cellbridge.tl.leave_one_out: held_out, method, kind, seed, metric, value)")
    return results, params


def leave_one_out(
    adata_or_results: ad.AnnData | pd.DataFrame,
    metric: str = "w1",
    *,
    key: str = DEFAULT_LOO_KEY,
    methods: Sequence[str] | None = None,
    ax: Axes | None = None,
    show: bool | None = None,
    save: str | None = None,
) -> Axes:
    """Leave-one-out score per held-out time point, one line per model and baseline.

    For each method the metric is averaged over seeds at every held-out time point; with more than one
    seed a vertical bar of plus and minus one standard deviation over the seeds (``ddof=1``) is drawn at
    each point. Models are drawn as solid lines with round markers; baselines dashed, thinner and lighter,
    except the reference :func:`OT interpolation <cellbridge.evaluation.ot_interpolation>`, drawn dashed in
    black on top of them (a model worth using lies below it). Lower is better for every metric.

    Parameters
    ----------
    adata_or_results
        An AnnData holding the record of :func:`cellbridge.tl.leave_one_out` in ``uns[key]``, or the result
        table itself (columns ``held_out``, ``method``, ``metric``, ``value``, and usually ``kind`` and
        ``seed``; without ``kind``, the names of :data:`cellbridge.evaluation.BASELINES` count as baselines
        and the rest as models).
    metric
        Which metric to plot: a value of the table's ``metric`` column (``"w1"``, ``"w2"``, ``"mmd"``,
        ``"energy"``).
    key
        ``adata.uns`` key of the record (ignored for a table).
    methods
        Methods to draw, in legend order; ``None``: all, models first, then baselines, each in order of
        appearance.
    ax
        Axes to draw into; a new figure is made when ``None``.
    show
        Call :func:`matplotlib.pyplot.show` when ``True``; nothing is shown otherwise (safe with the
        non-interactive ``Agg`` backend).
    save
        Path to write the figure to (format from the extension), or ``None``.

    Returns
    -------
    matplotlib.axes.Axes
        The axes: one line per method (``gid`` the method name) through the per-point means, in the order
        of ``methods``; with several seeds, the standard-deviation bars are line collections whose ``gid``
        is ``"{method} sd"``.

    Raises
    ------
    ValueError
        The record, the metric or a requested method is missing (the message lists what is available).

    Notes
    -----
    A value of NaN (a prediction that was not finite) is not skipped: the mean at that point is NaN, so the
    line has a gap there, and a warning is logged.

    Examples
    --------
    >>> import cellbridge as cb
    >>> adata = cb.datasets.bifurcation()  # doctest: +SKIP
    >>> cb.tl.leave_one_out(adata, time_key="day", n_seeds=3)  # doctest: +SKIP
    >>> cb.pl.leave_one_out(adata, "w1")  # doctest: +SKIP
    """
    results, params = _results_table(adata_or_results, key)
    available = list(pd.unique(results["metric"]))
    if metric not in available:
        raise ValueError(f"no results for metric {metric!r}; available metrics: {available}")
    sub = results[results["metric"] == metric]
    if "kind" in sub.columns:
        kinds = dict(zip(sub["method"], sub["kind"]))
    else:
        kinds = {m: ("baseline" if m in BASELINES else "model") for m in pd.unique(sub["method"])}
    found = list(pd.unique(sub["method"]))
    if methods is None:
        order = [m for m in found if kinds[m] != "baseline"] + [m for m in found if kinds[m] == "baseline"]
    else:
        order = [methods] if isinstance(methods, str) else list(methods)
        unknown = [m for m in order if m not in found]
        if unknown or not order:
            raise ValueError(f"method(s) {unknown} have no {metric!r} results; available methods: {found}")
        if len(set(order)) != len(order):
            raise ValueError(f"methods lists a method twice: {order}")

    n_nan = int(sub.loc[sub["method"].isin(order), "value"].isna().sum())
    if n_nan:
        logger.warning(f"leave_one_out plot: {n_nan} {metric!r} value(s) are NaN (non-finite predictions); "
                       "their held-out points are left out of the lines")
    seeds_col = "seed" if "seed" in sub.columns else None

    if ax is None:
        fig, ax = plt.subplots(figsize=(6.5, 4.5))
    else:
        fig = ax.figure
    n_models = 0
    n_baselines = 0
    for method in order:
        rows = sub[sub["method"] == method]
        grouped = rows.groupby("held_out", sort=True)["value"]
        mean = grouped.agg(lambda v: v.mean(skipna=False))
        x = mean.index.to_numpy(dtype=np.float64)
        y = mean.to_numpy(dtype=np.float64)
        n_seeds = int(rows[seeds_col].nunique()) if seeds_col else int(grouped.size().max())
        if kinds[method] == "baseline":
            if method == REFERENCE:
                style = dict(color="black", linestyle="--", linewidth=2.0, marker="D", markersize=5,
                             alpha=1.0, zorder=3, label=f"{method} (reference)")
            else:
                colour = _BASELINE_COLOURS[n_baselines % len(_BASELINE_COLOURS)]
                n_baselines += 1
                style = dict(color=colour, linestyle="--", linewidth=1.2, marker="s", markersize=4,
                             alpha=0.6, zorder=2, label=method)
        else:
            style = dict(color=f"C{n_models % 10}", linestyle="-", linewidth=2.0, marker="o", markersize=6,
                         alpha=1.0, zorder=4, label=method)
            n_models += 1
        if n_seeds > 1:
            sd = grouped.agg(lambda v: v.std(ddof=1, skipna=False)).to_numpy(dtype=np.float64)
            container = ax.errorbar(x, y, yerr=sd, capsize=0, elinewidth=style["linewidth"] * 0.75, **style)
            container.lines[0].set_gid(method)
            for bars in container.lines[2]:
                bars.set_gid(f"{method} sd")
        else:
            ax.plot(x, y, gid=method, **style)

    ticks = np.unique(sub.loc[sub["method"].isin(order), "held_out"].to_numpy(dtype=np.float64))
    ax.set_xticks(ticks)
    ax.set_xticklabels([_format_time(t) for t in ticks])
    time_key = params.get("time_key")
    ax.set_xlabel(f"held-out time point ({time_key})" if time_key else "held-out time point")
    label = _METRIC_LABELS.get(metric, f"{metric} to the real cells")
    ax.set_ylabel(label)
    n_rep = int(sub[seeds_col].nunique()) if seeds_col else 1
    ax.set_title(f"leave-one-out: {label}, lower is better"
                 + (f" (mean ± sd over {n_rep} seeds)" if n_rep > 1 else ""), fontsize=10)
    ax.legend(fontsize=8, frameon=False)

    if save is not None:
        fig.savefig(save, dpi=150, bbox_inches="tight")
        logger.info(f"leave_one_out: saved figure to {save}")
    if show:
        plt.show()
    return ax


def _as_time(value: float | str, what: str) -> float:
    if isinstance(value, str):
        return float(parse_time(pd.Series([value]), name=what)[0])
    return float(value)


def _predicted_cells(predicted: np.ndarray | ad.AnnData, use_rep: str, held: float) -> np.ndarray:
    """The predicted cells at the held-out time, as a float64 array ``(n, d)``."""
    if isinstance(predicted, ad.AnnData):
        if SIM_TIME in predicted.obs:
            t = predicted.obs[SIM_TIME].to_numpy(dtype=np.float64)
            rows = np.isclose(t, held, rtol=0, atol=1e-9 * max(1.0, abs(held)))
            if not rows.any():
                raise ValueError(f"predicted has no rows at the held-out time {held:g}: its obs[{SIM_TIME!r}] "
                                 f"holds {np.unique(t).tolist()}; simulate with t_eval including {held:g}")
            predicted = predicted[rows]
        if use_rep == "X":
            value = predicted.X
        elif use_rep in predicted.obsm:
            value = predicted.obsm[use_rep]
        else:
            raise ValueError(f"predicted.obsm has no key {use_rep!r}; available: {list(predicted.obsm.keys())}")
        cells = value.toarray() if sp.issparse(value) else np.asarray(value)
    else:
        cells = np.asarray(predicted)
    if cells.ndim != 2:
        raise ValueError(f"predicted cells must be a 2-D array (n_cells, n_dims), got shape {cells.shape}")
    return cells.astype(np.float64, copy=False)


def leave_one_out_cells(
    adata: ad.AnnData,
    predicted: np.ndarray | ad.AnnData,
    held_out: float | str,
    *,
    time_key: str,
    use_rep: str | None = None,
    dims: Sequence[int] = (0, 1),
    ax: Axes | None = None,
    show: bool | None = None,
    save: str | None = None,
) -> Axes:
    """Predicted against real cells at a held-out time point, in two chosen dimensions.

    The real cells of ``held_out`` and the predicted cells are scattered in two columns of the
    representation; the cells of the neighbouring observed time points (the previous and the next, where
    they exist) are drawn beneath them in light grey for context.

    Parameters
    ----------
    adata
        The observed time course.
    predicted
        The predicted cells at ``held_out``: an array ``(n_cells, n_dims)`` in the representation
        ``use_rep``, or an AnnData such as the one :func:`cellbridge.tl.simulate` returns, with the states in
        ``obsm[use_rep]`` (or ``X`` for ``use_rep="X"``); when its ``obs`` has a ``"time"`` column only the
        rows at ``held_out`` are drawn.
    held_out
        The held-out time point: a time point of ``adata`` (a number, or a label such as ``"day3"``).
    time_key
        ``adata.obs`` column with the time of each observed cell.
    use_rep
        Representation to plot (``"X"`` or an ``obsm`` key). ``None``: the one the simulation used
        (``predicted.uns["cellbridge_simulation"]["use_rep"]``), else the one of the leave-one-out record
        (``adata.uns["cellbridge_leave_one_out"]["params"]["use_rep"]``), else ``"X_pca"``.
    dims
        The two columns of the representation to plot (0-based).
    ax
        Axes to draw into; a new figure is made when ``None``.
    show
        Call :func:`matplotlib.pyplot.show` when ``True``; nothing is shown otherwise.
    save
        Path to write the figure to (format from the extension), or ``None``.

    Returns
    -------
    matplotlib.axes.Axes
        The axes. Its collections, in drawing order, have the ``gid`` ``"previous"`` and ``"next"`` (the
        neighbouring time points, where they exist), ``"real"`` and ``"predicted"``.

    Raises
    ------
    ValueError
        Missing time column or representation, a held-out time that is not a time point of ``adata`` (or
        not among the predicted times), ``dims`` out of range, or predicted cells of another width.
    """
    if time_key not in adata.obs:
        raise ValueError(f"adata.obs has no column {time_key!r}; available: {list(adata.obs.columns)}")
    if use_rep is None:
        if isinstance(predicted, ad.AnnData) and predicted.uns.get(SIMULATION, {}).get("use_rep") is not None:
            use_rep = str(predicted.uns[SIMULATION]["use_rep"])
        else:
            record = adata.uns.get(DEFAULT_LOO_KEY, {})
            params = record.get("params", {}) if isinstance(record, dict) else {}
            use_rep = str(params.get("use_rep", DEFAULT_REP))
    x = get_rep(adata, use_rep)
    times = parse_time(adata.obs[time_key], name=time_key)
    observed = np.unique(times)
    held = _as_time(held_out, "held_out")
    match = np.flatnonzero(np.isclose(observed, held, rtol=0, atol=1e-9 * max(1.0, abs(held))))
    if match.size == 0:
        raise ValueError(f"held_out={held_out!r} is not a time point of adata.obs[{time_key!r}]; "
                         f"time points: {[_format_time(t) for t in observed]}")
    k = int(match[0])
    held = float(observed[k])

    dims = tuple(int(d) for d in dims)
    n_cols = x.shape[1]
    if len(dims) != 2:
        raise ValueError(f"dims must name two columns, got {dims}")
    if any(d < 0 or d >= n_cols for d in dims):
        raise ValueError(f"dims {dims} out of range for {use_rep!r} with {n_cols} columns: "
                         f"choose two of 0..{n_cols - 1}")
    cells = _predicted_cells(predicted, use_rep, held)
    if cells.shape[1] != n_cols:
        raise ValueError(f"predicted cells have {cells.shape[1]} columns, adata's {use_rep!r} has {n_cols}: "
                         "give them in the same representation")
    finite = np.all(np.isfinite(cells[:, dims]), axis=1)
    if not finite.all():
        logger.warning(f"leave_one_out_cells: {int((~finite).sum())} predicted cell(s) with non-finite values "
                       "are not drawn")
        cells = cells[finite]

    if ax is None:
        fig, ax = plt.subplots(figsize=(6.0, 5.0))
    else:
        fig = ax.figure
    tick = _format_time
    for gid, j, colour, marker in (("previous", k - 1, "0.82", "o"), ("next", k + 1, "0.62", "^")):
        if 0 <= j < observed.size:
            xy = x[times == observed[j]][:, dims]
            ax.scatter(xy[:, 0], xy[:, 1], s=6, c=colour, marker=marker, linewidths=0, alpha=0.6,
                       rasterized=xy.shape[0] > 5000, zorder=1, gid=gid,
                       label=f"{time_key} {tick(observed[j])} ({gid}, n={xy.shape[0]})")
    real = x[times == held][:, dims]
    ax.scatter(real[:, 0], real[:, 1], s=10, c="tab:blue", linewidths=0, alpha=0.7,
               rasterized=real.shape[0] > 5000, zorder=2, gid="real",
               label=f"real, {time_key} {tick(held)} (n={real.shape[0]})")
    pred = cells[:, dims]
    ax.scatter(pred[:, 0], pred[:, 1], s=10, c="tab:orange", linewidths=0, alpha=0.7,
               rasterized=pred.shape[0] > 5000, zorder=3, gid="predicted",
               label=f"predicted (n={pred.shape[0]})")
    ax.set_xlabel(f"{use_rep}[{dims[0]}]")
    ax.set_ylabel(f"{use_rep}[{dims[1]}]")
    ax.set_title(f"held-out {time_key} {tick(held)}: predicted vs real cells", fontsize=10)
    ax.legend(fontsize=8, frameon=False, markerscale=1.5)

    if save is not None:
        fig.savefig(save, dpi=150, bbox_inches="tight")
        logger.info(f"leave_one_out_cells: saved figure to {save}")
    if show:
        plt.show()
    return ax
