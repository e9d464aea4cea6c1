"""``cb.tl.fates``, ``cb.tl.push``, ``cb.tl.pull`` and ``cb.tl.gene_trends``: questions about cell fate
answered by simulating a fitted model and assigning the simulated states to observed cells.

Every tool here simulates the model's SDE from observed cells (:meth:`cellbridge.CellBridgeModel.simulate`,
in batches of bounded size), spreads each simulated end state over its nearest observed cells at the target
time with :func:`cellbridge.neighbors.assign_to_cells` (the package's one rule for that), and summarises the
weights with the AnnData-free core :mod:`cellbridge.fates`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator

import numpy as np
import pandas as pd
from anndata import AnnData
from tqdm.auto import tqdm

from .. import _keys as keys
from .. import fates as core
from .._logging import logger
from .._utils import RNGLike, as_numpy_rng
from ..model import DEFAULT_STEPS_PER_INTERVAL, CellBridgeModel
from ..neighbors import DEFAULT_NEIGHBORS, CellAssigner
from ..time_labels import parse_time
from ._checks import check_data_and_model, model_course
from ._simulate import _gene_space, _is_int, _pca_loadings
from ._uns import h5ad_safe

#: default simulations per source cell of :func:`fates`: the standard error of a probability is at most
#: 0.5 / sqrt(n_sims - 1), about 0.05 at 100
DEFAULT_FATE_SIMS = 100
#: default number of simulated end states of :func:`push` / :func:`pull` (spread over the selected cells)
DEFAULT_MASS_STATES = 10_000
#: default simulations per source cell of :func:`gene_trends`
DEFAULT_TREND_SIMS = 10
#: default number of evenly spaced times of :func:`gene_trends` (the model's time points are added)
DEFAULT_TREND_POINTS = 50
#: default simulated states per call of the model (cells x simulations): bounds the memory
DEFAULT_BATCH_SIZE = 10_000


# -- argument checks shared by the tools ------------------------------------------------------------------
def _check_common(adata, model, time_key, n_neighbors, stochastic, rng, key_added, batch_size, progress) -> None:
    check_data_and_model(adata, model, time_key=time_key)
    if not _is_int(n_neighbors) or n_neighbors < 1:
        raise ValueError(f"n_neighbors must be a positive integer, got {n_neighbors!r}")
    if not isinstance(stochastic, (bool, np.bool_)):
        raise TypeError(f"stochastic must be True or False, got {stochastic!r}")
    if isinstance(rng, (bool, np.bool_)) or not (rng is None or isinstance(rng, (numbers.Integral, np.random.Generator))):
        raise TypeError(f"rng must be an int seed, a numpy.random.Generator or None, not {type(rng).__name__}")
    if _is_int(rng) and rng < 0:
        raise ValueError(f"rng must be a non-negative seed, got {rng}")
    if not isinstance(key_added, str) or not key_added:
        raise ValueError(f"key_added must be a non-empty string, got {key_added!r}")
    if not _is_int(batch_size) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if not isinstance(progress, (bool, np.bool_)):
        raise TypeError(f"progress must be True or False, got {progress!r}")


def _check_sims(n_sims, allow_none: bool = False) -> None:
    if n_sims is None and allow_none:
        return
    if not _is_int(n_sims) or n_sims < 1:
        raise ValueError(f"n_sims must be a positive integer{' or None' if allow_none else ''}, got {n_sims!r}")


def _as_time(value, name: str) -> float | None:
    """A time argument (a number or a label such as ``"day2"``) as a float; None stays None."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return float(parse_time(pd.Series([value]), name=name)[0])
        except ValueError as err:
            raise ValueError(f"{name}={value!r} is not a time: {err}") from None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number or a time label such as 'day2', got {value!r}")
    return float(value)


def _observed_rows(times: np.ndarray, t: float, name: str, time_key: str) -> np.ndarray:
    rows = np.flatnonzero(np.isclose(times, t))
    if rows.size == 0:
        raise ValueError(f"{name}={t:g} is not an observed time point of obs[{time_key!r}]; observed: "
                         f"{np.unique(times).tolist()}")
    return rows


def _check_in_model(model: CellBridgeModel, t: float, name: str) -> None:
    if model.extrapolates(t).item():
        tp = model.time_points
        raise ValueError(f"{name}={t:g} lies outside the model's time points [{tp[0]:g}, {tp[-1]:g}] (by more than "
                         "10% of the span): the model was not fitted there")


