"""``cb.tl.leave_one_out``: the field's standard evaluation of trajectory inference, in one call."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np
import pandas as pd
import torch
from anndata import AnnData

from .._keys import DEFAULT_LOO_KEY, DEFAULT_REP
from .._logging import logger
from .._utils import RNGLike, resolve_device
from ..timecourse import time_course
from ..evaluation import BASELINES
from ..evaluation.leave_one_out import leave_one_out as _leave_one_out
from ..evaluation.leave_one_out import model_predictor, summarize
from ..model import CellBridgeModel
from ._fit import _population, _prior
from ._uns import h5ad_safe


def leave_one_out(
    adata: AnnData,
    time_key: str,
    use_rep: str = DEFAULT_REP,
    method: str | Callable | None = "sf2m",
    *,
    holdout: str | Iterable[float] = "interior",
    metrics: Sequence[str] = ("w1", "w2", "mmd", "energy"),
    baselines: Sequence[str] = tuple(BASELINES),
    n_seeds: int = 1,
    stochastic: bool | Sequence[bool] = (True, False),
    steps_per_interval: int = 100,
    max_cells: int | None = 2000,
    device: str | torch.device = "auto",
    rng: RNGLike = 0,
    progress: bool = True,
    key_added: str = DEFAULT_LOO_KEY,
    growth: bool = False,
    population_size=None,
    growth_prior=None,
    **fit_kwargs,
) -> pd.DataFrame:
    """Hold out each interior time point, fit without it, predict it, and score against the real cells.

    For each held-out time point ``t_k`` the model is fitted on all other time points (time is absolute,
    so the fit bridges the gap ``(t_{k-1}, t_{k+1})``), the cells of ``t_{k-1}`` are pushed to ``t_k``, and
    the prediction is compared with the real cells of ``t_k``. Beside the model, the baselines a reviewer
    asks for (:mod:`cellbridge.evaluation.baselines`): the previous and next snapshot, straight lines
    between random pairs, and McCann interpolation along exact OT pairs of the two neighbours. A model
    worth using beats ``ot_interpolation``.

    Parameters
    ----------
    adata
        Annotated data with a time column and a representation; it is only read, except for the record
        written to ``adata.uns[key_added]``.
    time_key
        Column of ``adata.obs`` with each cell's time (at least three time points).
    use_rep
        Representation to model and score (``"X_pca"``, another ``obsm`` key, or ``"X"``).
    method
        ``"sf2m"`` or ``"dsbm"`` (fitted with :meth:`cellbridge.CellBridgeModel.fit` and ``**fit_kwargs``),
        a factory ``f(x, t, rng=seed) -> model`` whose model has ``simulate`` like
        :class:`cellbridge.CellBridgeModel`, or None for the baselines alone.
    holdout
        ``"interior"`` or a list of interior time points.
    metrics
        Any of ``"w1"`` (exact OT, Euclidean cost), ``"w2"``, ``"mmd"`` (Gaussian kernel, median-heuristic
        bandwidth) and ``"energy"``; see :mod:`cellbridge.metrics`.
    baselines
        Any of ``"previous"``, ``"next"``, ``"random_pairs"``, ``"ot_interpolation"`` (the default set) and
        ``"entropic_ot_interpolation"``, ``"unbalanced_ot_interpolation"`` (Sinkhorn on every held-out pair,
        asked for by name; :data:`cellbridge.evaluation.baselines.ALL_BASELINES`).
    n_seeds
        Fits per held-out time point, with different seeds.
    stochastic
        Score the SDE (True), the probability-flow ODE (False), or both (one fit serves both): the rows are
        named ``"{method}-sde"`` and ``"{method}-ode"``.
    steps_per_interval
        Integration steps per median interval between time points.
    max_cells
        Each side of a distance is subsampled to at most this many cells (exact OT is cubic in the count).
    device
        Device of the fits (``"auto"``: CUDA when available); on an accelerator MMD and energy distance are
        computed there too.
    rng
        Seed of the whole evaluation.
    progress
        Progress bar over the fits.
    key_added
        ``adata.uns[key_added]`` receives ``results`` (the table) and ``params``.
    growth
        Fit unbalanced dynamics with a growth rate (as :func:`cellbridge.tl.fit` with ``growth=True``;
        ``growth_tau`` and ``growth_weight`` go in ``**fit_kwargs``). Each prediction is then the simulated
        cells with the normalised weights they gained or lost along their paths, scored as that weighted
        cloud: W1 and W2 with the weights as masses, MMD and energy distance on a weighted resample with a
        fixed seed (:func:`cellbridge.evaluation.leave_one_out.score`). False (default): balanced, scored as
        uniform clouds.
    population_size
        Relative population size per time point, as in :func:`cellbridge.tl.fit` (a dict, a sequence over
        the sorted time points, an ``adata.uns`` entry or an ``adata.obs`` column); every fit gets the sizes
        of the time points it is fitted on. Needs ``growth=True``.
    growth_prior
        Prior growth rate per cell (an ``adata.obs`` column or an array), as in :func:`cellbridge.tl.fit`;
        every fit gets the rates of its training cells. Needs ``growth=True``.
    **fit_kwargs
        Passed to :meth:`cellbridge.CellBridgeModel.fit` (``n_steps``, ``batch_size``, ``sigma``, ...).

    Returns
    -------
    pandas.DataFrame
        Tidy table: ``held_out`` (time), ``method``, ``kind`` (``"model"`` or ``"baseline"``), ``seed``,
        ``metric``, ``value``. :func:`cellbridge.evaluation.summarize` turns it into means per method.

    Examples
    --------
    >>> import cellbridge as cb
    >>> adata = cb.datasets.bifurcation()
    >>> res = cb.tl.leave_one_out(adata, time_key="day", use_rep="X_pca", n_steps=500)  # doctest: +SKIP
    >>> cb.evaluation.summarize(res)  # doctest: +SKIP
    """
    tc = time_course(adata, time_key, use_rep, min_time_points=3)
    if not isinstance(growth, (bool, np.bool_)):
        raise TypeError(f"growth must be True or False, got {growth!r}")
    if not growth and (population_size is not None or growth_prior is not None):
        raise ValueError("population_size and growth_prior need growth=True")
    growth_kwargs: dict = {}
    if growth:
        sizes = _population(adata, population_size, tc)
        if sizes is not None and not isinstance(sizes, dict):
            if len(sizes) != len(tc.time_points):
                raise ValueError(f"population_size must hold one size per time point ({len(tc.time_points)}), "
                                 f"got {len(sizes)}")
            sizes = {float(tp): float(v) for tp, v in zip(tc.time_points, sizes)}
        growth_kwargs = {"growth": True, "population_size": sizes}
        prior = _prior(adata, growth_prior, tc)
    predictors = {}
    if method is not None:
        if isinstance(method, str):
            name = method

            def factory(x, t, rng):
                kwargs = dict(growth_kwargs)
                if growth and prior is not None:
                    # the core fits on the cells of every time point but the held-out one, in their order
                    kwargs["growth_prior"] = prior[np.isin(tc.t, np.unique(t))]
                return CellBridgeModel.fit(x, t, method=name, device=device, rng=rng, progress=False,
                                           **kwargs, **fit_kwargs)
        elif callable(method):
            if growth:
                raise TypeError("growth, population_size and growth_prior only apply to method='sf2m' or 'dsbm', "
                                "not to a factory (bind them in the factory instead)")
            if fit_kwargs:
                raise TypeError(f"fit arguments {sorted(fit_kwargs)} only apply to method='sf2m' or 'dsbm', "
                                "not to a factory (bind them in the factory instead)")
            name, factory = getattr(method, "__name__", "model"), method
        else:
            raise TypeError(f"method must be 'sf2m', 'dsbm', a model factory or None, not {type(method).__name__}")
        predictors[name] = model_predictor(factory, name, stochastic=stochastic, steps_per_interval=steps_per_interval)
    # the dense-kernel metrics go where the fits go when that is an accelerator
    fit_device = resolve_device(device)
    metric_device = fit_device if fit_device.type != "cpu" else None
    results = _leave_one_out(tc.x, tc.t, predictors, holdout=holdout, metrics=metrics, baselines=baselines,
                             n_seeds=n_seeds, max_cells=max_cells, metric_device=metric_device, rng=rng,
                             progress=progress)
    params = {"time_key": time_key, "use_rep": use_rep, "method": method if isinstance(method, str) else str(method),
              "holdout": sorted(results["held_out"].unique().tolist()), "metrics": list(metrics),
              "baselines": list(baselines), "n_seeds": int(n_seeds), "steps_per_interval": int(steps_per_interval),
              "max_cells": max_cells, "rng": rng if isinstance(rng, int) else None, "growth": bool(growth),
              "population_size": (None if growth_kwargs.get("population_size") is None else
                                  {f"{k:g}": float(v) for k, v in growth_kwargs["population_size"].items()}),
              "growth_prior": growth_prior if isinstance(growth_prior, str) else growth_prior is not None,
              "fit_kwargs": {k: (list(v) if isinstance(v, tuple) else v) for k, v in fit_kwargs.items()
                             if isinstance(v, (int, float, str, bool, tuple))}}
    adata.uns[key_added] = {"params": h5ad_safe(params), "results": results}
    if "w1" in set(results["metric"]) and "ot_interpolation" in set(results["method"]):
        table = summarize(results, "w1")
        best = table.drop(index=[b for b in BASELINES if b in table.index]).get("ratio")
        if best is not None and len(best):
            logger.info("leave-one-out W1 relative to OT interpolation: "
                        + ", ".join(f"{m} {r:.3f}" for m, r in best.items()))
    logger.info(f"added uns['{key_added}'] (results: {len(results)} rows, params)")
    return results
