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
   It ties every target's top regulator at 1, so the readout also keeps the unscaled magnitudes
   (``raw_scores``: the mean :math:`|A_{ij}|` per standard deviation of the regulator), by which
   :func:`cellbridge.tl.grn` breaks ties.

The regression is a ridge regression (:class:`sklearn.linear_model.RidgeCV`, one penalty for all targets
chosen by leave-one-out error), deterministic given the data.

A list of candidate regulators (transcription factors, say) restricts the regression's inputs to them and
its outputs to the chosen targets: ridge regressions on ``n_regulators`` columns instead of every gene,
which is what makes a genome-scale network with a TF list cheap (``benchmarks/results/grn_scale.md``).
Each target's own level stays an input of its regression (:func:`velocity_coefficients_with_own_level`,
the same penalty choice): its degradation is much of its velocity, and leaving it out biases every
coefficient (on the 500-gene, 20-TF linear system of ``tests/grn/test_genome_scale.py``, the true
regulators among each target's top 5 fall from 97% to 38% without it). The own level is never an edge. The
OT couplings, and so the velocities, still use every gene.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .._logging import logger
from ..ot.progress import check_n_sub, refine_time_points, snapshot_progress
from ..ot.velocity import ot_velocities, snapshots
from .readout import NetworkReadout, pca_to_genes, scale_per_target

__all__ = ["DEFAULT_N_SUB", "MIN_GROUP_CELLS", "velocity_coefficients", "velocity_coefficients_with_own_level",
           "velocity_network"]

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


def _standardised(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    sd = x.std(axis=0)
    return (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0), sd


def velocity_coefficients_with_own_level(
    x: np.ndarray,
    own: np.ndarray,
    v: np.ndarray,
    *,
    own_is_input: np.ndarray | None = None,
    alphas: Sequence[float] = _ALPHAS,
    alpha_targets: int = 256,
    chunk: int = 256,
) -> np.ndarray:
    r"""Ridge regressions of each target's velocity on standardised regulators and on its own level.

    Target :math:`i`'s velocity is regressed on the regulators :math:`z` and its own standardised level
    :math:`z_i` (unless it is a regulator itself): :math:`v_i = \sum_j A_{ij} z_j + c_i z_i + b_i`. All
    targets share the regulators' Gram matrix, so the solutions come from one ``n_regulators`` square
    inverse per penalty and a rank-one correction per target (block inversion), and the leave-one-out
    errors from the exact hat matrix of each target's design; the penalty (one for all targets, as in
    :func:`velocity_coefficients`) minimises their mean, as :class:`sklearn.linear_model.RidgeCV` does,
    over at most ``alpha_targets`` evenly spaced targets (every target when there are fewer): one number
    needs no more, and it keeps the cost of the search independent of the number of targets.

    Parameters
    ----------
    x
        The regulators' expression ``(n, n_regulators)``.
    own
        Each target's expression ``(n, n_targets)``.
    v
        The targets' velocities ``(n, n_targets)``.
    own_is_input
        Boolean ``(n_targets,)``: the target is among the regulators (its level is already an input).
    alphas
        Ridge penalties to choose from.
    alpha_targets
        At most this many targets score each penalty.
    chunk
        Targets per block of the leave-one-out errors (temporaries of ``n x chunk``).

    Returns
    -------
    numpy.ndarray
        ``(n_targets, n_regulators)``: the change of target :math:`i`'s velocity per standard deviation of
        regulator :math:`j` (0 for a constant regulator); the own-level coefficients are not returned.
    """
    z, sd = _standardised(np.asarray(x, dtype=np.float64))
    own = np.asarray(own)
    v = np.asarray(v)
    n, n_reg = z.shape
    n_tgt = v.shape[1]
    if own.shape != v.shape or len(z) != len(v):
        raise ValueError(f"own levels {own.shape} and velocities {v.shape} must be cells x targets, for {n} cells")
    inside = np.zeros(n_tgt, dtype=bool) if own_is_input is None else np.asarray(own_is_input, dtype=bool)
    blocks = [slice(k, k + chunk) for k in range(0, n_tgt, chunk)]

    def block(sl) -> tuple[np.ndarray, np.ndarray]:
        """Standardised own levels (0 for a target that is a regulator: no second copy of its level) and
        centred velocities of a block of targets: never all targets at once (each is cells x targets)."""
        zs, _ = _standardised(np.asarray(own[:, sl], dtype=np.float64))
        zs[:, inside[sl]] = 0.0
        vb = np.asarray(v[:, sl], dtype=np.float64)
        return zs, vb - vb.mean(axis=0)

    gram = z.T @ z
    c, g = np.empty((n_reg, n_tgt)), np.empty((n_reg, n_tgt))
    dz, hv = np.empty(n_tgt), np.empty(n_tgt)
    for sl in blocks:
        zs, vc = block(sl)
        c[:, sl], g[:, sl] = z.T @ zs, z.T @ vc
        dz[sl], hv[sl] = np.einsum("nt,nt->t", zs, zs), np.einsum("nt,nt->t", zs, vc)

    def solve(alpha: float, cols) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Coefficients (R, T'), own-level coefficients, the inverse and its product with c, for targets ``cols``."""
        inv = np.linalg.inv(gram + alpha * np.eye(n_reg))
        inv_c, inv_g = inv @ c[:, cols], inv @ g[:, cols]
        schur = dz[cols] + alpha - np.einsum("rt,rt->t", c[:, cols], inv_c)
        c_own = np.where(inside[cols], 0.0, (hv[cols] - np.einsum("rt,rt->t", c[:, cols], inv_g)) / schur)
        return inv_g - inv_c * c_own, c_own, inv, (inv_c, schur)

    # the penalty: the mean leave-one-out error over at most alpha_targets evenly spaced targets
    chosen = np.unique(np.linspace(0, n_tgt - 1, min(n_tgt, int(alpha_targets))).round().astype(np.int64))
    scored = [chosen[k:k + chunk] for k in range(0, len(chosen), chunk)]
    cache = [block(cols) for cols in scored] if len(chosen) <= chunk else None
    best = None
    for alpha in np.asarray(alphas, dtype=np.float64):
        err = 0.0
        for b, cols in enumerate(scored):
            coef, c_own, inv, (inv_c, schur) = solve(alpha, cols)
            hat_z = ((z @ inv) * z).sum(axis=1) + 1.0 / n  # the unpenalised intercept adds 1/n
            zs, vc = cache[b] if cache is not None else block(cols)
            resid = vc - z @ coef - zs * c_own
            u = zs - z @ inv_c
            hat = hat_z[:, None] + np.where(inside[cols], 0.0, u * u / schur)
            err += float(np.sum((resid / (1.0 - hat)) ** 2))
        if best is None or err < best[0]:
            best = (err, alpha)
    best = (best[0], solve(best[1], slice(None))[0])
    return np.where(sd > 0, best[1].T, 0.0)


def _per_target_scale(coef: np.ndarray, self_loops: np.ndarray | None = None) -> np.ndarray:
    """|coef| (targets x regulators) without self-loops, each row (target) divided by its largest entry (rows
    of zeros stay 0). ``self_loops``: the entries that pair a gene with itself (default: the diagonal)."""
    return scale_per_target(_unscaled(coef, self_loops).T).T


def _unscaled(coef: np.ndarray, self_loops: np.ndarray | None = None) -> np.ndarray:
    """|coef| with the self-loops (default: the diagonal) set to 0."""
    s = np.abs(coef)
    if self_loops is None:
        np.fill_diagonal(s, 0.0)
    else:
        s[self_loops] = 0.0
    return s


def _indices(chosen: np.ndarray | None, d: int, what: str) -> np.ndarray | None:
    """Positions of the chosen genes (a boolean mask or positions), None for all of them."""
    if chosen is None:
        return None
    chosen = np.asarray(chosen)
    idx = np.flatnonzero(chosen) if chosen.dtype == bool else chosen.astype(np.int64).reshape(-1)
    if chosen.dtype == bool and len(chosen) != d:
        raise ValueError(f"{what} must be a mask over the {d} genes, got {len(chosen)} entries")
    if len(idx) == 0:
        raise ValueError(f"no {what} chosen")
    if idx.min() < 0 or idx.max() >= d or len(np.unique(idx)) != len(idx):
        raise ValueError(f"{what} must be distinct gene positions in [0, {d})")
    return None if len(idx) == d and np.array_equal(idx, np.arange(d)) else np.sort(idx)


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
    regulators: np.ndarray | None = None,
    targets: np.ndarray | None = None,
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
    regulators, targets
        Candidate regulators and targets: a boolean mask over the genes or their positions (None: every
        gene). In gene space the regression uses only the regulators' columns, and each target's own
        level, as inputs and the targets' velocities as outputs
        (:func:`velocity_coefficients_with_own_level`; the penalty is chosen over the chosen targets);
        with ``loadings`` the regression stays in PCA space and the gene-space
        coefficients are restricted afterwards. Each target's scores are scaled by its largest coefficient
        among the chosen regulators. Entries outside the chosen pairs are 0 in every matrix.

    Returns
    -------
    NetworkReadout
        ``scores`` (``[regulator, target]``, in [0, 1], mean over the resolutions of the per-target scaled
        :math:`|A|`), ``raw_scores`` (the same without the scaling: the mean :math:`|A|` per standard
        deviation of the regulator, which breaks the ties of ``scores``), ``signs`` (of the mean :math:`A`),
        ``mean_jacobian`` (the mean :math:`A` in units of ``x`` per time unit, ``[target, regulator]``),
        ``score_kind`` ``"ot_velocity"`` and ``n_cells``.
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

    n_genes = x.shape[1] if loadings is None else len(loadings)
    reg = _indices(regulators, n_genes, "regulators")
    tgt = _indices(targets, n_genes, "targets")
    rows = np.arange(n_genes) if tgt is None else tgt  # targets: rows of A
    cols = np.arange(n_genes) if reg is None else reg  # regulators: columns of A
    # entries of the (targets x regulators) block that pair a gene with itself (None: the diagonal)
    self_loops = None if reg is None and tgt is None else rows[:, None] == cols[None, :]
    if loadings is None and reg is not None:
        logger.info(f"ridge regressions of {len(rows)} targets on {len(cols)} regulators and their own levels")

    progress = snapshot_progress(x, t) if any(n > 1 for n in resolutions) else None
    if loadings is not None:  # spread of each gene in the PCA reconstruction (the PCs are uncorrelated)
        gene_sd = np.sqrt(np.clip((loadings**2) @ x.var(axis=0), 0.0, None))
    # running sums over the resolutions (the same numbers as the mean of a list, in less memory)
    sums = {g: {"a": None, "scaled": None, "raw": None} for g in members}
    for n in resolutions:
        v = ot_velocities(x, refine_time_points(t, progress, n) if n > 1 else t)
        for g, mask in members.items():
            if loadings is None:
                xg = _cells(x, mask, reg)
                vg = _cells(v, mask, tgt)
                if reg is None:  # every gene is an input, each target's own level among them
                    a_std = velocity_coefficients(xg, vg)
                else:
                    a_std = velocity_coefficients_with_own_level(xg, _cells(x, mask, tgt), vg,
                                                                 own_is_input=np.isin(rows, cols))
                sd_g = xg.std(axis=0)  # per sd of the group's cells
                a = a_std * np.divide(1.0, sd_g, out=np.zeros_like(sd_g), where=sd_g > 0)  # units of x
            else:
                a_std = velocity_coefficients(x[mask], v[mask])
                sd_g = x[mask].std(axis=0)
                a = pca_to_genes(a_std * np.divide(1.0, sd_g, out=np.zeros_like(sd_g), where=sd_g > 0), loadings)
                a_std = a * gene_sd  # per sd of the regulator gene, as in gene space
                if self_loops is not None:
                    a, a_std = a[np.ix_(rows, cols)], a_std[np.ix_(rows, cols)]
            for name, value in (("a", a), ("scaled", _per_target_scale(a_std, self_loops)),
                                ("raw", _unscaled(a_std, self_loops))):
                if sums[g][name] is None:
                    sums[g][name] = value.copy()
                else:
                    sums[g][name] += value
    scores, raw_scores, signs, means, kinds, counts = {}, {}, {}, {}, {}, {}
    k = float(len(resolutions))
    for g in members:
        a = _embed(sums[g]["a"] / k, rows, cols, n_genes, self_loops)
        s = _embed(sums[g]["scaled"] / k, rows, cols, n_genes, self_loops).T
        sg = np.sign(a).T.astype(np.int8)
        np.fill_diagonal(sg, 0)
        scores[g], signs[g], means[g] = s, sg, a
        raw_scores[g] = _embed(sums[g]["raw"] / k, rows, cols, n_genes, self_loops).T
        kinds[g], counts[g] = SCORE_KIND, int(members[g].sum())
    return NetworkReadout(scores=scores, signs=signs, mean_jacobian=means, score_kind=kinds, n_cells=counts,
                          raw_scores=raw_scores)


def _cells(a: np.ndarray, mask: np.ndarray, columns: np.ndarray | None) -> np.ndarray:
    """The rows of ``mask`` and the chosen columns of ``a``, without a copy when that is all of it."""
    if mask.all():
        return a if columns is None else a[:, columns]
    return a[mask] if columns is None else a[np.ix_(mask, columns)]


def _embed(block: np.ndarray, rows: np.ndarray, cols: np.ndarray, n: int, self_loops) -> np.ndarray:
    """A (targets x regulators) block in an ``(n, n)`` matrix of zeros (the block itself when it is all of it)."""
    if self_loops is None:
        return block
    out = np.zeros((n, n), dtype=block.dtype)
    out[np.ix_(rows, cols)] = block
    return out