def _check_direction(model: CellBridgeModel, direction: str, stochastic: bool) -> None:
    try:
        model.check_simulable(direction, bool(stochastic))
    except ValueError as err:
        raise ValueError(f"stochastic={bool(stochastic)}, direction={direction!r}: {err}") from None


def _labels(adata: AnnData, groupby) -> pd.Series:
    if not isinstance(groupby, str):
        raise TypeError(f"groupby must be a column name of adata.obs, not {type(groupby).__name__}")
    if groupby not in adata.obs.columns:
        raise ValueError(f"groupby {groupby!r} is not a column of adata.obs (available: {list(adata.obs.columns)})")
    return adata.obs[groupby]


def _membership(column: pd.Series, rows: np.ndarray, groups, groupby: str, to_time: float):
    """The 0/1 ``to_time cells x columns`` matrix of :func:`cellbridge.fates.membership`, errors naming the
    arguments: ``groups`` must be labels of ``obs[groupby]``, at least one of them among the ``to_time`` cells."""
    if groups is not None:
        if isinstance(groups, str) or not hasattr(groups, "__iter__"):
            groups = [groups]
        groups = [str(g) for g in groups]
        if not groups:
            raise ValueError("groups is empty: pass None (every label) or at least one label of obs[groupby]")
        known = set(column.dropna().astype(str))
        unknown = [g for g in groups if g not in known]
        if unknown:
            raise ValueError(f"groups {unknown} are not labels of obs[{groupby!r}] (its labels: {sorted(known)[:20]})")
    labels = column.iloc[rows]
    at_target = set(labels.dropna().astype(str))
    if groups is not None:
        absent = [g for g in groups if g not in at_target]
        if len(absent) == len(groups):
            raise ValueError(f"groups: none of {groups} labels a cell of obs[{groupby!r}] at to_time={to_time:g} "
                             f"(the labels there: {sorted(at_target)[:20]})")
        if absent:
            logger.warning(f"groups {absent} label no cell at to_time={to_time:g}: their probabilities are 0")
    elif not at_target:
        raise ValueError(f"groupby: obs[{groupby!r}] is missing for every cell at to_time={to_time:g}")
    values = pd.Categorical(labels) if not isinstance(labels.dtype, pd.CategoricalDtype) else labels.array
    try:
        return core.membership(values, groups)
    except ValueError as err:
        raise ValueError(f"groups: {err}") from None


