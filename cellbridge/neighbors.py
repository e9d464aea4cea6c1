"""Assigning simulated states to observed cells: the one kNN rule behind transition matrices, fates,
push / pull and trajectories drawn on an embedding.

A simulated state rarely coincides with an observed cell. :func:`assign_to_cells` spreads each state over
its ``n_neighbors`` nearest observed cells (Euclidean, in the representation the model was fitted in) with
Gaussian weights, so that sums over many simulated states become distributions over observed cells. The
bandwidth defaults to the typical spacing of the observed cells (the median distance from a cell to its
nearest other cell), so that the result does not depend on the units of the representation: a state that
lands on a cell gives it the largest weight, and shares its mass with the cells within about one spacing
(in a few dimensions those are several, so the cell keeps only a fraction of the mass; pass
``n_neighbors=1`` to put all of it on the nearest cell).
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp
from sklearn.neighbors import NearestNeighbors

__all__ = ["assign_to_cells", "CellAssigner", "cell_spacing", "DEFAULT_NEIGHBORS"]

#: default number of observed cells a simulated state is spread over; its weights are Gaussian in the
#: distance, so beyond a few cell spacings they are negligible and the exact value matters little
DEFAULT_NEIGHBORS = 15


def _check_points(value, name: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a 2-D array of numbers, got {type(value).__name__}") from None
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array (points x dimensions), got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} holds NaN or infinite values")
    return arr


def cell_spacing(reference: np.ndarray) -> float:
    """Median distance from an observed cell to its nearest other cell: the default Gaussian bandwidth of
    :func:`assign_to_cells` (positive; with duplicated cells the median over non-zero distances)."""
    ref = _check_points(reference, "reference")
    if len(ref) < 2:
        return 1.0
    dist, _ = NearestNeighbors(n_neighbors=2).fit(ref).kneighbors(ref)
    nearest = dist[:, 1]
    positive = nearest[nearest > 0]
    return float(np.median(positive)) if positive.size else 1.0


class CellAssigner:
    """:func:`assign_to_cells` against one fixed set of observed cells, its neighbour index built once.

    For callers that assign many batches of states to the same cells (transition matrices, fates): building
    the index over 100,000 cells for every batch costs more than the assignment.

    Parameters
    ----------
    reference
        Observed cells ``(n_cells, d)``.
    n_neighbors
        Observed cells each state is spread over (at most ``n_cells``).
    bandwidth
        Standard deviation of the Gaussian weights; default :func:`cell_spacing` of ``reference``.
    """

    def __init__(self, reference: np.ndarray, *, n_neighbors: int = DEFAULT_NEIGHBORS, bandwidth: float | None = None):
        ref = _check_points(reference, "reference")
        if (isinstance(n_neighbors, (bool, np.bool_)) or not isinstance(n_neighbors, numbers.Integral)
                or n_neighbors < 1):
            raise ValueError(f"n_neighbors must be a positive integer, got {n_neighbors!r}")
        if bandwidth is None:
            bandwidth = cell_spacing(ref)
        elif (isinstance(bandwidth, (bool, np.bool_)) or not isinstance(bandwidth, numbers.Real)
              or not np.isfinite(bandwidth) or bandwidth <= 0):
            raise ValueError(f"bandwidth must be a positive number or None, got {bandwidth!r}")
        self.n_cells, self.dim = ref.shape
        self.n_neighbors = int(min(n_neighbors, len(ref)))
        self.bandwidth = float(bandwidth)
        self._index = NearestNeighbors(n_neighbors=self.n_neighbors).fit(ref)

    def assign(self, states: np.ndarray) -> sp.csr_matrix:
        """The ``(n_states, n_cells)`` row-stochastic weights of :func:`assign_to_cells`."""
        q = _check_points(states, "states")
        if q.shape[1] != self.dim:
            raise ValueError(f"states have {q.shape[1]} dimensions, the reference cells {self.dim}")
        k = self.n_neighbors
        dist, idx = self._index.kneighbors(q)
        w = np.exp(-(dist**2 - dist[:, :1] ** 2) / (2.0 * self.bandwidth**2))
        w /= w.sum(axis=1, keepdims=True)
        rows = np.repeat(np.arange(len(q)), k)
        return sp.csr_matrix((w.ravel(), (rows, idx.ravel())), shape=(len(q), self.n_cells))


def assign_to_cells(
    reference: np.ndarray,
    states: np.ndarray,
    *,
    n_neighbors: int = DEFAULT_NEIGHBORS,
    bandwidth: float | None = None,
) -> sp.csr_matrix:
    r"""Spread each simulated state over its nearest observed cells.

    Parameters
    ----------
    reference
        Observed cells ``(n_cells, d)``.
    states
        Simulated states ``(n_states, d)`` in the same representation.
    n_neighbors
        Observed cells each state is spread over (at most ``n_cells``).
    bandwidth
        Standard deviation ``h`` of the Gaussian weights; default :func:`cell_spacing` of ``reference``.

    Returns
    -------
    scipy.sparse.csr_matrix
        ``(n_states, n_cells)``, row-stochastic, ``n_neighbors`` non-zeros per row: state ``q`` gives cell
        ``j`` among its ``k`` nearest the weight :math:`w_{qj} \propto \exp(-(d_{qj}^2 - d_{q1}^2) / 2h^2)`,
        ``d_{q1}`` being its distance to the nearest cell (subtracted so that a state far from every cell
        still gets finite weights rather than zeros over zero).

    Raises
    ------
    ValueError
        Arrays that are not 2-D and finite, or of different dimensions; ``n_neighbors`` not a positive
        integer; ``bandwidth`` not a positive number.
    """
    ref = _check_points(reference, "reference")
    q = _check_points(states, "states")
    if q.shape[1] != ref.shape[1]:
        raise ValueError(f"states have {q.shape[1]} dimensions, the reference cells {ref.shape[1]}")
    return CellAssigner(ref, n_neighbors=n_neighbors, bandwidth=bandwidth).assign(q)
