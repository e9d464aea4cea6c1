"""Baseline predictions of a held-out time point from its two neighbours (AnnData-free).

Every baseline answers the question a fitted model answers in leave-one-out evaluation: given the cells
``x_prev`` observed at ``t_prev`` and ``x_next`` at ``t_next``, what do the cells at ``t`` (between them)
look like? They use nothing but the two neighbouring snapshots, so a model that does not beat them has not
learned anything about the dynamics that the geometry of the two snapshots does not already say.

- :func:`previous_snapshot`, :func:`next_snapshot`: no motion at all.
- :func:`random_pair_interpolation`: straight lines between randomly paired cells (the independent
  coupling; what flow matching without OT would do).
- :func:`ot_interpolation`: McCann's displacement interpolation along exact optimal-transport pairs
  (squared-Euclidean cost), the W2 geodesic between the two snapshots. The strongest of the four, and the
  one the learned peers do not beat on average (see ``../shared/benchmarks/peers.md``).
- :func:`entropic_ot_interpolation`: the same along pairs drawn from an entropic plan (cellbridge's own
  Sinkhorn): what moscot's interpolation of a temporal problem does.
- :func:`unbalanced_ot_interpolation`: pairs from a source-relaxed entropic plan (mass created or lost at
  the earlier snapshot, as growth does), each pair weighted by its source's growth up to ``s``: the
  geometry a growth model must beat.

All take ``(x_prev, x_next, s, rng)`` with ``s = (t - t_prev) / (t_next - t_prev)`` in ``[0, 1]`` and return
the predicted cells as a float64 array; :data:`BASELINES` maps their names to them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from scipy.spatial.distance import cdist

from .._utils import RNGLike, as_numpy_rng
from ..ot.exact import exact_plan

__all__ = [
    "ALL_BASELINES",
    "BASELINES",
    "previous_snapshot",
    "next_snapshot",
    "random_pair_interpolation",
    "ot_interpolation",
    "entropic_ot_interpolation",
    "unbalanced_ot_interpolation",
    "equal_subsamples",
]

#: entropic regularisation of the entropic baselines, relative to the mean squared distance between the two
#: snapshots: about the Schrodinger-bridge value of cellbridge's default sigma in 5 PCA dimensions
#: (``eps = 2 sigma^2 Delta ~ mean cost / (16 d)``, :func:`cellbridge.normalization.default_sigma`)
DEFAULT_EPS_REL = 0.0125

#: Cells per side above which the pairing baselines subsample (exact OT is cubic in the cell count).
DEFAULT_MAX_CELLS = 2000


def _check(x_prev, x_next, s: float) -> tuple[np.ndarray, np.ndarray, float]:
    a = np.asarray(x_prev, dtype=np.float64)
    b = np.asarray(x_next, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"x_prev and x_next must be 2-D with the same number of columns, got {a.shape} and {b.shape}")
    if len(a) == 0 or len(b) == 0:
        raise ValueError("x_prev and x_next must each hold at least one cell")
    s = float(s)
    if not 0.0 <= s <= 1.0:
        raise ValueError(f"s (the position of the held-out time between its neighbours) must lie in [0, 1], got {s}")
    return a, b, s


def equal_subsamples(x_prev: np.ndarray, x_next: np.ndarray, max_cells: int | None, rng: np.random.Generator):
    """Subsample both sides, without replacement, to the same size ``min(n_prev, n_next, max_cells)``.

    With equal sizes and uniform weights an optimal plan is a permutation (Birkhoff), so every predicted
    cell comes from exactly one pair.
    """
    m = min(len(x_prev), len(x_next))
    if max_cells is not None:
        m = min(m, int(max_cells))
    i = np.sort(rng.choice(len(x_prev), size=m, replace=False))
    j = np.sort(rng.choice(len(x_next), size=m, replace=False))
    return x_prev[i], x_next[j]


def previous_snapshot(x_prev, x_next, s: float, rng: RNGLike = 0) -> np.ndarray:
    """The cells of the previous time point, unchanged."""
    a, _, _ = _check(x_prev, x_next, s)
    return a.copy()


def next_snapshot(x_prev, x_next, s: float, rng: RNGLike = 0) -> np.ndarray:
    """The cells of the next time point, unchanged."""
    _, b, _ = _check(x_prev, x_next, s)
    return b.copy()


def random_pair_interpolation(x_prev, x_next, s: float, rng: RNGLike = 0, *, max_cells: int | None = DEFAULT_MAX_CELLS) -> np.ndarray:
    """``(1 - s) x_i + s y_j`` over random pairs: equal subsamples of both sides, paired at random."""
    a, b, s = _check(x_prev, x_next, s)
    gen = as_numpy_rng(rng)
    a, b = equal_subsamples(a, b, max_cells, gen)
    b = b[gen.permutation(len(b))]
    return (1.0 - s) * a + s * b


def ot_interpolation(x_prev, x_next, s: float, rng: RNGLike = 0, *, max_cells: int | None = DEFAULT_MAX_CELLS) -> np.ndarray:
    r"""McCann interpolation ``(1 - s) x_i + s y_{\pi(i)}`` along exact OT pairs (squared-Euclidean cost).

    Equal subsamples of both sides (at most ``max_cells``) are matched by POT's network simplex; the plan
    of two uniform clouds of equal size is a permutation :math:`\pi`, and the interpolated cloud is the
    W2 geodesic between the subsampled snapshots at fraction ``s``.
    """
    a, b, s = _check(x_prev, x_next, s)
    a, b = equal_subsamples(a, b, max_cells, as_numpy_rng(rng))
    plan = exact_plan(torch.from_numpy(cdist(a, b, "sqeuclidean"))).numpy()
    # a permutation up to the solver's tolerance: take each row's mass-carrying column
    j = plan.argmax(axis=1)
    return (1.0 - s) * a + s * b[j]


def _plan_pairs(a: np.ndarray, b: np.ndarray, s: float, rng: np.random.Generator, eps_rel: float,
                tau: float | None) -> np.ndarray:
    """Cells ``(1 - s) x_i + s y_j`` for ``len(a)`` pairs drawn from an entropic (optionally source-relaxed)
    plan; with ``tau`` each pair is drawn with the weight its source has at ``s``, ``g_i^s`` of the mass
    ``g_i`` (row sum over the source's share) the plan gives it at the end."""
    from ..ot.sinkhorn import sinkhorn

    cost = torch.from_numpy(cdist(a, b, "sqeuclidean"))
    eps = eps_rel * float(cost.mean())
    reg = None if tau is None else (eps * tau / (1 - tau), None)
    plan = sinkhorn(cost, eps=eps, reg_m=reg, tol=1e-6, max_iter=20_000).plan.numpy()
    if tau is not None:  # pairs of the plan carry g_i at the end; at s they carry g_i^s: reweight by g_i^(s - 1)
        growth = plan.sum(axis=1) * len(a)
        plan = plan * np.power(np.maximum(growth, 1e-300), s - 1.0)[:, None]
    p = plan.ravel() / plan.sum()
    k = rng.choice(p.size, size=len(a), replace=True, p=p)
    i, j = np.divmod(k, plan.shape[1])
    return (1.0 - s) * a[i] + s * b[j]


def entropic_ot_interpolation(x_prev, x_next, s: float, rng: RNGLike = 0, *, max_cells: int | None = DEFAULT_MAX_CELLS,
                              eps_rel: float = DEFAULT_EPS_REL) -> np.ndarray:
    """``(1 - s) x_i + s y_j`` over pairs drawn from the balanced entropic OT plan of equal subsamples.

    ``eps_rel`` is the regularisation relative to the mean squared distance (default
    :data:`DEFAULT_EPS_REL`).
    """
    a, b, s = _check(x_prev, x_next, s)
    gen = as_numpy_rng(rng)
    a, b = equal_subsamples(a, b, max_cells, gen)
    return _plan_pairs(a, b, s, gen, eps_rel, None)


def unbalanced_ot_interpolation(x_prev, x_next, s: float, rng: RNGLike = 0, *,
                                max_cells: int | None = DEFAULT_MAX_CELLS, eps_rel: float = DEFAULT_EPS_REL,
                                tau: float | None = None) -> np.ndarray:
    """Interpolation along a source-relaxed entropic plan (moscot's ``tau_a = tau``, ``tau_b = 1``).

    Mass is created or destroyed at ``x_prev``; each source ends with mass ``g_i`` (its row sum over its
    share), and the predicted cells at ``s`` are drawn from the plan's pairs weighted by ``g_i^s``, the
    mass of exponential growth at the fraction ``s``. ``tau`` defaults to the growth model's
    (:data:`cellbridge.methods.growth.DEFAULT_TAU`).
    """
    from ..methods.growth import DEFAULT_TAU

    a, b, s = _check(x_prev, x_next, s)
    gen = as_numpy_rng(rng)
    a, b = equal_subsamples(a, b, max_cells, gen)
    return _plan_pairs(a, b, s, gen, eps_rel, DEFAULT_TAU if tau is None else tau)


#: Name -> baseline, in the order plots and tables show them.
BASELINES: dict[str, Callable[..., np.ndarray]] = {
    "previous": previous_snapshot,
    "next": next_snapshot,
    "random_pairs": random_pair_interpolation,
    "ot_interpolation": ot_interpolation,
}

#: Every baseline leave-one-out can be asked for by name: :data:`BASELINES` (its default set) and the
#: entropic and unbalanced OT interpolations, which need Sinkhorn on every held-out pair of snapshots
#: and are asked for explicitly (``baselines=[..., "unbalanced_ot_interpolation"]``).
ALL_BASELINES: dict[str, Callable[..., np.ndarray]] = {
    **BASELINES,
    "entropic_ot_interpolation": entropic_ot_interpolation,
    "unbalanced_ot_interpolation": unbalanced_ot_interpolation,
}
