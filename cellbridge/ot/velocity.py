"""OT-matched velocities: where each cell of a snapshot goes in the next, per unit of time.

Match consecutive snapshots by exact optimal transport (squared Euclidean cost, uniform weights: the
couplings the bridges are trained on, without noise) and take each cell's *barycentric image*, the
plan-weighted mean of its partners in the other snapshot. A cell's velocity is the displacement to its
image in the next snapshot over the time between them; the cells of the last snapshot, which have no next
one, get the displacement from their image in the previous snapshot.

AnnData-free; NumPy arrays in and out (POT's exact OT runs on the host).
"""

from __future__ import annotations

import numpy as np
import ot as pot

__all__ = ["snapshots", "barycentric_images", "ot_velocities"]


def snapshots(x: np.ndarray, t: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Checked cells and their snapshots: ``(x as float64, sorted time points, indices of each one's cells)``.

    Raises ValueError, naming ``what`` needs them, unless ``x`` is ``(n, d)``, ``t`` ``(n,)``, both finite,
    with at least two distinct times.
    """
    x = np.asarray(x, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    if x.ndim != 2 or t.shape != (x.shape[0],):
        raise ValueError(f"x must be (n_cells, n_dims) and t (n_cells,), got {x.shape} and {t.shape}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(t))):
        raise ValueError("x and t must be finite")
    time_points = np.unique(t)
    if len(time_points) < 2:
        raise ValueError(f"{what} needs at least two time points")
    return x, time_points, [np.flatnonzero(t == tp) for tp in time_points]


def barycentric_images(x_from: np.ndarray, x_to: np.ndarray) -> np.ndarray:
    """Each cell of ``x_from`` mapped to the plan-weighted mean of its partners in ``x_to`` (exact OT).

    Parameters
    ----------
    x_from, x_to
        Cells ``(n, d)`` and ``(m, d)``, uniformly weighted.

    Returns
    -------
    numpy.ndarray
        ``(n, d)`` float64: the images of the cells of ``x_from``.
    """
    x_from = np.asarray(x_from, dtype=np.float64)
    x_to = np.asarray(x_to, dtype=np.float64)
    a = np.full(len(x_from), 1.0 / len(x_from))
    b = np.full(len(x_to), 1.0 / len(x_to))
    plan = pot.emd(a, b, pot.dist(x_from, x_to))  # squared Euclidean cost, as the bridges use
    return plan @ x_to / plan.sum(axis=1, keepdims=True)


def ot_velocities(x: np.ndarray, t: np.ndarray) -> np.ndarray:
    r"""Velocity of every cell from the exact OT coupling of its snapshot to the next.

    For a cell :math:`x_i` at time point :math:`t_k` with barycentric image :math:`\hat y_i` in snapshot
    :math:`k + 1`: :math:`v_i = (\hat y_i - x_i) / (t_{k+1} - t_k)`; in the last snapshot
    :math:`v_i = (x_i - \hat p_i) / (t_K - t_{K-1})` with :math:`\hat p_i` its image in the previous one.
    A snapshot that is a rigid shift of the one before, :math:`y = x + c`, gives every cell
    :math:`c / \Delta t` exactly.

    Parameters
    ----------
    x
        Cells ``(n, d)``.
    t
        Time point of each cell ``(n,)``; at least two distinct values.

    Returns
    -------
    numpy.ndarray
        ``(n, d)`` float64, in units of ``x`` per unit of ``t``.
    """
    x, time_points, cells = snapshots(x, t, "an OT velocity")
    v = np.empty_like(x)
    for k in range(len(cells) - 1):
        here, after = cells[k], cells[k + 1]
        v[here] = (barycentric_images(x[here], x[after]) - x[here]) / (time_points[k + 1] - time_points[k])
    last, before = cells[-1], cells[-2]
    v[last] = (x[last] - barycentric_images(x[last], x[before])) / (time_points[-1] - time_points[-2])
    return v
