"""``cb.tl.transition_matrix``: a fitted model's one-step transitions between observed cells, in ``obsp``."""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp
from anndata import AnnData

from .. import _keys as keys
from .._logging import logger
from .._utils import RNGLike
from ..model import DEFAULT_STEPS_PER_INTERVAL, CellBridgeModel
from ..neighbors import DEFAULT_NEIGHBORS, cell_spacing
from .. import transitions as core
from ._checks import check_data_and_model, model_course
from ._uns import h5ad_safe


def transition_matrix(
    adata: AnnData,
    model: CellBridgeModel,
    dt: float | None = None,
    *,
    n_neighbors: int = DEFAULT_NEIGHBORS,
    n_sims: int = core.DEFAULT_SIMS,
    time_key: str | None = None,
    use_rep: str | None = None,
    stochastic: bool = True,
    steps_per_interval: int = DEFAULT_STEPS_PER_INTERVAL,
    rng: RNGLike = 0,
    key_added: str = keys.DEFAULT_TRANSITIONS_KEY,
    batch_size: int = core.DEFAULT_BATCH_SIZE,
    progress: bool = True,
) -> sp.csr_matrix:
    """Where each cell goes in one step of the fitted dynamics: a row-stochastic cell-by-cell matrix.

    Every cell is simulated forwards by ``dt`` from its own time, ``n_sims`` SDE paths each; the end of
    each path is spread over its ``n_neighbors`` nearest observed cells of the snapshot it arrives at, or
    of the two it arrives between (in the fitted representation; the next snapshot for the default ``dt``,
    the last snapshot's own cells for a cell of the last time point, which is not moved), by
    :func:`cellbridge.neighbors.assign_to_cells`, and row ``i`` is the average
    over cell ``i``'s paths. The matrix is what CellRank's kernels hold (see
    :func:`cellbridge.tl.cellrank_kernel`): row ``i`` is the probability that cell ``i`` moves to each
    observed cell.

    Parameters
    ----------
    adata
        The time course: each cell's time in ``obs[time_key]`` and its state in ``obsm[use_rep]`` (or ``X``).
    model
        A fitted :class:`cellbridge.CellBridgeModel` (from :func:`cellbridge.tl.fit` or
        :func:`cellbridge.load`).
    dt
        Length of the step in time units. Default: the median interval between the model's time points,
        so that one step carries a snapshot to (about) the next, the resolution at which the data constrain
        the dynamics; a much shorter step leaves most of a cell's mass among its own neighbours.
    n_neighbors
        Observed cells each simulated end state is spread over.
    n_sims
        SDE paths per cell. More paths resolve a cell's split between fates more finely (a fraction of
        about ``1 / n_sims`` per path) at proportional cost. With ``stochastic=False`` only one
        (deterministic) path is simulated.
    time_key
        Column of ``adata.obs`` with each cell's time (numbers or labels such as ``"day3"``). Default: the
        model's ``time_key``.
    use_rep
        The representation the model was fitted in (``"X"`` or a key of ``adata.obsm``). Default: the
        model's ``use_rep``.
    stochastic
        Simulate the SDE (True, default: a cell's spread of fates) or the probability-flow ODE (False).
    steps_per_interval
        Euler steps per median interval between time points.
    rng
        Seed (a non-negative int), NumPy generator or None for the Brownian increments; the same seed (and
        ``batch_size``) gives the same matrix.
    key_added
        ``adata.obsp`` key of the matrix; its settings go to ``adata.uns[key_added + "_params"]``.
    batch_size
        SDE paths simulated together (cells x ``n_sims``; at least one cell a batch): memory grows as
        ``batch_size * n_dims`` floats for the states plus ``batch_size * n_neighbors`` assignment weights.
    progress
        Show a progress bar over the batches.

    Returns
    -------
    scipy.sparse.csr_matrix
        The matrix, ``(n_obs, n_obs)``, float64, rows summing to 1; at most ``n_sims * n_neighbors``
        non-zeros per row (fewer where paths land among the same cells), so it stays sparse. It is also
        written to:

        - ``adata.obsp[key_added]``: the matrix;
        - ``adata.uns[key_added + "_params"]``: ``dt``, ``n_neighbors``, ``n_sims``, ``stochastic``,
          ``steps_per_interval``, ``bandwidth`` (of the assignment), ``time_key``, ``use_rep``,
          ``model_method`` and ``rng`` (when a seed).

    Raises
    ------
    TypeError, ValueError
        An argument of the wrong type or out of range, the message naming it: ``dt`` not a positive
        number, ``n_sims`` or ``n_neighbors`` not a positive integer, a ``time_key`` that is not a column,
        a ``use_rep`` that is missing or has other than the model's number of dimensions, cell times
        outside the model's time points (by more than 10% of its span). Everything is checked and computed
        before anything is written, so ``adata`` is unchanged after an error.
    FloatingPointError
        The simulated states became NaN or infinite (nothing is written).

    Notes
    -----
    A cell at time ``t`` is simulated to ``min(t + dt, t_last)``, ``t_last`` being the model's last time
    point, since no snapshot constrains the dynamics beyond it. A cell at the last time point is therefore
    not moved: its row is its own kNN spread, with most of its mass on itself and its close neighbours, so
    the last snapshot is nearly absorbing. That is what lets CellRank's GPCCA find terminal states among
    the last time point's cells. Cells of one time are simulated together, ``batch_size // n_sims`` at a
    time.

    Examples
    --------
    >>> import cellbridge as cb
    >>> adata = cb.datasets.bifurcation()
    >>> model = cb.tl.fit(adata, time_key="day", n_steps=200, progress=False)  # doctest: +SKIP
    >>> T = cb.tl.transition_matrix(adata, model)  # doctest: +SKIP
    >>> adata.obsp["cellbridge_transitions"].shape  # doctest: +SKIP
    (1000, 1000)
    """
    if not isinstance(key_added, str) or not key_added:
        raise ValueError(f"key_added must be a non-empty string, got {key_added!r}")
    check_data_and_model(adata, model, time_key=time_key, use_rep=use_rep)
    x, times, time_key, use_rep = model_course(adata, model, time_key, use_rep)
    dt = core.check_settings(model, dt, n_neighbors, n_sims, stochastic, rng, batch_size, steps_per_interval,
                             progress)
    x, times = core.check_states(model, x, times, states_name=f"adata.obsm[{use_rep!r}]",
                                 times_name=f"time_key={time_key!r}")
    bandwidth = cell_spacing(x)
    P = core.transition_matrix(x, times, model, dt, n_neighbors=n_neighbors, n_sims=n_sims,
                               stochastic=stochastic, rng=rng, batch_size=batch_size,
                               steps_per_interval=steps_per_interval, bandwidth=bandwidth, progress=progress)

    params_key = key_added + keys.TRANSITIONS_PARAMS_SUFFIX
    params = h5ad_safe({
        "dt": dt, "n_neighbors": int(n_neighbors), "n_sims": int(n_sims), "stochastic": bool(stochastic),
        "steps_per_interval": int(steps_per_interval), "bandwidth": float(bandwidth), "time_key": time_key,
        "use_rep": use_rep, "model_method": model.method,
        "rng": int(rng) if isinstance(rng, numbers.Integral) else None,
    })
    # everything is computed: write it all at once
    adata.obsp[key_added] = P
    adata.uns[params_key] = params
    t_last = float(model.time_points[-1])
    n_last = int(np.sum(times >= t_last))
    logger.info(f"transition matrix of {adata.n_obs} cells (dt={dt:g}, {int(n_sims) if stochastic else 1} path(s) "
                f"per cell, {P.nnz / adata.n_obs:.1f} non-zeros per row; {n_last} cell(s) at the last time point "
                f"{t_last:g} not moved); added obsp['{key_added}'], uns['{params_key}']")
    return P
