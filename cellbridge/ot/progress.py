"""Progress within a snapshot from the OT couplings to its neighbours, and finer time points from it.

A snapshot time point lumps together cells that are at different stages: a culture sampled on day 2
holds cells that have moved further than others. With coarse snapshots this spread is large, and
anything that differences consecutive snapshots (OT-matched velocities, bridges) averages over it. The
couplings to the neighbouring snapshots say which way each cell is heading: match snapshot k to k-1 and
to k+1 by exact OT, take each cell's barycentric images ``p_i`` (in k-1) and ``n_i`` (in k+1), and measure
how far the cell lies along its own direction of motion ``u_i = (n_i - p_i) / |n_i - p_i|`` from the
snapshot's mean::

    progress_i = <x_i - mean_k(x), u_i>,

so that cells ahead of the others in the direction they all travel score high. (The cell's place on its
own segment, ``<x_i - p_i, n_i - p_i> / |n_i - p_i|^2``, does not work: OT matches quantiles to quantiles,
so in a steady flow every cell sits half-way between its images.) In the first and last snapshots the
missing image is the cell itself. Only the order of cells within a snapshot is used downstream:
:func:`refine_time_points` splits each snapshot into ``n_sub`` equally filled sub-snapshots by it.

AnnData-free; NumPy arrays in and out, float64. The images are
:func:`cellbridge.ot.velocity.barycentric_images`, whose plans come from the package's exact coupling
(:func:`cellbridge.ot.coupling` with ``"exact"``).
"""

from __future__ import annotations

import numpy as np

from .velocity import barycentric_images, snapshots

__all__ = ["snapshot_progress", "refine_time_points", "check_n_sub"]


def snapshot_progress(x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Where each cell sits between the snapshots before and after its own (see the module notes).

    Parameters
    ----------
    x
        Cells ``(n, d)``.
    t
        Snapshot time of each cell ``(n,)``; at least two distinct times.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` float64, in the units of ``x``: signed distance from the snapshot's mean along each cell's
        direction of motion (comparable within a snapshot only).
    """
    x, _, cells = snapshots(x, t, "snapshot progress")
    progress = np.empty(len(x))
    for k, idx in enumerate(cells):
        here = x[idx]
        past = barycentric_images(here, x[cells[k - 1]]) if k > 0 else here
        future = barycentric_images(here, x[cells[k + 1]]) if k + 1 < len(cells) else here
        direction = future - past
        norm = np.linalg.norm(direction, axis=1, keepdims=True)
        # a cell whose images coincide has no direction: it scores 0, the snapshot's middle
        direction = np.divide(direction, norm, out=np.zeros_like(direction), where=norm > 0)
        progress[idx] = np.einsum("ij,ij->i", here - here.mean(axis=0), direction)
    return progress


def check_n_sub(t: np.ndarray, n_sub: int) -> np.ndarray:
    """Check that every snapshot of ``t`` can be split into ``n_sub`` sub-snapshots.

    Callers check before computing the couplings, which are the expensive part.

    Parameters
    ----------
    t
        Snapshot time of each cell ``(n,)``.
    n_sub
        Sub-snapshots per snapshot (:func:`refine_time_points`).

    Returns
    -------
    numpy.ndarray
        The distinct time points of ``t``, sorted, float64.

    Raises
    ------
    ValueError
        Unless ``n_sub`` is an integer >= 1, ``t`` has at least two distinct times and ``n_sub`` is at most
        the number of cells of the smallest snapshot.
    """
    if isinstance(n_sub, (bool, np.bool_)) or not isinstance(n_sub, (int, np.integer)) or n_sub < 1:
        raise ValueError(f"n_sub must be an integer >= 1, got {n_sub!r}")
    time_points, counts = np.unique(np.asarray(t, dtype=np.float64), return_counts=True)
    if len(time_points) < 2:
        raise ValueError("refining time points needs at least two time points")
    if n_sub > counts.min():
        raise ValueError(f"n_sub={n_sub} exceeds the number of cells of the smallest snapshot ({counts.min()})")
    return time_points


def refine_time_points(t: np.ndarray, progress: np.ndarray, n_sub: int) -> np.ndarray:
    """Split every snapshot into ``n_sub`` sub-snapshots of (nearly) equal size, ordered by ``progress``.

    The sub-snapshots of time point ``t_k`` get the times ``t_k + (j - (n_sub - 1) / 2) * delta``,
    ``j = 0 .. n_sub - 1``, with ``delta = min(gap to each neighbour) / n_sub``: centred on ``t_k``, evenly
    spaced, and strictly between the neighbouring snapshots' sub-snapshots (with equal gaps: a uniform grid of
    ``n_sub`` times as many points). Ties in ``progress`` keep the cells' order.

    Parameters
    ----------
    t
        Snapshot time of each cell ``(n,)``; at least two distinct times.
    progress
        Any score that orders the cells within a snapshot (:func:`snapshot_progress`).
    n_sub
        Sub-snapshots per snapshot (1 returns ``t`` unchanged); at most the size of the smallest snapshot.

    Returns
    -------
    numpy.ndarray
        Refined time of each cell ``(n,)``, float64.
    """
    t = np.asarray(t, dtype=np.float64)
    progress = np.asarray(progress, dtype=np.float64)
    if t.ndim != 1 or progress.shape != t.shape:
        raise ValueError(f"t and progress must be 1-D of the same length, got {t.shape} and {progress.shape}")
    time_points = check_n_sub(t, n_sub)
    gaps = np.diff(time_points)
    nearest = np.minimum(np.r_[gaps[0], gaps], np.r_[gaps, gaps[-1]])  # smallest gap beside each time point
    refined = np.empty_like(t)
    for tp, gap in zip(time_points, nearest):
        idx = np.flatnonzero(t == tp)
        rank = np.empty(len(idx))
        rank[np.argsort(progress[idx], kind="stable")] = np.arange(len(idx))
        sub = np.floor(rank * n_sub / len(idx))
        refined[idx] = tp + (sub - (n_sub - 1) / 2) * gap / n_sub
    return refined
