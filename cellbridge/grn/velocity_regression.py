r"""A gene regulatory network from OT-matched velocities on refined time points (AnnData-free).

The model-free route of :func:`cellbridge.tl.grn`. It fits linear dynamics :math:`v = A x + b` to the
velocities that exact OT between consecutive time points assigns to the cells
(:func:`cellbridge.ot.velocity.ot_velocities`) and reads the network from :math:`A`: gene :math:`j`
regulates gene :math:`i` where :math:`A_{ij} \neq 0`, activating where :math:`A_{ij} > 0`. :math:`A` is the
Jacobian of the fitted linear drift, so the edge table has the same meaning as a model's.

Three choices, each measured on the BEELINE BoolODE networks binned into 5 snapshots and checked on ten
networks simulated by :func:`cellbridge.datasets.simulate_boolode` (``benchmarks/results/grn.md``):

1. **Finer time points.** Coarse snapshots mix early and late cells, so a velocity between two of them
   averages over a long stretch of each trajectory. Each snapshot is first split into ``n`` sub-snapshots
   by each cell's progress along its OT direction of motion (:mod:`cellbridge.ot.progress`); the velocities
   are then matched between consecutive sub-snapshots.
2. **Several resolutions.** More sub-snapshots resolve time better but leave fewer cells per coupling; the
   scores are averaged over ``n`` in ``n_sub`` (default 3, 4, 5 and 6 per snapshot), which ranked edges
   better than any single ``n``.
3. **Scores on a common scale per target.** Targets differ in how fast they move and how well a linear
   model fits them, so raw coefficients do not rank edges across targets. The regression runs on
   standardised genes (a coefficient is the velocity change per standard deviation of the regulator) and
   each target's coefficients are divided by its largest one: every target's strongest candidate regulator
   scores 1. That is a prior that every target has a regulator, true of the networks this is meant for.

The regression is a ridge regression (:class:`sklearn.linear_model.RidgeCV`, one penalty for all targets
chosen by leave-one-out error), deterministic given the data.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .._logging import logger
from ..ot.progress import check_n_sub, refine_time_points, snapshot_progress
from ..ot.velocity import ot_velocities, snapshots
from .readout import NetworkReadout, pca_to_genes

__all__ = ["DEFAULT_N_SUB", "MIN_GROUP_CELLS", "velocity_coefficients", "velocity_network"]

#: sub-snapshots per snapshot, averaged over (module notes, point 2)
DEFAULT_N_SUB = (3, 4, 5, 6)
#: a group needs this many cells for its own regression
MIN_GROUP_CELLS = 10
_ALPHAS = np.logspace(-3, 3, 13)
SCORE_KIND = "ot_velocity"


def velocity_coefficients(x: np.ndarray, v: np.ndarray, alphas: Sequence[float] = _ALPHAS) -> np.ndarray:
    r"""Ridge regression of velocities on standardised expression: :math:`A_{ij}` per standard deviation.

    Parameters
    ----------
    x
        Cells ``(n, d)``.
    v
        Their velocities ``(n, d_out)``.
    alphas
        Ridge penalties to choose from by leave-one-out error (one for all outputs).

    Returns
    -------
    numpy.ndarray
        ``(d_out, d)``: the change of velocity :math:`i` per standard deviation of gene :math:`j`
        (0 for a constant gene). Divide by the standard deviations for :math:`A` in units of ``x``.
    """
    from sklearn.linear_model import RidgeCV

    x = np.asarray(x, dtype=np.float64)
    sd = x.std(axis=0)
    z = (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    coef = RidgeCV(alphas=np.asarray(alphas, dtype=np.float64)).fit(z, v).coef_
    return np.where(sd > 0, coef.reshape(v.shape[1], x.shape[1]), 0.0)


def _per_target_scale(coef: np.ndarray) -> np.ndarray:
    """|coef| (square) without self-loops, each row (target) divided by its largest entry (rows of zeros stay 0)."""
    s = np.abs(coef)
    np.fill_diagonal(s, 0.0)
    top = s.max(axis=1, keepdims=True)
    return np.divide(s, top, out=np.zeros_like(s), where=top > 0)


def _check_resolutions(t: np.ndarray, n_sub) -> tuple[int, ...]:
    values = (n_sub,) if isinstance(n_sub, (int, np.integer)) else tuple(n_sub)
    if not values:
        raise ValueError("n_sub must name at least one number of sub-snapshots")
    for n in values:
        check_n_sub(t, n)
    return tuple(int(n) for n in values)


def velocity_network(
    x: np.ndarray,
    t: np.ndarray,
    *,
    n_sub: int | Sequence[int] = DEFAULT_N_SUB,
    groups: np.ndarray | None = None,
    loadings: np.ndarray | None = None,
) -> NetworkReadout:
    r"""Edge scores and signs from OT-matched velocities on refined time points (see the module notes).

    Parameters
    ----------
    x
        Cells ``(n, d)``: genes (log expression), or PCs with ``loadings``.
    t
        Snapshot time of each cell ``(n,)``; at least two distinct times.
    n_sub
        Sub-snapshots per snapshot: one number, or several whose scores are averaged (1: the snapshots
        themselves). Each must be at most the number of cells of the smallest snapshot.
    groups
        Optional label per cell (a cluster, a time bin): each group with at least :data:`MIN_GROUP_CELLS`
        cells gets its own regression on its cells' velocities (the velocities always come from all cells).
    loadings
        PCA loadings :math:`Q` (genes x PCs) when ``x`` holds PCs: the coefficient matrix is mapped to genes
        as :math:`Q A Q^T` (:func:`~cellbridge.grn.readout.pca_to_genes`), and the per-target scaling applied
        there.

    Returns
    -------
    NetworkReadout
        ``scores`` (``[regulator, target]``, in [0, 1], mean over the resolutions of the per-target scaled
        :math:`|A|`), ``signs`` (of the mean :math:`A`), ``mean_jacobian`` (the mean :math:`A` in units of
        ``x`` per time unit, ``[target, regulator]``), ``score_kind`` ``"ot_velocity"`` and ``n_cells``.
    """
    x, _, _ = snapshots(x, t, "a network from OT velocities")
    t = np.asarray(t, dtype=np.float64)
    resolutions = _check_resolutions(t, n_sub)
    labels = None if groups is None else np.asarray(groups, dtype=object)
    if labels is not None and labels.shape != t.shape:
        raise ValueError(f"groups must have one label per cell ({len(t)}), got {labels.shape}")
    if loadings is not None:
        loadings = np.asarray(loadings, dtype=np.float64)
        if loadings.ndim != 2 or loadings.shape[1] != x.shape[1]:
            raise ValueError(f"loadings must be (genes, {x.shape[1]}), got {loadings.shape}")

    members = {"all": np.ones(len(t), dtype=bool)}
    if labels is not None:
        for g in dict.fromkeys(lab for lab in labels.tolist() if lab is not None):
            mask = labels == g
            if mask.sum() < MIN_GROUP_CELLS:
                logger.warning(f"group {g!r} has {int(mask.sum())} cells (fewer than {MIN_GROUP_CELLS}): no network")
                continue
            members[g] = mask

    progress = snapshot_progress(x, t) if any(n > 1 for n in resolutions) else None
    if loadings is not None:  # spread of each gene in the PCA reconstruction (the PCs are uncorrelated)
        gene_sd = np.sqrt(np.clip((loadings**2) @ x.var(axis=0), 0.0, None))
    scaled = {g: [] for g in members}
    raw = {g: [] for g in members}
    for n in resolutions:
        v = ot_velocities(x, refine_time_points(t, progress, n) if n > 1 else t)
        for g, mask in members.items():
            a_std = velocity_coefficients(x[mask], v[mask])  # per sd of the group's cells
            sd_g = x[mask].std(axis=0)
            a = a_std * np.divide(1.0, sd_g, out=np.zeros_like(sd_g), where=sd_g > 0)  # units of x
            if loadings is not None:
                a = pca_to_genes(a, loadings)
                a_std = a * gene_sd  # per sd of the regulator gene, as in gene space
            raw[g].append(a)
            scaled[g].append(_per_target_scale(a_std))
    scores, signs, means, kinds, counts = {}, {}, {}, {}, {}
    for g in members:
        a = np.mean(raw[g], axis=0)
        s = np.mean(scaled[g], axis=0).T
        sg = np.sign(a).T.astype(np.int8)
        np.fill_diagonal(sg, 0)
        scores[g], signs[g], means[g] = s, sg, a
        kinds[g], counts[g] = SCORE_KIND, int(members[g].sum())
    return NetworkReadout(scores=scores, signs=signs, mean_jacobian=means, score_kind=kinds, n_cells=counts)
