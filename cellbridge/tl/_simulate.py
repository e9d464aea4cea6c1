"""``cb.tl.simulate``: trajectories of a fitted model, as a new AnnData."""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
import scipy.sparse as sp
from anndata import AnnData

from .. import _keys as keys
from .._logging import logger
from .._utils import RNGLike, as_numpy_rng
from ..time_labels import parse_time
from ..timecourse import get_rep
from ..model import DEFAULT_STEPS_PER_INTERVAL, CellBridgeModel
from ._checks import check_data_and_model
from ._uns import h5ad_safe


def _pca_loadings(adata: AnnData, n_comps: int) -> np.ndarray | None:
    """scanpy's PCA loadings ``varm["PCs"]`` (genes x components) as float32, or None when they are missing
    or have other than ``n_comps`` columns. States map to genes as ``Z @ loadings.T`` (plus the gene means)."""
    if keys.PCA_LOADINGS not in adata.varm:
        return None
    loadings = np.asarray(adata.varm[keys.PCA_LOADINGS], dtype=np.float32)
    if loadings.shape[1] != n_comps:
        return None
    return loadings


def _gene_space(adata: AnnData, states: np.ndarray) -> np.ndarray | None:
    """Map PCA states to genes with scanpy's loadings: ``mean + Z @ PCs.T``; None without loadings."""
    loadings = _pca_loadings(adata, states.shape[1])
    if loadings is None:
        return None
    X = adata.X
    mean = np.asarray(X.mean(axis=0) if sp.issparse(X) else np.mean(X, axis=0), dtype=np.float32).ravel()
    return mean + states @ loadings.T


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _check_arguments(adata, model, from_time, to_time, t_eval, n_cells, stochastic, steps_per_interval,
                     direction, rng) -> None:
    """Type and range of every argument of :func:`simulate`, each error naming its argument."""
    check_data_and_model(adata, model)
    for name, value in (("from_time", from_time), ("to_time", to_time)):
        if value is None or isinstance(value, str):
            continue
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not np.isfinite(value):
            raise ValueError(f"{name} must be a finite number, a time label such as 'day2', or None, got {value!r}")
    if t_eval is not None:
        try:
            times = np.asarray(t_eval, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"t_eval must be a sequence of numbers (times), got {t_eval!r}") from None
        if times.ndim != 1 or times.size == 0:
            raise ValueError(f"t_eval must be a non-empty sequence of times, got {t_eval!r}")
        if not np.isfinite(times).all():
            raise ValueError(f"t_eval holds NaN or infinite times: {times.tolist()}")
    if n_cells is not None:
        if not _is_int(n_cells):
            raise ValueError(f"n_cells must be a positive integer or None, got {n_cells!r}")
        if n_cells < 1:
            raise ValueError(f"n_cells must be positive, got {n_cells}")
    if not isinstance(stochastic, (bool, np.bool_)):
        raise TypeError(f"stochastic must be True or False, got {stochastic!r}")
    if not _is_int(steps_per_interval) or steps_per_interval < 1:
        raise ValueError(f"steps_per_interval must be a positive integer, got {steps_per_interval!r}")
    if not isinstance(direction, str) or direction not in ("forward", "backward"):
        raise ValueError(f"direction must be 'forward' or 'backward', not {direction!r}")
    if isinstance(rng, (bool, np.bool_)) or not (rng is None or isinstance(rng, (numbers.Integral, np.random.Generator))):
        raise TypeError(f"rng must be an int seed, a numpy.random.Generator or None, not {type(rng).__name__}")
    if _is_int(rng) and rng < 0:
        raise ValueError(f"rng must be a non-negative seed, got {rng}")


