"""OT-matched velocities: where each cell of a snapshot goes in the next, per unit of time.

Match consecutive snapshots by exact optimal transport (squared Euclidean cost, uniform weights: the
couplings the bridges are trained on, without noise) and take each cell's *barycentric image*, the
plan-weighted mean of its partners in the other snapshot. A cell's velocity is the displacement to its
image in the next snapshot over the time between them; the cells of the last snapshot, which have no next
one, get the displacement from their image in the previous snapshot.

AnnData-free; NumPy arrays in and out, float64 throughout. The plans come from the package's own exact
coupling (:func:`cellbridge.ot.coupling` with ``"exact"``: the squared Euclidean cost of
:func:`cellbridge.ot.sq_euclidean`, then :func:`cellbridge.ot.exact_plan`), on float64 tensors on the CPU;
the network simplex runs on the host in any case.
"""

from __future__ import annotations

import numpy as np
import torch

from .coupling import coupling

__all__ = ["snapshots", "barycentric_images", "ot_velocities"]


def snapshots(x: np.ndarray, t: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Check cells and their time points, and group the cells by snapshot.

    Parameters
    ----------
    x
        Cells ``(n, d)``.
    t
        Time point of each cell ``(n,)``.
    what
        What needs the snapshots, for the error message (e.g. ``"an OT velocity"``).

    Returns
    -------
    x : numpy.ndarray
        ``x`` as float64.
    time_points : numpy.ndarray
        The distinct time points, sorted.
    cells : list of numpy.ndarray
        The indices of the cells of each time point, in the order of ``time_points``.

    Raises
    ------
    ValueError
        Unless ``x`` is ``(n, d)`` and ``t`` ``(n,)``, both finite, with at least two distinct times.
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
    """Map each cell of ``x_from`` to the plan-weighted mean of its partners in ``x_to`` (exact OT).

    The plan is ``coupling(x_from, x_to, "exact")`` (:func:`cellbridge.ot.coupling`) on float64 tensors:
    the squared Euclidean cost, as the bridges use, and uniform weights.

    Parameters
    ----------
    x_from, x_to
        Cells ``(n, d)`` and ``(m, d)``, uniformly weighted.

    Returns
    -------
    numpy.ndarray
        ``(n, d)`` float64: the images of the cells of ``x_from``.
    """
    src, dst = _as_cells(x_from, "x_from"), _as_cells(x_to, "x_to")
    plan = coupling(src, dst, "exact")
    return (plan @ dst / plan.sum(dim=1, keepdim=True)).numpy()


def _as_cells(x, name: str) -> torch.Tensor:
    """``x`` as a float64 ``(n, d)`` CPU tensor of its own (a copy: the caller's array may be read-only)."""
    x = np.array(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"{name} must be (n_cells, n_dims), got shape {x.shape}")
    return torch.from_numpy(x)


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