def _batches(model: CellBridgeModel, x0: np.ndarray, n_sims: int, t_eval: np.ndarray, *, stochastic: bool,
             direction: str, batch_size: int, gen: np.random.Generator, progress: bool,
             desc: str) -> Iterator[tuple[slice, np.ndarray]]:
    """Simulate every row of ``x0`` ``n_sims`` times through ``t_eval``, a bounded number of states at a time.

    Yields ``(sources, states)``: a slice of the rows of ``x0`` and their states ``(len(t_eval),
    n_sources * n_sims, d)``, the ``n_sims`` simulations of each source consecutive. One seed per batch is
    drawn from ``gen``, so the result depends on ``batch_size`` as well as on the seed.
    """
    per_batch = max(1, batch_size // n_sims)
    starts = range(0, len(x0), per_batch)
    with tqdm(total=len(x0), desc=desc, unit="cell", disable=not progress, leave=False) as bar:
        for start in starts:
            sources = slice(start, min(start + per_batch, len(x0)))
            init = np.repeat(x0[sources], n_sims, axis=0)
            states = model.simulate(init, t_eval, stochastic=bool(stochastic), direction=direction,
                                    steps_per_interval=DEFAULT_STEPS_PER_INTERVAL, rng=int(gen.integers(2**31)))
            bar.update(sources.stop - sources.start)
            yield sources, states


# -- fates -------------------------------------------------------------------------------------------------
def fates(
    adata: AnnData,
    model: CellBridgeModel,
    from_time: float | str,
    to_time: float | str | None = None,
    *,
    groupby: str = "cell_type",
    groups=None,
    n_sims: int = DEFAULT_FATE_SIMS,
    n_neighbors: int = DEFAULT_NEIGHBORS,
    stochastic: bool = True,
    time_key: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    rng: RNGLike = 0,
    key_added: str = keys.DEFAULT_FATES_KEY,
    progress: bool = True,
) -> None:
    """Fate probabilities of the cells of one time point: where their simulated descendants end up.

    Each cell observed at ``from_time`` is simulated forwards ``n_sims`` times to ``to_time``. Each end state
    is spread over the observed cells at ``to_time`` by :func:`cellbridge.neighbors.assign_to_cells`, and its
    probability of a group is the weight it gives to the cells of that group (``obs[groupby]``). A cell's fate
    probabilities are the mean over its simulations, with their Monte-Carlo standard errors.

    Parameters
    ----------
    adata
        The time course the model was fitted to (cells' times in ``obs[time_key]``, states in the model's
        ``use_rep``).
    model
        A fitted :class:`cellbridge.CellBridgeModel`.
    from_time
        Observed time point whose cells get fate probabilities (a number or a label such as ``"day2"``).
    to_time
        Observed time point whose cells' labels are the fates; later than ``from_time``. Default: the model's
        last time point.
    groupby
        Column of ``adata.obs`` with the labels (e.g. cell types or clusters) of the ``to_time`` cells.
    groups
        The terminal groups of interest (labels of ``obs[groupby]``; a single label is allowed). Mass landing
        on ``to_time`` cells of any other label (or none) goes to a last column ``"other"``, so that the rows
        still sum to 1 and the groups' probabilities are not inflated by renormalising (moscot's convention).
        Default: every label among the ``to_time`` cells; ``"other"`` then holds only the mass on cells with a
        missing label, and is absent when there are none.
    n_sims
        Simulations per source cell. The default 100 keeps the standard error of every probability at or
        below ``0.5 / sqrt(n_sims - 1)``, about 0.05 (the worst case, ``p = 0.5``; 0.03 at ``p = 0.1``).
    n_neighbors
        Observed cells each end state is spread over (:func:`cellbridge.neighbors.assign_to_cells`).
    stochastic
        Simulate the SDE (True) or the deterministic probability-flow ODE (False: one simulation per cell,
        whatever ``n_sims``, and standard errors 0).
    time_key
        Column of ``adata.obs`` with the cells' times; default the model's.
    batch_size
        Simulated states (cells x simulations) per call of the model, whole cells at a time (so at least
        ``n_sims``): bounds the memory. The random streams are drawn per batch, so a different ``batch_size``
        gives other (equally valid) draws.
    rng
        Seed (non-negative int), NumPy generator or None; the same seed gives the same result.
    key_added
        Base name of the keys written.
    progress
        Show a progress bar over the simulated cells.

    Returns
    -------
    None
        Writes

        - ``adata.obsm[key_added]``: a :class:`pandas.DataFrame` (index ``adata.obs_names``, one float64
          column per group as a string, then ``"other"`` when needed); the rows of the ``from_time`` cells sum
          to 1, the other rows are NaN.
        - ``adata.obsm[key_added + "_se"]``: the Monte-Carlo standard errors, in the same layout.
        - ``adata.uns[key_added + "_params"]``: ``from_time``, ``to_time``, ``groupby``, ``groups`` (the
          columns, ``"other"`` included), ``n_sims`` (the number used), ``n_neighbors``, ``stochastic``,
          ``time_key``, ``use_rep`` and ``model_method``.

    Raises
    ------
    TypeError, ValueError
        An argument of the wrong type or out of range, the message naming it: ``groupby`` not a column of
        ``adata.obs``; ``groups`` that are not its labels, or none of which labels a ``to_time`` cell;
        ``from_time`` or ``to_time`` not an observed time point, ``to_time`` not after ``from_time``, either
        outside the model's time points (by more than 10% of their span). Everything is checked and computed
        before anything is written: on an error ``adata`` is unchanged.
    FloatingPointError
        The simulation diverged (nothing is written).

    Notes
    -----
    The standard error of a cell's probability is the sample standard deviation (``ddof=1``) of its
    simulations' probabilities over ``sqrt(n_sims)``: it measures the Monte-Carlo error of the estimate
    given the model, not the model's own error. Each simulation's probability is itself a weighted share of
    ``n_neighbors`` cells, in [0, 1], so the standard error never exceeds the binomial bound
    ``sqrt(p (1 - p) / (n_sims - 1))``.
    """
    _check_common(adata, model, time_key, n_neighbors, stochastic, rng, key_added, batch_size, progress)
    _check_sims(n_sims)
    x, times, time_key, use_rep = model_course(adata, model, time_key)
    column = _labels(adata, groupby)
    t0 = _as_time(from_time, "from_time")
    t1 = _as_time(to_time, "to_time")
    t1 = float(model.time_points[-1]) if t1 is None else t1
    src = _observed_rows(times, t0, "from_time", time_key)
    if not t1 > t0:
        raise ValueError(f"to_time={t1:g} must be after from_time={t0:g}: fates run forwards in time")
    ref_rows = _observed_rows(times, t1, "to_time", time_key)
    _check_in_model(model, t0, "from_time")
    _check_in_model(model, t1, "to_time")
    _check_direction(model, "forward", stochastic)
    member, columns = _membership(column, ref_rows, groups, groupby, t1)

    n_used = int(n_sims) if stochastic else 1
    ref = x[ref_rows]
    assigner = CellAssigner(ref, n_neighbors=n_neighbors)  # bandwidth: the cells' spacing; index built once
    gen = as_numpy_rng(rng)
    prob = np.empty((src.size, len(columns)))
    se = np.empty_like(prob)
    for sources, states in _batches(model, x[src], n_used, np.array([t0, t1]), stochastic=stochastic,
                                    direction="forward", batch_size=batch_size, gen=gen, progress=progress,
                                    desc="fates"):
        weights = assigner.assign(states[-1])
        prob[sources], se[sources] = core.monte_carlo_mean(core.group_probabilities(weights, member), n_used)
    if not stochastic:
        se[:] = 0.0

    full = np.full((adata.n_obs, len(columns)), np.nan)
    full_se = full.copy()
    full[src], full_se[src] = prob, se
    table = pd.DataFrame(full, index=adata.obs_names.copy(), columns=columns)
    table_se = pd.DataFrame(full_se, index=adata.obs_names.copy(), columns=columns)
    params_key = key_added + keys.PARAMS_SUFFIX
    params = h5ad_safe({"from_time": t0, "to_time": t1, "groupby": groupby, "groups": list(columns),
                        "n_sims": n_used, "n_neighbors": int(n_neighbors), "stochastic": bool(stochastic),
                        "time_key": time_key, "use_rep": use_rep, "model_method": model.method})
    # everything is computed: write it all at once
    adata.obsm[key_added] = table
    adata.obsm[key_added + keys.SE_SUFFIX] = table_se
    adata.uns[params_key] = params
    logger.info(f"fate probabilities of {src.size} cells at {t0:g} over {len(columns)} group(s) of obs[{groupby!r}] "
                f"at {t1:g} ({n_used} simulation(s) each); added obsm['{key_added}'], "
                f"obsm['{key_added}{keys.SE_SUFFIX}'], uns['{params_key}']")


# -- push / pull -------------------------------------------------------------------------------------------
def _select(adata: AnnData, cells) -> np.ndarray:
    """Rows selected by ``cells``: a boolean mask, obs names, or a ``(obs column, value(s))`` tuple."""
    if isinstance(cells, str):
        raise TypeError("cells must be a boolean mask, a list of obs names or a (obs column, value(s)) tuple, not "
                        f"a single string {cells!r}: pass [{cells!r}] for one cell")
    if isinstance(cells, tuple):
        if len(cells) != 2 or not isinstance(cells[0], str):
            raise ValueError(f"cells as a tuple must be (obs column, value or list of values), got {cells!r}")
        key, values = cells
        if key not in adata.obs.columns:
            raise ValueError(f"cells: {key!r} is not a column of adata.obs (available: {list(adata.obs.columns)})")
        if isinstance(values, str) or not hasattr(values, "__iter__"):
            values = [values]
        values = list(values)
        col = adata.obs[key]
        hit = col.isin(values).to_numpy() | col.astype(str).isin([str(v) for v in values]).to_numpy()
        rows = np.flatnonzero(hit & col.notna().to_numpy())
        if rows.size == 0:
            raise ValueError(f"cells: no cell has obs[{key!r}] in {values}")
        return rows
    if isinstance(cells, pd.Series) and cells.dtype == bool:
        if not cells.index.equals(adata.obs_names):
            raise ValueError("cells: a boolean Series must have adata.obs_names as its index")
        cells = cells.to_numpy()
    arr = np.asarray(cells)
    if arr.dtype == bool:
        if arr.shape != (adata.n_obs,):
            raise ValueError(f"cells: a boolean mask must have one entry per cell ({adata.n_obs}), got shape {arr.shape}")
        rows = np.flatnonzero(arr)
    else:
        if arr.ndim != 1 or arr.size == 0 or not all(isinstance(v, str) for v in arr.tolist()):
            raise TypeError("cells must be a boolean mask, a non-empty list of obs names or a (obs column, value(s)) "
                            f"tuple, got {type(cells).__name__}")
        index = adata.obs_names.get_indexer(pd.Index(arr))
        if (index < 0).any():
            missing = [str(v) for v, i in zip(arr.tolist(), index) if i < 0]
            raise ValueError(f"cells: {len(missing)} name(s) are not obs names of adata, e.g. {missing[:5]}")
        rows = np.unique(index)
    if rows.size == 0:
        raise ValueError("cells selects no cell")
    return rows


def _mass(adata, model, cells, to_time, direction, *, n_sims, n_neighbors, stochastic, time_key, batch_size, rng,
          key_added, progress) -> None:
    _check_common(adata, model, time_key, n_neighbors, stochastic, rng, key_added, batch_size, progress)
    _check_sims(n_sims, allow_none=True)
    x, times, time_key, use_rep = model_course(adata, model, time_key)
    rows = _select(adata, cells)
    source_times = np.unique(times[rows])
    if source_times.size > 1:
        raise ValueError(f"cells must all be observed at one time point; they span obs[{time_key!r}] = "
                         f"{source_times.tolist()}")
    t0 = float(source_times[0])
    if to_time is None:
        raise ValueError("to_time is required: the observed time point to carry the cells' mass to")
    t1 = _as_time(to_time, "to_time")
    forward = direction == "forward"
    if forward and not t1 > t0:
        raise ValueError(f"to_time={t1:g} must be after the cells' time {t0:g}: push runs forwards (use pull)")
    if not forward and not t1 < t0:
        raise ValueError(f"to_time={t1:g} must be before the cells' time {t0:g}: pull runs backwards (use push)")
    ref_rows = _observed_rows(times, t1, "to_time", time_key)
    _check_in_model(model, t0, "cells' time")
    _check_in_model(model, t1, "to_time")
    _check_direction(model, direction, stochastic)

    if not stochastic:
        n_used = 1
    elif n_sims is None:
        n_used = max(1, math.ceil(DEFAULT_MASS_STATES / rows.size))
    else:
        n_used = int(n_sims)
    ref = x[ref_rows]
    assigner = CellAssigner(ref, n_neighbors=n_neighbors)  # bandwidth: the cells' spacing; index built once
    gen = as_numpy_rng(rng)
    total = np.zeros(ref_rows.size)
    for sources, states in _batches(model, x[rows], n_used, np.array([t0, t1]), stochastic=stochastic,
                                    direction=direction, batch_size=batch_size, gen=gen, progress=progress,
                                    desc="push" if forward else "pull"):
        weights = assigner.assign(states[-1])
        total += core.mass(weights) * weights.shape[0]
    values = np.full(adata.n_obs, np.nan)
    values[ref_rows] = total / (rows.size * n_used)

    params_key = key_added + keys.PARAMS_SUFFIX
    params = h5ad_safe({"direction": direction, "source_time": t0, "to_time": t1, "n_cells": int(rows.size),
                        "n_sims": n_used, "n_neighbors": int(n_neighbors), "stochastic": bool(stochastic),
                        "time_key": time_key, "use_rep": use_rep, "model_method": model.method})
    adata.obs[key_added] = pd.Series(values, index=adata.obs_names.copy())
    adata.uns[params_key] = params
    logger.info(f"{'push' if forward else 'pull'} of {rows.size} cells at {t0:g} to the {ref_rows.size} cells at "
                f"{t1:g} ({n_used} simulation(s) each); added obs['{key_added}'], uns['{params_key}']")


_MASS_DOC = """
    Parameters
    ----------
    adata
        The time course the model was fitted to.
    model
        A fitted :class:`cellbridge.CellBridgeModel`.
    cells
        The cells whose mass is carried, all observed at one time point, as one of

        - a boolean mask over ``adata.obs_names`` (an array, or a boolean :class:`pandas.Series` indexed by
          ``obs_names``);
        - a list (array, :class:`pandas.Index`) of obs names;
        - a tuple ``(column, value)`` or ``(column, [values])``: the cells whose ``obs[column]`` is one of the
          values (compared as given, or as strings).

        A tuple is always the column form; a single string is refused (ambiguous: pass a list).
    to_time
        Observed time point to carry the mass to ({when} the cells' time).
    n_sims
        Simulations per selected cell. Default: enough for {n_states} end states in all,
        ``ceil({n_states} / n_cells)``: a set of target cells holding a share ``p`` of the mass then has a
        relative Monte-Carlo error of about ``sqrt((1 - p) / ({n_states} p))``, under 10% for ``p >= 1%``.
    n_neighbors
        Observed cells each end state is spread over (:func:`cellbridge.neighbors.assign_to_cells`).
    stochastic
        Simulate the SDE (True) or the probability-flow ODE (False: one simulation per cell).
    time_key
        Column of ``adata.obs`` with the cells' times; default the model's.
    batch_size
        Simulated states per call of the model (bounds the memory; the random streams are drawn per batch).
    rng
        Seed (non-negative int), NumPy generator or None; the same seed gives the same result.
    key_added
        ``obs`` column written (and the base of the ``uns`` key of the settings).
    progress
        Show a progress bar over the simulated cells.

    Returns
    -------
    None
        Writes (scanpy style; read the result from ``adata``)

        - ``adata.obs[key_added]`` (float64): the share of the selected cells' mass on each cell at
          ``to_time``, summing to 1 over those cells; NaN for the cells of other time points (they were not
          candidates, unlike a ``to_time`` cell that received nothing, which has 0 or a tiny weight).
        - ``adata.uns[key_added + "_params"]``: ``direction``, ``source_time``, ``to_time``, ``n_cells``,
          ``n_sims`` (the number used), ``n_neighbors``, ``stochastic``, ``time_key``, ``use_rep`` and
          ``model_method``.

    Raises
    ------
    TypeError, ValueError
        ``cells`` that select nothing, name unknown cells or span several time points; ``to_time`` not an
        observed time point, not {when} the cells' time, or outside the model's time points; other arguments
        of the wrong type or out of range; simulating {direction} with a model that never trained it. The
        message names the argument, and ``adata`` is unchanged (everything is computed before it is written).
    FloatingPointError
        The simulation diverged (nothing is written).

    Notes
    -----
    Each selected cell carries the same mass, ``1 / n_cells``; each of its simulations a share ``1 / n_sims``
    of it, spread over the ``to_time`` cells by :func:`cellbridge.neighbors.assign_to_cells`. {notes}
"""


def push(
    adata: AnnData,
    model: CellBridgeModel,
    cells,
    to_time: float | str,
    *,
    n_sims: int | None = None,
    n_neighbors: int = DEFAULT_NEIGHBORS,
    stochastic: bool = True,
    time_key: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    rng: RNGLike = 0,
    key_added: str = keys.DEFAULT_PUSH_KEY,
    progress: bool = True,
) -> None:
    _mass(adata, model, cells, to_time, "forward", n_sims=n_sims, n_neighbors=n_neighbors, stochastic=stochastic,
          time_key=time_key, batch_size=batch_size, rng=rng, key_added=key_added, progress=progress)


def pull(
    adata: AnnData,
    model: CellBridgeModel,
    cells,
    to_time: float | str,
    *,
    n_sims: int | None = None,
    n_neighbors: int = DEFAULT_NEIGHBORS,
    stochastic: bool = True,
    time_key: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    rng: RNGLike = 0,
    key_added: str = keys.DEFAULT_PULL_KEY,
    progress: bool = True,
) -> None:
    _mass(adata, model, cells, to_time, "backward", n_sims=n_sims, n_neighbors=n_neighbors, stochastic=stochastic,
          time_key=time_key, batch_size=batch_size, rng=rng, key_added=key_added, progress=progress)


push.__doc__ = """Push cells forwards: where the descendants of a set of cells are at a later time point.

    moscot's ``push``, by simulation: the selected cells are simulated forwards to ``to_time`` and their end
    states assigned to the observed cells there.
""" + _MASS_DOC.format(when="after", n_states=DEFAULT_MASS_STATES, direction="forwards",
                       notes="The mass is the distribution of the cells' descendants, not their number: "
                             "growth and death are not modelled.")
pull.__doc__ = """Pull cells backwards: where the ancestors of a set of cells are at an earlier time point.

    moscot's ``pull``, by simulation: the selected cells are simulated backwards (``direction="backward"``,
    the time-reversed SDE of the model) to ``to_time`` and their end states assigned to the observed cells
    there.
""" + _MASS_DOC.format(when="before", n_states=DEFAULT_MASS_STATES, direction="backwards",
                       notes="A DSBM model needs its backward network (trained by default); an [SF]2M model "
                             "reverses its SDE with the learned score.")


# -- gene trends -------------------------------------------------------------------------------------------
def _gene_mapper(adata: AnnData, model: CellBridgeModel, genes):
    """``names, f``: the genes asked for and a map from states ``(n, d)`` to their values ``(n, n_genes)``."""
    if isinstance(genes, str):
        genes = [genes]
    try:
        names = list(dict.fromkeys(str(g) for g in genes))
    except TypeError:
        raise TypeError(f"genes must be a gene name or a list of them (adata.var_names), not {type(genes).__name__}") from None
    if not names:
        raise ValueError("genes is empty: name at least one gene of adata.var_names")
    idx = adata.var_names.get_indexer(pd.Index(names))
    if (idx < 0).any():
        missing = [g for g, i in zip(names, idx) if i < 0]
        raise ValueError(f"genes {missing[:10]} are not in adata.var_names")
    use_rep = model.use_rep
    if use_rep == "X":
        return names, lambda states: states[:, idx]
    if use_rep == keys.DEFAULT_REP and _pca_loadings(adata, model.dim) is not None:
        sub = adata[:, idx]
        return names, lambda states: _gene_space(sub, states.astype(np.float32))
    raise ValueError(f"genes: the model lives in use_rep={use_rep!r}, which has no map to gene space (a model fitted "
                     f"in 'X', or in '{keys.DEFAULT_REP}' with scanpy's loadings varm['{keys.PCA_LOADINGS}'] of "
                     f"{model.dim} components)")


def gene_trends(
    adata: AnnData,
    model: CellBridgeModel,
    genes,
    from_time: float | str | None = None,
    to_time: float | str | None = None,
    *,
    groupby: str | None = None,
    groups=None,
    n_sims: int = DEFAULT_TREND_SIMS,
    n_points: int = DEFAULT_TREND_POINTS,
    n_neighbors: int = DEFAULT_NEIGHBORS,
    stochastic: bool = True,
    time_key: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    rng: RNGLike = 0,
    key_added: str = keys.DEFAULT_GENE_TRENDS_KEY,
    progress: bool = True,
) -> pd.DataFrame:
    """Expression of genes along simulated trajectories, summarised over time per fate.

    Every cell observed at ``from_time`` is simulated forwards ``n_sims`` times to ``to_time``; the states
    along the way are mapped to gene space, and their mean and standard error at each time are taken over
    the trajectories of each fate (or all of them).

    Parameters
    ----------
    adata
        The time course the model was fitted to.
    model
        A fitted :class:`cellbridge.CellBridgeModel`, in ``"X"`` (the states are the genes) or in ``"X_pca"``
        with scanpy's loadings ``adata.varm["PCs"]`` (genes are ``mean + states @ PCs.T``, as in
        :func:`cellbridge.tl.simulate`).
    genes
        A gene of ``adata.var_names`` or a list of them.
    from_time
        Observed time point to start from; default the first observed time point.
    to_time
        End of the trajectories, after ``from_time``; default the model's last time point (with ``groupby``,
        it must be an observed time point: its cells' labels are the fates).
    groupby
        Column of ``adata.obs``: a trajectory's fate is the group to which its end state gives the most weight
        (the argmax over groups of the :func:`cellbridge.neighbors.assign_to_cells` weights summed per group,
        as in :func:`fates`; ties go to the first group). A hard assignment keeps every trajectory in one fate,
        so that ``n_trajectories`` counts trajectories. None: one summary over all trajectories, fate
        ``"all"``.
    groups
        With ``groupby``, the groups of interest; trajectories whose end state weighs most on other cells get
        the fate ``"other"`` (as in :func:`fates`). Default: every label at ``to_time``.
    n_sims
        Simulations per source cell (the trends average over cells and simulations; more help rare fates).
    n_points
        Evenly spaced times from ``from_time`` to ``to_time`` (both included); the model's time points in
        between are added, so that the trends can be set against the snapshots.
    n_neighbors
        Observed cells each end state is spread over, for its fate.
    stochastic
        Simulate the SDE (True) or the probability-flow ODE (False: one trajectory per cell).
    time_key
        Column of ``adata.obs`` with the cells' times; default the model's.
    batch_size
        Simulated trajectories per call of the model (bounds the memory; the random streams are drawn per
        batch).
    rng
        Seed (non-negative int), NumPy generator or None; the same seed gives the same result.
    key_added
        ``uns`` key of the table (and base of the key of the settings).
    progress
        Show a progress bar over the simulated cells.

    Returns
    -------
    pandas.DataFrame
        The table also stored in ``adata.uns[key_added]`` (it survives ``write_h5ad``): one row per fate, gene
        and time, sorted so, with columns ``time`` (float), ``gene`` (str), ``fate`` (str: a group, ``"other"``
        or ``"all"``), ``mean`` and ``se`` (float: the mean over the fate's trajectories and its standard error,
        sample standard deviation over ``sqrt(n_trajectories)``; NaN for a single trajectory) and
        ``n_trajectories`` (int). Fates that no trajectory reaches have no rows. The settings go to
        ``adata.uns[key_added + "_params"]`` (``genes``, ``from_time``, ``to_time``, ``groupby``, ``groups``,
        ``n_sims``, ``n_points``, ``n_neighbors``, ``stochastic``, ``time_key``, ``use_rep``,
        ``model_method``).

    Raises
    ------
    TypeError, ValueError
        Genes not in ``adata.var_names``; a model with no map to gene space; ``groupby`` not a column or
        ``groups`` none of which labels a ``to_time`` cell; times not observed, out of order or outside the
        model; other arguments of the wrong type or out of range. The message names the argument, and
        ``adata`` is unchanged.
    FloatingPointError
        The simulation diverged (nothing is written).

    Notes
    -----
    The standard error treats the trajectories as independent; those of one source cell share their start,
    so with ``n_sims > 1`` it is somewhat optimistic about the uncertainty due to the finite number of cells.
    """
    _check_common(adata, model, time_key, n_neighbors, stochastic, rng, key_added, batch_size, progress)
    _check_sims(n_sims)
    if not _is_int(n_points) or n_points < 2:
        raise ValueError(f"n_points must be an integer of at least 2, got {n_points!r}")
    x, times, time_key, use_rep = model_course(adata, model, time_key)
    names, to_genes = _gene_mapper(adata, model, genes)
    column = _labels(adata, groupby) if groupby is not None else None
    observed = np.unique(times)
    t0 = _as_time(from_time, "from_time")
    t0 = float(observed[0]) if t0 is None else t0
    t1 = _as_time(to_time, "to_time")
    t1 = float(model.time_points[-1]) if t1 is None else t1
    src = _observed_rows(times, t0, "from_time", time_key)
    if not t1 > t0:
        raise ValueError(f"to_time={t1:g} must be after from_time={t0:g}: trends run forwards in time")
    _check_in_model(model, t0, "from_time")
    _check_in_model(model, t1, "to_time")
    _check_direction(model, "forward", stochastic)
    if column is not None:
        ref_rows = _observed_rows(times, t1, "to_time", time_key)
        member, fate_names = _membership(column, ref_rows, groups, groupby, t1)
        assigner = CellAssigner(x[ref_rows], n_neighbors=n_neighbors)
    elif groups is not None:
        raise ValueError("groups needs groupby (the column whose labels the groups are)")
    else:
        fate_names = ["all"]

    tp = model.time_points
    t_eval = np.unique(np.concatenate([np.linspace(t0, t1, n_points), tp[(tp > t0) & (tp < t1)]]))
    n_used = int(n_sims) if stochastic else 1
    moments = core.TrendMoments(len(fate_names), t_eval.size, len(names))
    gen = as_numpy_rng(rng)
    for _, states in _batches(model, x[src], n_used, t_eval, stochastic=stochastic, direction="forward",
                              batch_size=batch_size, gen=gen, progress=progress, desc="gene trends"):
        n_t, n_traj, dim = states.shape
        values = np.asarray(to_genes(states.reshape(n_t * n_traj, dim)), dtype=np.float64)
        values = values.reshape(n_t, n_traj, len(names))
        if column is None:
            codes = np.zeros(n_traj, dtype=np.int64)
        else:
            weights = assigner.assign(states[-1])
            codes = core.hard_fates(core.group_probabilities(weights, member))
        moments.add(values, codes)
    mean, se, count = moments.result()

    frames = []
    for f, fate in enumerate(fate_names):
        if count[f] == 0:
            continue
        for g, gene in enumerate(names):
            frames.append(pd.DataFrame({"time": t_eval, "gene": gene, "fate": fate, "mean": mean[f, :, g],
                                        "se": se[f, :, g], "n_trajectories": np.int64(count[f])}))
    table = pd.concat(frames, ignore_index=True)
    table["gene"] = table["gene"].astype(str).astype(object)
    table["fate"] = table["fate"].astype(str).astype(object)
    table.index = table.index.astype(str)  # h5ad stores the index as strings: the same table after a round trip

    params_key = key_added + keys.PARAMS_SUFFIX
    params = h5ad_safe({"genes": names, "from_time": t0, "to_time": t1, "groupby": groupby,
                        "groups": list(fate_names) if column is not None else None, "n_sims": n_used,
                        "n_points": int(n_points), "n_neighbors": int(n_neighbors), "stochastic": bool(stochastic),
                        "time_key": time_key, "use_rep": use_rep, "model_method": model.method})
    adata.uns[key_added] = table
    adata.uns[params_key] = params
    logger.info(f"trends of {len(names)} gene(s) along {src.size * n_used} trajectories from {t0:g} to {t1:g} at "
                f"{t_eval.size} times, {int((count > 0).sum())} fate(s); added uns['{key_added}'], "
                f"uns['{params_key}']")
    return table.copy()
