"""``cb.tl.fit``: fit dynamics to an AnnData time course."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from anndata import AnnData

from .._keys import DEFAULT_FIT_KEY, DEFAULT_REP
from .._logging import logger
from .._utils import RNGLike
from ..model import CellBridgeModel
from ..timecourse import time_course
from ._uns import h5ad_safe


def fit(
    adata: AnnData,
    time_key: str,
    use_rep: str = DEFAULT_REP,
    method: str = "sf2m",
    sigma: float | None = None,
    *,
    n_steps: int | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    hidden_dims: tuple[int, ...] | None = None,
    ot_method: str | None = None,
    device: str | torch.device = "auto",
    num_threads: int | None = None,
    rng: RNGLike = 0,
    progress: bool = True,
    key_added: str = DEFAULT_FIT_KEY,
    checkpoint_dir: str | Path | None = None,
    checkpoint_every: int | None = None,
    growth: bool = False,
    population_size=None,
    growth_prior=None,
    velocity_matching: float | None = None,
    velocity_n_sub=None,
    simulation_matching: float = 0.0,
    devices=None,
    **kwargs,
) -> CellBridgeModel:
    """Fit stochastic dynamics between the consecutive time points of a time course.

    One network over absolute time serves every interval. With ``method="sf2m"`` (default) each training
    step draws cells from both ends of every interval, couples them by entropic optimal transport (the
    static Schrodinger bridge of a Brownian reference with diffusion ``sigma``) and regresses the flow and
    score of Brownian bridges between the coupled cells ([SF]2M, Tong et al. 2024). With ``method="dsbm"``
    a forward and a backward drift network are fitted by Iterative Markovian Fitting (DSBM, Shi et al.
    2023): bridge matching on a coupling of every interval, then new couplings made by simulating the
    learned SDE, alternating directions (see :mod:`cellbridge.methods.dsbm`).

    Parameters
    ----------
    adata
        Annotated data with a time column in ``obs`` and a representation (``obsm[use_rep]``, or ``X``).
    time_key
        Column of ``adata.obs`` with the time of each cell: numbers, or labels such as ``"day3"``.
    use_rep
        Representation to model (``"X_pca"`` by default; ``"X"`` for the expression matrix itself).
        :func:`cellbridge.pp.prepare` computes PCA when it is missing.
    method
        ``"sf2m"`` or ``"dsbm"``.
    sigma
        Diffusion coefficient of the reference process, in representation units per square root of the time
        unit. None picks ``0.25 * spread / sqrt(median interval)`` (see
        :func:`cellbridge.normalization.default_sigma` for the rationale).
    n_steps, batch_size, lr, hidden_dims
        Optimisation steps (for DSBM: per IMF iteration), cells (DSBM: bridge samples) per interval per step,
        Adam's learning rate, and widths of the hidden layers of the networks. None takes the method's
        default: 2000 steps ([SF]2M) or 1000 per iteration (DSBM), batch 256, lr 1e-3, ``(64, 64, 64)``.
    ot_method
        [SF]2M: ``"entropic"`` (Schrodinger bridge coupling, default), ``"exact"`` (sigma -> 0 limit) or
        ``"independent"``. DSBM: the solver of its initial ``init_coupling="ot"``, ``"entropic"`` (default) or
        ``"exact"``.
    device
        ``"auto"`` uses CUDA when available and logs which device it picked.
    num_threads
        Torch CPU threads while training, restored afterwards. None (default) picks 1 for the networks and
        batches of ordinary fits, where more threads gain little and collapse when another process holds a
        core, and more only for large steps on an idle machine (see :meth:`cellbridge.CellBridgeModel.fit`).
    rng
        Seed: the same seed gives the same model on CPU.
    progress
        Show a progress bar.
    key_added
        Key of ``adata.uns`` where the record of the fit is written.
    checkpoint_dir, checkpoint_every
        Checkpoint the training state to this folder every ``checkpoint_every`` steps (default 200) and at
        the end; calling the same fit again with the same folder resumes, with the same result as an
        uninterrupted fit (bit for bit on the CPU). A checkpoint of other data or settings is refused.
    growth
        Learn unbalanced dynamics where cells divide and die: a growth rate network (log-mass per time
        unit) trained jointly with the method's networks, on source-relaxed couplings
        (:mod:`cellbridge.methods.growth`; ``growth_tau``, default 0.95, and ``growth_weight`` among the
        ``kwargs``). False (default): balanced. Read the rates with :func:`cellbridge.tl.growth_rate`;
        :func:`cellbridge.tl.simulate` then weights its cells (``obs["weight"]``).
    population_size
        Relative population sizes per time point, so that absolute rates are identified: a dict
        ``{time or label: size}``, a sequence in time order, the name of an ``adata.uns`` entry holding
        either, or of an ``adata.obs`` column constant within each time point. None (default): every
        snapshot has mass 1 and only differences between rates are identified.
    growth_prior
        Prior growth rate of each cell: the name of an ``adata.obs`` column (or an array), in log-mass per
        time unit (e.g. from proliferation and apoptosis scores, as moscot's ``score_genes_for_marginals``).
    velocity_matching
        Weight of a loss pulling the flow at the observed cells towards their OT-matched velocities between
        refined sub-snapshots (3-6 per snapshot, as the model-free route of :func:`cellbridge.tl.grn`), beside
        the bridge loss ([SF]2M only; :mod:`cellbridge.methods.velocity`). Bridges alone fit a smoothed,
        path-averaged velocity that reads worse as a gene network. None (default): 10 for ``drift="ngm"``
        (the regression of the velocities then dominates the bridge loss, which still trains the score and
        defines the field between the cells), off otherwise; 0: off (``benchmarks/results/grn.md`` has the measurements).
    velocity_n_sub
        Sub-snapshots per snapshot of those velocities, one number or several averaged (None: 3, 4, 5, 6).
        Use 1 for synchronous snapshots (all cells of a snapshot recorded at one time), where refining orders
        cells by position instead of stage (on the linear test system of ``tests/linear_system.py`` the
        default drops the NGM's AUROC from 1.0 to 0.3-0.5; 1 keeps it at 1.0).
    simulation_matching
        Weight of a loss that integrates the flow from each snapshot to the next and compares the pushed cells
        with the next snapshot by the energy distance ([SF]2M only, not with growth;
        :mod:`cellbridge.methods.simulation`). 0 (default): off. It costs two to five times the training
        time; with weight 10 it fitted the TIGON simulation's held-out days better, EMT and HSMM about as the
        defaults do and iPSC a little worse (``benchmarks/results/leave_one_out.md``).
    devices
        Data-parallel training (:mod:`cellbridge.distributed`): ``N`` processes (on ``N`` GPUs when
        ``device`` is CUDA, else on the CPU), a list of CUDA ids, or ``"group"`` inside a torch.distributed
        process group (torchrun; the ``cellbridge fit`` command does this). Each process draws its own
        minibatches and gradients are averaged: the effective batch is ``N x batch_size``. None: one process.
    **kwargs
        Further settings of the method: fields of :class:`cellbridge.methods.SF2MConfig` (``val_fraction``,
        ``patience``, ``activation``, ``ot_eps_rel``, ...) or of :class:`cellbridge.methods.DSBMConfig`
        (``n_iterations``, ``init_coupling``, ``n_sim``, ``sim_steps``, ``first_direction``, ...); for DSBM
        with ``init_coupling="sf2m"`` also ``init_model`` (a fitted [SF]2M model) or ``sf2m_options``.
        For gene regulatory networks ([SF]2M): ``drift="ngm"`` makes the flow a neural graphical model (one
        MLP per gene, group lasso on its inputs: ``ngm_lambda``, ``ngm_adaptive``, ``ngm_hidden_dims``,
        ``ngm_time``), to fit with ``use_rep="X"`` on a gene panel and read with :func:`cellbridge.tl.grn`.

    Returns
    -------
    CellBridgeModel
        The fitted model. ``adata.uns[key_added]`` holds ``params``, ``time_points``, ``loss_history``,
        ``train_seconds`` and ``device``; it is written only if training succeeds. For DSBM the loss history
        is flat over all iterations, with ``iteration`` (the iteration of each step) beside ``step`` and
        ``loss``, and per-iteration arrays ``iteration_direction``, ``iteration_steps``,
        ``iteration_pair_cost``, ``iteration_final_loss`` and ``iteration_seconds``.

    Examples
    --------
    >>> import cellbridge as cb
    >>> adata = cb.datasets.bifurcation()
    >>> model = cb.tl.fit(adata, time_key="day", n_steps=200, progress=False)  # doctest: +SKIP
    >>> dsbm = cb.tl.fit(adata, time_key="day", method="dsbm", n_iterations=4, progress=False)  # doctest: +SKIP
    """
    for name, value in (("time_key", time_key), ("use_rep", use_rep), ("key_added", key_added)):
        if not isinstance(value, str):
            raise TypeError(f"{name} must be a string, not {type(value).__name__} {value!r}")
    if not isinstance(progress, (bool, np.bool_)):
        raise TypeError(f"progress must be True or False, not {progress!r}")
    # the model centres in float64 by blocks and never writes to x: adata's own array, without a copy
    tc = time_course(adata, time_key, use_rep, keep_float64=True, copy=False)
    given = {"n_steps": n_steps, "batch_size": batch_size, "lr": lr, "ot_method": ot_method,
             "hidden_dims": None if hidden_dims is None else tuple(hidden_dims)}
    growth_kwargs = {}
    if growth:
        growth_kwargs = {"growth": True,
                         "population_size": _population(adata, population_size, tc),
                         "growth_prior": _prior(adata, growth_prior, tc)}
    elif population_size is not None or growth_prior is not None:
        raise ValueError("population_size and growth_prior need growth=True")
    start = time.perf_counter()
    model = CellBridgeModel.fit(
        tc.x, tc.t, method=method, sigma=sigma, device=device, num_threads=num_threads, rng=rng, progress=progress,
        checkpoint_dir=checkpoint_dir, checkpoint_every=checkpoint_every,
        metadata={"use_rep": use_rep, "time_key": time_key,
                  "time_labels": [tc.labels[float(tp)] for tp in tc.time_points]},
        **{k: v for k, v in given.items() if v is not None},
        **growth_kwargs,
        velocity_matching=velocity_matching,
        velocity_n_sub=velocity_n_sub,
        simulation_matching=simulation_matching,
        devices=devices,
        **kwargs,
    )
    seconds = time.perf_counter() - start
    history = {k: v for k, v in model.history.items() if k != "train_seconds"}
    train = dict(model.config["train"])
    params = {**train, "sigma_normalized": train.pop("sigma"), "time_key": time_key, "use_rep": use_rep,
              "method": method, "sigma": model.sigma, "sigma_given": sigma is not None,
              "rng": rng if isinstance(rng, int) else None}
    velocity = model.config.get("terms", {}).get("velocity", {})
    params["velocity_matching"] = velocity.get("weight", 0.0)
    params["velocity_n_sub"] = velocity.get("n_sub")
    params["simulation_matching"] = model.config.get("terms", {}).get("simulation", {}).get("weight", 0.0)
    if model.has_growth:
        rec = model.config["terms"]["growth"]
        params.update({"growth": True, "growth_tau": rec["tau"], "growth_weight": rec["weight"],
                       "growth_prior": growth_prior if isinstance(growth_prior, str) else rec["prior"],
                       "population_size": rec["population_size"], "growth_identifiable": model.growth_identifiable})
    adata.uns[key_added] = h5ad_safe({
        "params": params,
        "time_points": tc.time_points,
        "time_labels": model.config["time_labels"],
        "loss_history": history,
        "train_seconds": seconds,
        "device": str(model.device),
    })
    final = float(history["loss"][-min(50, len(history["loss"])):].mean())
    logger.info(f"fitted {method} in {seconds:.1f}s (final loss {final:.4g}); added uns['{key_added}'] "
                "(params, time_points, loss_history)")
    return model


def _population(adata: AnnData, value, tc) -> np.ndarray | None:
    """Relative population size per time point (sorted) from a dict, sequence, uns entry or obs column."""
    if value is None:
        return None
    if isinstance(value, str):
        if value in adata.uns:
            value = adata.uns[value]
        elif value in adata.obs:
            col = np.asarray(adata.obs[value], dtype=np.float64)
            sizes = []
            for tp in tc.time_points:
                vals = np.unique(col[tc.t == tp])
                if len(vals) != 1:
                    raise ValueError(f"obs[{value!r}] must be constant within each time point (time {tp:g} has "
                                     f"{len(vals)} values)")
                sizes.append(vals[0])
            return np.asarray(sizes)
        else:
            raise ValueError(f"population_size {value!r} is neither an adata.uns entry nor an adata.obs column")
    if isinstance(value, dict):
        by_label = {str(label): float(tp) for tp, label in tc.labels.items()}
        out = {}
        for key, size in value.items():
            if isinstance(key, str):
                if key not in by_label:
                    raise ValueError(f"population_size names time {key!r}, not a time point of the data "
                                     f"({sorted(by_label)})")
                key = by_label[key]
            out[float(key)] = float(size)
        return out  # matched to the time points (and checked) by CellBridgeModel.fit
    return np.asarray(value, dtype=np.float64)


def _prior(adata: AnnData, value, tc) -> np.ndarray | None:
    """Per-cell prior growth rates (in the time course's cell order) from an obs column or an array."""
    if value is None:
        return None
    if isinstance(value, str):
        if value not in adata.obs:
            raise ValueError(f"growth_prior {value!r} is not a column of adata.obs")
        value = adata.obs[value].to_numpy()
    value = np.asarray(value, dtype=np.float64).reshape(-1)
    if len(value) != adata.n_obs:
        raise ValueError(f"growth_prior must hold one rate per cell ({adata.n_obs}), got {len(value)}")
    return value  # the time course keeps adata's cell order
