"""Cell-to-cell transition matrices from a fitted model: where each observed cell goes in one step.

Row ``i`` of the matrix is the distribution, over the observed cells, of where cell ``i`` lands after
simulating the model's SDE forwards for a time ``dt`` from its own time: ``n_sims`` Euler-Maruyama paths
start at the cell, and each end state is spread over its nearest observed cells *of the snapshot at which it
arrives* (or of the two it arrives between) by :func:`cellbridge.neighbors.assign_to_cells` (the package's one kNN rule), averaged
over the paths. Assigning to that snapshot alone (as CellRank's real-time kernel couples consecutive time
points) keeps the chain moving forwards in time: where populations of different days overlap in the
representation, assigning to all cells would send mass back to earlier days and let it circulate. The
matrix is row-stochastic and sparse (at most ``n_sims * n_neighbors`` non-zeros per row), which is the form
CellRank's :class:`~cellrank.kernels.PrecomputedKernel` and its estimators consume.

This module takes arrays; :func:`cellbridge.tl.transition_matrix` is the AnnData-facing wrapper.
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp
from tqdm.auto import tqdm

from ._utils import RNGLike, as_numpy_rng
from .model import DEFAULT_STEPS_PER_INTERVAL, CellBridgeModel
from .neighbors import DEFAULT_NEIGHBORS, CellAssigner, cell_spacing

__all__ = ["transition_matrix", "default_dt", "DEFAULT_SIMS", "DEFAULT_BATCH_SIZE"]

#: default SDE paths per cell: with ``n_neighbors`` observed cells per end state, a row gets up to
#: ``n_sims * n_neighbors`` non-zeros, enough to resolve a split between branches at a few % per path
DEFAULT_SIMS = 10
#: default SDE paths simulated together (cells x paths per cell): bounds the memory, ``batch_size * dim``
#: floats of states and ``batch_size * n_neighbors`` assignment weights at once
DEFAULT_BATCH_SIZE = 10_000


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def default_dt(model: CellBridgeModel) -> float:
    """The default step of a transition matrix: the median interval between the model's time points.

    One such step carries a snapshot to (about) the next one, which is the resolution at which the data
    constrain the dynamics: a shorter step mostly moves a cell among its own neighbours, a longer one skips
    an observed state. A model with a single time point has no interval; its default is 1 time unit.
    """
    tp = model.time_points
    return float(np.median(np.diff(tp))) if tp.size > 1 else 1.0


def check_settings(model, dt, n_neighbors, n_sims, stochastic, rng, batch_size, steps_per_interval, progress) -> float:
    """Type and range of every setting of :func:`transition_matrix` (each error names its argument);
    returns ``dt`` resolved (its default when None)."""
    if not isinstance(model, CellBridgeModel):
        raise TypeError("model must be a fitted cellbridge.CellBridgeModel (from cellbridge.tl.fit or "
                        f"cellbridge.load), not {type(model).__name__}")
    if dt is None:
        dt = default_dt(model)
    elif not _is_real(dt) or not np.isfinite(dt):
        raise TypeError(f"dt must be a positive finite number (time units) or None, got {dt!r}")
    elif dt <= 0:
        raise ValueError(f"dt must be positive (a forward step in time units), got {dt!r}")
    if not _is_int(n_neighbors) or n_neighbors < 1:
        raise ValueError(f"n_neighbors must be a positive integer, got {n_neighbors!r}")
    if not _is_int(n_sims) or n_sims < 1:
        raise ValueError(f"n_sims must be a positive integer (SDE paths per cell), got {n_sims!r}")
    if not isinstance(stochastic, (bool, np.bool_)):
        raise TypeError(f"stochastic must be True or False, got {stochastic!r}")
    if isinstance(rng, (bool, np.bool_)) or not (rng is None or _is_int(rng) or isinstance(rng, np.random.Generator)):
        raise TypeError(f"rng must be an int seed, a numpy.random.Generator or None, not {type(rng).__name__}")
    if _is_int(rng) and rng < 0:
        raise ValueError(f"rng must be a non-negative seed, got {rng}")
    if not _is_int(batch_size) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer (paths simulated together), got {batch_size!r}")
    if not _is_int(steps_per_interval) or steps_per_interval < 1:
        raise ValueError(f"steps_per_interval must be a positive integer, got {steps_per_interval!r}")
    if not isinstance(progress, (bool, np.bool_)):
        raise TypeError(f"progress must be True or False, got {progress!r}")
    try:
        model.check_simulable("forward", bool(stochastic))
    except ValueError as err:
        raise ValueError(f"stochastic={bool(stochastic)}: {err}") from None
    return float(dt)


def check_states(model: CellBridgeModel, states, times, *, states_name: str = "states",
                 times_name: str = "times") -> tuple[np.ndarray, np.ndarray]:
    """``states`` ``(n, model.dim)`` and ``times`` ``(n,)`` as finite float64 arrays, times within the model's
    range (up to its extrapolation margin); errors name the argument."""
    try:
        x = np.asarray(states, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{states_name} must be a 2-D array of numbers, got {type(states).__name__}") from None
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"{states_name} must be a non-empty 2-D array (cells x dimensions), got shape {x.shape}")
    if x.shape[1] != model.dim:
        raise ValueError(f"{states_name} have {x.shape[1]} dimensions, the model {model.dim}")
    if not np.isfinite(x).all():
        raise ValueError(f"{states_name} hold NaN or infinite values")
    try:
        t = np.asarray(times, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{times_name} must be an array of numbers, got {type(times).__name__}") from None
    if t.shape != (len(x),):
        raise ValueError(f"{times_name} must hold one time per cell ({len(x)}), got shape {t.shape}")
    if not np.isfinite(t).all():
        raise ValueError(f"{times_name} hold NaN or infinite values")
    outside = model.extrapolates(t)
    if outside.any():
        tp = model.time_points
        bad = np.unique(t[outside])
        raise ValueError(f"{times_name}: {int(outside.sum())} cell(s) have times ({', '.join(f'{v:g}' for v in bad[:5])}"
                         f"{', ...' if bad.size > 5 else ''}) outside the model's time points [{tp[0]:g}, {tp[-1]:g}] "
                         "by more than 10% of the span; the model knows nothing there")
    return x, t


def transition_matrix(
    states: np.ndarray,
    times: np.ndarray,
    model: CellBridgeModel,
    dt: float | None = None,
    *,
    n_neighbors: int = DEFAULT_NEIGHBORS,
    n_sims: int = DEFAULT_SIMS,
    stochastic: bool = True,
    rng: RNGLike = 0,
    batch_size: int = DEFAULT_BATCH_SIZE,
    steps_per_interval: int = DEFAULT_STEPS_PER_INTERVAL,
    bandwidth: float | None = None,
    progress: bool = False,
) -> sp.csr_matrix:
    """The one-step transition matrix of a fitted model between observed cells.

    Parameters
    ----------
    states
        Observed cells ``(n_cells, model.dim)`` in the model's representation (user units). They are both
        the starting points and, grouped by time, the cells the end states are assigned to.
    times
        Each cell's time ``(n_cells,)``, in the model's time units; it is where the cell's paths start.
    model
        A fitted :class:`cellbridge.CellBridgeModel` that can simulate forwards.
    dt
        Length of the step, in time units; default :func:`default_dt`, the median interval between the
        model's time points (one step carries a snapshot to the next).
    n_neighbors
        Observed cells each end state is spread over (:func:`cellbridge.neighbors.assign_to_cells`).
    n_sims
        SDE paths per cell. With ``stochastic=False`` the paths are deterministic, so one is simulated.
    stochastic
        Euler-Maruyama on the SDE (True) or the probability-flow ODE (False).
    rng
        Seed, NumPy generator or None for the Brownian increments. One seed per batch is drawn from it, so a
        given seed and ``batch_size`` give the same matrix.
    batch_size
        Paths simulated together (cells x paths per cell; at least one cell per batch): bounds the memory.
    steps_per_interval
        Euler steps per median interval between time points (:meth:`cellbridge.CellBridgeModel.simulate`).
    bandwidth
        Gaussian bandwidth of the assignment; default :func:`cellbridge.neighbors.cell_spacing` of
        ``states`` (all snapshots together, computed once).
    progress
        Show a progress bar over the batches.

    Returns
    -------
    scipy.sparse.csr_matrix
        ``(n_cells, n_cells)``, float64, rows summing to 1, at most ``n_sims * n_neighbors`` non-zeros per
        row (fewer where paths land among the same cells).

    Raises
    ------
    TypeError, ValueError
        An argument of the wrong type or out of range (the message names it): ``dt`` not a positive number,
        ``n_sims`` or ``n_neighbors`` not a positive integer, ``states`` of other than the model's dimension,
        ``times`` outside the model's time points (by more than 10% of its span), a model that cannot
        simulate forwards this way.
    FloatingPointError
        The simulated states became NaN or infinite.

    Notes
    -----
    A cell at time ``t`` is simulated to ``t1 = min(t + dt, t_last)``, ``t_last`` being the model's last
    time point: beyond it no snapshot constrains the dynamics. Its end states are assigned to the cells
    observed at ``t1`` when ``t1`` is one of the ``times`` (with the default ``dt``, the next snapshot), and
    otherwise to the cells of the two snapshots ``t1`` lies between (a step shorter than an interval may
    leave a cell among its own snapshot's cells, never send it to an earlier one). A cell at (or after) the last time point
    is not moved at all; its row is its own kNN spread among the last snapshot's cells. The last snapshot is
    thus closed (absorbing as a whole), which is what lets CellRank find terminal states there and makes
    its absorption probabilities well defined. Cells of one time are simulated together, ``batch_size // n_sims`` cells a batch (cells of different
    times never share one, since :meth:`~cellbridge.CellBridgeModel.simulate` takes one start time); a
    time course with continuous times (e.g. refined ones) thus runs one batch per distinct time.
    """
    dt = check_settings(model, dt, n_neighbors, n_sims, stochastic, rng, batch_size, steps_per_interval, progress)
    if bandwidth is not None and (not _is_real(bandwidth) or not np.isfinite(bandwidth) or bandwidth <= 0):
        raise ValueError(f"bandwidth must be a positive number or None, got {bandwidth!r}")
    x, t = check_states(model, states, times)
    n = len(x)
    gen = as_numpy_rng(rng)
    sims = int(n_sims) if stochastic else 1
    per_batch = max(1, int(batch_size) // sims)  # cells per batch
    t_last = float(model.time_points[-1])
    h = cell_spacing(x) if bandwidth is None else bandwidth  # one bandwidth for every snapshot
    observed = np.unique(t)
    assigners: dict[tuple, tuple[np.ndarray, CellAssigner]] = {}  # per target snapshot(s), index built once

    def target(t1: float) -> tuple[np.ndarray, CellAssigner]:
        """The cells of the snapshot at ``t1``, or of the two it falls between, and an assigner onto them."""
        k = int(np.searchsorted(observed, t1))
        if k < observed.size and np.isclose(observed[k], t1, rtol=1e-9, atol=1e-12):
            near = (float(observed[k]),)
        else:
            near = (float(observed[k - 1]), float(observed[min(k, observed.size - 1)]))
        if near not in assigners:
            cols = np.flatnonzero(np.isin(t, near))
            assigners[near] = cols, CellAssigner(x[cols], n_neighbors=n_neighbors, bandwidth=h)
        return assigners[near]

    plan = []  # (start time, end time, cell indices) per batch
    for t0 in observed:
        idx = np.flatnonzero(t == t0)
        t1 = max(float(t0), min(float(t0) + dt, t_last))
        plan.extend((float(t0), t1, idx[s:s + per_batch]) for s in range(0, idx.size, per_batch))

    blocks, order = [], []
    for t0, t1, rows in tqdm(plan, desc="transitions", unit="batch", disable=not progress, leave=False):
        seed = int(gen.integers(0, 2**63 - 1))  # drawn for every batch, moved or not: batches stay aligned
        paths = sims if t1 > t0 else 1  # a cell that is not moved has one end state, itself
        end = np.repeat(x[rows], paths, axis=0)  # paths of one cell are consecutive rows
        if t1 > t0:
            end = model.simulate(end, [t0, t1], stochastic=bool(stochastic), steps_per_interval=steps_per_interval,
                                 rng=seed)[-1]
        cols, assigner = target(t1)
        local = assigner.assign(end).tocoo()  # (len(rows) * paths, cells of the target snapshot)
        assigned = sp.csr_matrix((local.data, (local.row, cols[local.col])), shape=(len(end), n))
        mean = sp.csr_matrix((np.full(len(end), 1.0 / paths), np.arange(len(end)),
                              np.arange(0, len(end) + 1, paths)), shape=(len(rows), len(end)))
        blocks.append(mean @ assigned)
        order.append(rows)
    stacked = sp.vstack(blocks, format="csr")
    inverse = np.empty(n, dtype=np.int64)
    inverse[np.concatenate(order)] = np.arange(n)
    P = stacked[inverse].tocsr()
    P.sum_duplicates()
    P.sort_indices()
    P.data /= np.repeat(np.asarray(P.sum(axis=1)).ravel(), np.diff(P.indptr))  # exact to rounding
    return P