def simulate(
    adata: AnnData,
    model: CellBridgeModel,
    from_time: float | str | None = None,
    to_time: float | str | None = None,
    *,
    t_eval=None,
    n_cells: int | None = None,
    stochastic: bool = True,
    steps_per_interval: int = DEFAULT_STEPS_PER_INTERVAL,
    direction: str = "forward",
    rng: RNGLike = 0,
    resample: bool = False,
) -> AnnData:
    """Simulate trajectories of a fitted model, starting from the observed cells of one time point.

    Forwards (default) the trajectories run from ``from_time`` to a later ``to_time``; with
    ``direction="backward"`` they run from a later ``from_time`` back to an earlier ``to_time`` under the
    time-reversed dynamics (DSBM's backward network, or the reversal of an [SF]2M model's SDE).

    Parameters
    ----------
    adata
        The time course (the cells at ``from_time`` are the starting states).
    model
        A fitted :class:`cellbridge.CellBridgeModel`.
    from_time
        Observed time point to start from (a number or a label such as ``"day2"``); default the first
        (``direction="backward"``: the last).
    to_time
        Time to simulate to; default the model's last time point (backward: its first).
    t_eval
        Times at which to record states (must lie between ``from_time`` and ``to_time``); default the model's
        time points in that range, plus ``to_time``.
    n_cells
        Number of trajectories. Default: one per cell at ``from_time``; fewer are drawn without
        replacement, more with replacement.
    stochastic
        Euler-Maruyama on the SDE (True) or the deterministic probability-flow ODE (False).
    steps_per_interval
        Integration steps per median interval between time points.
    direction
        ``"forward"`` or ``"backward"`` in time.
    rng
        Seed (a non-negative int), NumPy generator or None for the choice of starting cells and the Brownian
        increments.
    resample
        Growth models only: replace the weighted rows of each time point by as many rows drawn from them
        with probability proportional to their weights (multinomial resampling; the rows keep their
        ``trajectory`` and ``source_cell``, and ``weight`` becomes 1), for tools that take unweighted cells.

    Returns
    -------
    AnnData
        One observation per (trajectory, time), ordered by trajectory then time in the direction of travel
        (``from_time`` first). ``obs`` has ``time``,
        ``trajectory``, ``source_cell`` (the starting cell's name) and ``source_time``; ``obsm[use_rep]``
        the states; ``X`` gene-space values through the PCA loadings when ``use_rep`` is ``"X_pca"`` and
        ``adata.varm["PCs"]`` exists (empty otherwise); ``uns["cellbridge_simulation"]`` the settings.
        For a model fitted with ``growth=True`` (forwards), ``obs["weight"]`` holds each row's mass,
        ``exp`` of the growth rate integrated along its path, normalised to mean 1 over the rows of each
        time point (so unweighted tools see the usual number of cells; score with
        ``cb.metrics.wasserstein(..., weights_x=obs["weight"])``), and ``uns["cellbridge_simulation"]
        ["mass"]`` the mean unnormalised weight per time in ``t_eval``: the predicted population size
        relative to ``from_time`` (meaningful in absolute terms only when population sizes were given at
        the fit).

    Raises
    ------
    TypeError, ValueError
        An argument of the wrong type or out of range, checked before anything is computed (the message
        names the argument); ``adata`` is never modified.
    FloatingPointError
        The simulated states became NaN or infinite (see :meth:`cellbridge.CellBridgeModel.simulate`).

    Notes
    -----
    Simulating more than 10% of the fitted span before the model's first or after its last time point logs
    a warning: the model extrapolates there.
    """
    _check_arguments(adata, model, from_time, to_time, t_eval, n_cells, stochastic, steps_per_interval,
                     direction, rng)
    use_rep, time_key = model.use_rep, model.time_key
    if use_rep is None or time_key is None:
        raise ValueError("the model does not record use_rep/time_key; fit it with cellbridge.tl.fit")
    if time_key not in adata.obs:
        raise ValueError(f"time_key {time_key!r} (the model's) is not a column of adata.obs")
    times = parse_time(adata.obs[time_key], name=time_key)
    observed = np.unique(times)

    def as_time(value, what):
        if value is None:
            return None
        if isinstance(value, str):
            return float(parse_time(pd.Series([value]), name=what)[0])
        return float(value)

    if direction not in model.directions:
        raise ValueError(f"this {model.method} model cannot simulate {direction}: it trained only {list(model.directions)}")
    forward = direction == "forward"
    from_time = as_time(from_time, "from_time")
    from_time = float(observed[0] if forward else observed[-1]) if from_time is None else from_time
    if not np.any(np.isclose(observed, from_time)):
        raise ValueError(f"from_time={from_time:g} is not an observed time point; observed: {observed.tolist()}")
    to_time = as_time(to_time, "to_time")
    to_time = float(model.time_points[-1 if forward else 0]) if to_time is None else to_time
    if forward and to_time < from_time:
        raise ValueError(f"to_time={to_time:g} precedes from_time={from_time:g}")
    if not forward and to_time > from_time:
        raise ValueError(f"to_time={to_time:g} follows from_time={from_time:g}: direction='backward' runs back in time")
    lo, hi = min(from_time, to_time), max(from_time, to_time)
    if t_eval is None:
        tp = model.time_points
        t_eval = np.unique(np.concatenate([[from_time], tp[(tp > lo) & (tp < hi)], [to_time]]))
    else:
        t_eval = np.unique(np.concatenate([[from_time], np.asarray(t_eval, dtype=np.float64)]))
        tol = 1e-12 * max(1.0, abs(to_time))
        if t_eval.min() < lo - (0 if forward else tol) or t_eval.max() > hi + (tol if forward else 0):
            raise ValueError("t_eval must lie between from_time and to_time")
    if not forward:
        t_eval = t_eval[::-1].copy()

    x_all = get_rep(adata, use_rep)
    if x_all.shape[1] != model.dim:
        raise ValueError(f"adata.obsm[{use_rep!r}] has {x_all.shape[1]} dimensions, the model {model.dim}")
    start_idx = np.flatnonzero(np.isclose(times, from_time))
    gen = as_numpy_rng(rng)
    if n_cells is not None:
        start_idx = gen.choice(start_idx, n_cells, replace=n_cells > len(start_idx))
    seed = int(gen.integers(2**31))
    weighted = model.has_growth and forward
    if not isinstance(resample, (bool, np.bool_)):
        raise TypeError(f"resample must be True or False, got {resample!r}")
    states = model.simulate(x_all[start_idx], t_eval, stochastic=stochastic, steps_per_interval=steps_per_interval,
                            direction=direction, rng=seed, return_log_weights=weighted)
    if weighted:
        states, log_w = states
    n_traj, n_t = len(start_idx), len(t_eval)
    flat = states.transpose(1, 0, 2).reshape(n_traj * n_t, model.dim).astype(np.float32)
    obs = pd.DataFrame({
        keys.SIM_TIME: np.tile(t_eval, n_traj),
        keys.SIM_TRAJECTORY: np.repeat(np.arange(n_traj), n_t),
        keys.SIM_SOURCE_CELL: np.repeat(np.asarray(adata.obs_names[start_idx]), n_t),
        keys.SIM_SOURCE_TIME: from_time,
    })
    obs.index = [f"traj{k}_t{j}" for k in range(n_traj) for j in range(n_t)]
    mass = None
    if weighted:
        raw = np.exp(log_w - log_w.max(axis=1, keepdims=True))  # (n_t, n_traj), stable
        mass = np.exp(log_w).mean(axis=1)
        weight = raw / raw.mean(axis=1, keepdims=True)
        obs[keys.SIM_WEIGHT] = weight.T.reshape(-1)
        if resample:
            rows = np.empty((n_t, n_traj), dtype=np.int64)
            for j in range(n_t):
                rows[j] = gen.choice(n_traj, n_traj, replace=True, p=weight[j] / weight[j].sum())
            order = (rows * n_t + np.arange(n_t)[:, None]).T.reshape(-1)  # row of (trajectory, time) in flat
            flat, obs = flat[order], obs.iloc[order].copy()
            obs[keys.SIM_WEIGHT] = 1.0
            obs.index = [f"draw{r}_t{j}" for r in range(n_traj) for j in range(n_t)]
    genes = _gene_space(adata, flat) if use_rep == keys.DEFAULT_REP else None
    if use_rep == "X":  # the model lives in X itself: the states are the simulated X
        sim = AnnData(X=flat, obs=obs, var=adata.var[[]].copy())
    elif genes is not None:
        sim = AnnData(X=genes, obs=obs, var=adata.var[[]].copy())
    else:
        sim = AnnData(obs=obs)
    if use_rep != "X":
        sim.obsm[use_rep] = flat
    sim.uns[keys.SIMULATION] = h5ad_safe({
        "use_rep": use_rep, "time_key": time_key, "t_eval": t_eval, "from_time": from_time, "to_time": to_time,
        "stochastic": stochastic, "steps_per_interval": steps_per_interval, "method": model.method,
        "sigma": model.sigma, "direction": direction,
        **({"weighted": True, "mass": mass, "resampled": bool(resample)} if weighted else {}),
    })
    where = f"states in obsm['{use_rep}']" if use_rep != "X" else "states in X"
    logger.info(f"simulated {n_traj} trajectories {direction} at {n_t} times ({'SDE' if stochastic else 'ODE'}); "
                + where + (", gene-space values in X" if genes is not None else "")
                + (f", weights in obs['{keys.SIM_WEIGHT}']" + (" (resampled)" if resample else "") if weighted else ""))
    return sim
