r"""The gene regulatory network of a time course, read from a fitted model's drift or from OT-matched velocities.

AnnData-free: :func:`infer_network` takes the cells, their times and the gene names as arrays;
:func:`cellbridge.tl.grn` reads them from an AnnData, calls it and writes the result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._logging import logger
from .._utils import RNGLike, as_numpy_rng
from ..model import CellBridgeModel
from ..nn import NGMDrift
from ._docstrings import document
from .edges import _by_score, _entries
from .readout import SCORE_KINDS, TARGET_SCALES, NetworkReadout, jacobian_signs, read_network, scale_targets
from .velocity_regression import DEFAULT_N_SUB, velocity_network

__all__ = ["InferredNetwork", "infer_network"]

#: the group of the network read from every cell together
ALL_CELLS = "all"
#: where a network read without a model comes from (``InferredNetwork.network``)
OT_VELOCITY = "ot_velocity"

#: what the parameters shared by :func:`infer_network` and :func:`cellbridge.tl.grn` mean
PARAMETER_DOCS = {
    "model": """A fitted :class:`cellbridge.CellBridgeModel`; a list of them (an ensemble, e.g. fits with
        different seeds or ``velocity_n_sub``, on one representation and with one kind of drift): each model's
        scores are read, scaled across targets (``target_scale``) and averaged, signs from the averaged
        Jacobian; or None to read the network
        from OT-matched velocities.""",
    "target_scale": r"""With a model, how the overall scores are put on a common scale across targets (targets
        differ in how fast they move and how well the drift fits them, so raw Jacobians do not rank edges
        across targets; :func:`cellbridge.grn.readout.scale_targets`): ``"auto"`` (default: ``"sqrt"`` with a
        model, ``"max"`` without), ``"sqrt"``,
        :math:`S_{ij} / \sqrt{\max_k S_{kj} \max_{kl} S_{kl}}`, the geometric mean of the score relative to
        the target's strongest regulator and to the network's strongest edge; ``"max"``, each target's
        divided by its largest, as the model-free route does (every target's strongest regulator scores 1,
        a prior that every target has a regulator, which lifts the noise of unregulated targets to the top);
        None, unscaled. ``raw_score`` keeps the unscaled scores, which break ties. Group networks
        (``groupby``, ``time_bins``) are never scaled: their contribution scores compare across groups, and a
        target with no active regulator in a group must stay low there. Without a model the scores are
        always scaled per target (``"max"``).""",
    "regulators, targets": """Candidate regulator and target genes (default: every gene). ``regulators`` is
        typically a list of transcription factors, which the user supplies (nothing is downloaded): e.g.
        the 1,639 human TFs of Lambert et al., Cell 2018 (http://humantfs.ccbr.utoronto.ca), or
        AnimalTFDB 4 (https://guolab.wchscu.cn/AnimalTFDB4) for human, mouse and other animals; names not
        among the genes raise (keep the TFs of ``adata.var_names``:
        ``[g for g in tfs if g in adata.var_names]``). They restrict what is computed, not only what is
        shown: without a model the ridge regression uses only the regulators' expression as inputs and the
        targets' velocities as outputs (a smaller regression: what makes a genome-scale network cheap); with
        a model only those entries of its Jacobian are averaged. Only regulator rows get scores.""",
    "top_k": """Keep at most this many regulators per target in each group's edge table (the strongest by
        ``score``, ties broken by ``raw_score``, then by gene order); None keeps every candidate pair.""",
    "min_score": """Keep only edges with ``score >= min_score`` (None: no threshold). Scaled overall scores
        (the default, and always without a model) are in [0, 1]; without a model a fraction of the target's
        strongest regulator.""",
    "time_bins": """One network per time point (``True``), per equal-width bin (a number) or per bin between
        given edges (a sequence), in addition to the overall one. With cell groups as well, one per
        (group, bin).""",
    "n_sub": """Without a model: sub-snapshots per snapshot, one number or several whose scores are averaged
        (default 3, 4, 5 and 6; 1 uses the snapshots as they are). Each must be at most the smallest
        snapshot's size.""",
    "score": r"""With a model, overall scores: ``"auto"`` (:math:`\overline{|J|}` for an NGM in gene space,
        else :math:`|\bar J|`), ``"group_norm"``, ``"abs_mean_jacobian"``, ``"mean_abs_jacobian"`` or
        ``"mean_abs_contribution"`` (see :func:`cellbridge.grn.readout.read_network`).""",
    "group_score": r"""With a model, scores of each group (``groupby``, ``time_bins``): ``"auto"``
        (``"mean_abs_contribution"`` for an NGM in gene space, :math:`\overline{|J_{ij} (x_j - x_j^0)|}` over the
        group's cells with :math:`x_j^0` the regulator's lowest level: an edge acts in a group where its
        regulator is expressed there, which the Jacobian alone does not say; else :math:`|\bar J|`),
        ``"abs_mean_jacobian"``, ``"mean_abs_jacobian"`` or ``"mean_abs_contribution"`` (see
        :func:`cellbridge.grn.readout.read_network`).""",
    "n_cells": """Use at most this many cells, drawn at random (None: all): the Jacobian is averaged over
        them, or the OT couplings and regressions use only them.""",
    "rng": "Seed of that subsample.",
}


@dataclass
class InferredNetwork:
    r"""What :func:`infer_network` read.

    Attributes
    ----------
    edges
        The edge table: ``regulator`` and ``target`` (categorical, the categories every gene name in
        order), ``score``, ``sign`` (+1 / -1 / 0, of the mean Jacobian), ``jacobian`` (the mean
        :math:`\partial f_{target} / \partial x_{regulator}` in units of ``x`` per time unit; without a
        model the regression coefficient), ``raw_score`` (the score before the per-target scaling: without
        a model the mean :math:`|A|` per standard deviation of the regulator, with a model its unscaled
        score; the score itself where nothing is scaled), ``group`` (categorical: :data:`ALL_CELLS`, then the group labels), sorted by group,
        decreasing score and decreasing raw score; per group, the ``top_k`` candidate pairs (regulator !=
        target) of the chosen genes with ``score >= min_score`` of each target (every pair by default of
        :func:`infer_network`).
    scores
        The overall scores ``(genes, genes)`` ``[regulator, target]`` of every candidate pair, whatever
        ``top_k`` and ``min_score`` kept in the table (what a benchmark scores), 0 outside the chosen
        regulators and targets and on the diagonal.
    kept
        Boolean ``(genes, genes)``: the pairs of the overall network (group :data:`ALL_CELLS`) in the table.
    readout
        Every group's scores, signs, mean Jacobians, score kinds and numbers of cells.
    network
        The name of the model's drift network in ``model.networks`` (``"flow"``, say), or
        ``"ot_velocity"`` without a model.
    ngm
        Whether the drift is an :class:`~cellbridge.nn.NGMDrift`.
    n_cells
        The number of cells read.
    regulators, targets
        Boolean masks over the genes: the chosen regulators and targets.
    """

    edges: pd.DataFrame
    scores: np.ndarray
    kept: np.ndarray
    readout: NetworkReadout
    network: str
    ngm: bool
    n_cells: int
    regulators: np.ndarray
    targets: np.ndarray


def _time_groups(t: np.ndarray, time_bins, labels: Mapping[float, str]) -> np.ndarray:
    """A label per cell: its time point (``time_bins=True``) or its bin among equal-width or given edges."""
    if time_bins is True:
        return np.array([labels.get(float(v), f"{v:g}") for v in t], dtype=object)
    if isinstance(time_bins, (int, np.integer)) and not isinstance(time_bins, bool):
        if time_bins < 1:
            raise ValueError(f"time_bins must be positive, got {time_bins}")
        edges = np.linspace(t.min(), t.max(), int(time_bins) + 1)
    else:
        edges = np.asarray(time_bins, dtype=np.float64)
        if edges.ndim != 1 or len(edges) < 2 or np.any(np.diff(edges) <= 0):
            raise ValueError("time_bins must be True, a number of bins, or increasing bin edges")
    k = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, len(edges) - 2)
    out = np.array([f"[{edges[i]:g}, {edges[i + 1]:g}{']' if i == len(edges) - 2 else ')'}" for i in k], dtype=object)
    out[(t < edges[0]) | (t > edges[-1])] = None
    return out


def _select(names: pd.Index, chosen: Sequence[str] | None, what: str) -> np.ndarray:
    if chosen is None:
        return np.ones(len(names), dtype=bool)
    chosen = [chosen] if isinstance(chosen, str) else [str(c) for c in chosen]
    if not chosen:
        raise ValueError(f"{what} is empty: pass None for every gene, or at least one gene name")
    missing = list(dict.fromkeys(c for c in chosen if c not in names))
    if missing:
        raise ValueError(
            f"{len(missing)} of the {len(set(chosen))} {what} are not among the genes of the network, e.g. "
            f"{missing[:5]}: keep those of adata.var_names ([g for g in {what} if g in adata.var_names]); "
            "check the species and the kind of gene names (symbols or Ensembl IDs)")
    return names.isin(chosen)


def _check_pruning(top_k, min_score) -> None:
    if top_k is not None:
        if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)):
            raise ValueError(f"top_k must be a positive integer or None, got {top_k!r}")
        if top_k < 1:
            raise ValueError(f"top_k must be at least 1 (None keeps every edge), got {top_k}")
    if min_score is not None:
        if isinstance(min_score, bool) or not isinstance(min_score, (int, float, np.integer, np.floating)) \
                or not np.isfinite(min_score):
            raise ValueError(f"min_score must be a finite number or None, got {min_score!r}")


def _kept(score: np.ndarray, raw: np.ndarray, candidates: np.ndarray, top_k: int | None,
          min_score: float | None) -> np.ndarray:
    """The candidate pairs ``[regulator, target]`` with ``score >= min_score`` and among the ``top_k`` of their
    target (by score, then raw score, then regulator order)."""
    keep = candidates.copy()
    if min_score is not None:
        keep &= score >= min_score
    if top_k is None:
        return keep
    crowded = np.flatnonzero(keep.sum(axis=0) > top_k)  # targets with more candidates than top_k
    for start in range(0, len(crowded), 256):  # a few targets at a time: temporaries of n_genes x 256
        cols = crowded[start:start + 256]
        k = keep[:, cols]
        s = np.where(k, score[:, cols], -np.inf)
        r = np.where(k, raw[:, cols], -np.inf)
        order = np.lexsort((-r, -s), axis=0)[:top_k]  # per target: by decreasing score, then raw score
        top = np.zeros_like(k)
        np.put_along_axis(top, order, True, axis=0)
        keep[:, cols] = k & top
    return keep


def _read_drift(model: CellBridgeModel, x, t, groups, loadings, score, group_score, regulators=None,
                targets=None) -> tuple[NetworkReadout, str, bool]:
    """The Jacobian readout of the model's drift network at the cells, its name and whether it is an NGM."""
    net = model.drift_network
    name = _drift_name(model)
    is_ngm = isinstance(net, NGMDrift)
    if is_ngm and loadings is not None and score in ("auto", "group_norm"):
        logger.info("the NGM lives in PCA space: gene-space scores come from Q mean(J) Q^T, not from group norms")
        if score == "group_norm":
            raise ValueError("score='group_norm' needs an NGM fitted in gene space (use_rep='X')")
    norm = model.normalization
    readout = read_network(
        net, norm.x_to(x).astype(np.float32), norm.t_to(t).astype(np.float32),
        groups=groups, ngm=net if is_ngm else None, loadings=loadings, score=score, group_score=group_score,
        jacobian_scale=1.0 / norm.t_span, state_scale=norm.scale, batch_size=2048, regulators=regulators,
        targets=targets,
    )
    return readout, name, is_ngm


def _as_models(model) -> list[CellBridgeModel] | None:
    """None, or the fitted model(s) as a list (one model, or several of one ensemble)."""
    if model is None:
        return None
    models = [model] if isinstance(model, CellBridgeModel) else list(model) if isinstance(model, Sequence) else None
    if not models or not all(isinstance(m, CellBridgeModel) for m in models):
        raise TypeError("model must be a fitted CellBridgeModel, a non-empty list of them, or None, not "
                        f"{type(model).__name__}")
    dims = {m.dim for m in models}
    reps = {m.use_rep or "X" for m in models}
    if len(dims) > 1 or len(reps) > 1:
        raise ValueError(f"the models of an ensemble must share one representation, got use_rep {sorted(reps)} "
                         f"and dimensions {sorted(dims)}")
    kinds = {(_drift_name(m), isinstance(m.drift_network, NGMDrift)) for m in models}
    if len(kinds) > 1:  # their scores (and score="auto") mean different things: not one network's average
        raise ValueError("the models of an ensemble must share their kind of drift (all NGMs or all MLPs, in "
                         f"the same network), got {sorted(kinds)}")
    return models


def _drift_name(model: CellBridgeModel) -> str:
    """The key of the model's drift network among its networks."""
    return next(key for key, n in model.networks.items() if n is model.drift_network)


def _resolve_target_scale(target_scale, with_model: bool) -> str | None:
    """``target_scale`` with ``"auto"`` resolved (``"sqrt"`` with a model, ``"max"`` without), checked."""
    if target_scale != "auto" and target_scale not in TARGET_SCALES:
        raise ValueError(f"target_scale must be 'auto' or one of {TARGET_SCALES}, not {target_scale!r}")
    if target_scale == "auto":
        target_scale = "sqrt" if with_model else "max"
    if not with_model and target_scale != "max":
        raise ValueError("without a model the scores are always scaled per target by their largest "
                         "(target_scale='max' or 'auto')")
    return target_scale


def _ensemble_readout(models, x, t, groups, loadings, score, group_score, target_scale, regulators,
                      targets) -> tuple[NetworkReadout, str, bool]:
    """Every model's readout, the overall scores of each scaled across targets (``target_scale``), averaged
    over the models: scores, raw scores and mean Jacobians (signs: of the averaged Jacobian)."""
    parts = []
    for m in models:
        readout, name, is_ngm = _read_drift(m, x, t, groups, loadings, score, group_score, regulators, targets)
        if target_scale is not None:
            readout.raw_scores = {ALL_CELLS: readout.scores[ALL_CELLS]}
            readout.scores = {**readout.scores, ALL_CELLS: scale_targets(readout.scores[ALL_CELLS], target_scale)}
        parts.append(readout)
    if len(parts) == 1:
        return parts[0], name, is_ngm
    first = parts[0]

    def mean(get) -> dict:
        return {g: np.mean([get(p, g) for p in parts], axis=0) for g in first.scores}

    jac = mean(lambda p, g: p.mean_jacobian[g])
    readout = NetworkReadout(
        scores=mean(lambda p, g: p.scores[g]), signs={g: jacobian_signs(j) for g, j in jac.items()},
        mean_jacobian=jac, score_kind=dict(first.score_kind), n_cells=dict(first.n_cells),
        raw_scores={g: v for g, v in mean(lambda p, g: p.unscaled(g)).items() if g in first.raw_scores})
    return readout, name, is_ngm


@document(PARAMETER_DOCS, "InferredNetwork", "The edge table, the overall score matrix and how they were read.", own={
    "x": "Cells ``(n, d)`` in the representation of the model (or, without a model, to regress in).",
    "t": "Time of each cell ``(n,)``, in the units of the model's time points.",
    "names": "Gene names: one per column of ``x``, or per row of ``loadings``.",
    "loadings": """PCA loadings :math:`Q` (genes x ``d``) when ``x`` holds principal components: the
        network is mapped to genes.""",
    "groups": "Optional label per cell (a cluster, say): one network per group, in addition to the overall one.",
    "time_labels": """Labels of the time points, naming the groups of ``time_bins=True`` (default: the model's
        labels, if any; else the numbers).""",
})
def infer_network(
    x: np.ndarray,
    t: np.ndarray,
    names: Sequence[str],
    model: CellBridgeModel | Sequence[CellBridgeModel] | None = None,
    *,
    loadings: np.ndarray | None = None,
    groups: Sequence | np.ndarray | None = None,
    time_bins: bool | int | Sequence[float] | None = None,
    time_labels: Mapping[float, str] | None = None,
    regulators: Sequence[str] | None = None,
    targets: Sequence[str] | None = None,
    n_sub: int | Sequence[int] = DEFAULT_N_SUB,
    score: str = "auto",
    group_score: str = "auto",
    target_scale: str | None = "auto",
    n_cells: int | None = 5000,
    rng: RNGLike = 0,
    top_k: int | None = None,
    min_score: float | None = None,
) -> InferredNetwork:
    r"""Read a gene regulatory network from the drift of a fitted model, or from OT-matched velocities.

    **From a model** (``model`` given). Its drift network (``model.drift_network``: the [SF]2M flow, the
    probability-flow velocity, or DSBM's forward drift; an :class:`~cellbridge.nn.NGMDrift` when fitted
    with ``drift="ngm"``) has a Jacobian :math:`J_{ij} = \partial f_i / \partial x_j` at the cells and their
    times that says how the velocity of gene :math:`i` depends on the level of gene :math:`j`: an edge
    :math:`j \to i`, activating when :math:`\bar J_{ij} > 0`.

    - **NGM drift in gene space**: edge scores are the mean absolute Jacobian over the cells,
      :math:`\overline{|J_{ij}|}`, exactly zero where the group lasso removed the first-layer column
      :math:`W^{(i)}_{:, j}` (``score="group_norm"``: the column norms themselves, Bellot et al.'s score,
      which ranked edges less well in ``benchmarks/results/grn.md``), put on a common scale across targets
      (``target_scale``); signs are those of the Jacobian averaged over cells and times.
    - **Several models** (a list): each one's scores as above, averaged; signs of the averaged Jacobian.
      Fits that differ in their seed, or in the resolution of their velocity targets
      (``cb.tl.fit(..., velocity_n_sub=n)``), err in different ways, and the average ranks edges better
      than one fit (``benchmarks/results/grn.md``) at the cost of the fits.
    - **Any other drift in gene space**: scores :math:`|\bar J|`. Caveat: the drift of a Schrodinger bridge
      with a Brownian reference is a gradient field with a symmetric Jacobian, which cannot tell
      :math:`j \to i` from :math:`i \to j`; fit with ``drift="ngm"`` for directed networks.

    **Without a model**. Each snapshot is split into finer time points by each cell's progress along its OT
    direction of motion (for every ``n`` in ``n_sub``), every cell gets the velocity that exact OT to the
    next time point assigns it, and a ridge regression of the velocities on standardised expression gives
    linear dynamics :math:`v = A x + b`: :math:`A` plays the Jacobian's part, and the scores are
    :math:`|A_{ij}|` scaled by each target's largest coefficient and averaged over the resolutions
    (:func:`cellbridge.grn.velocity_regression.velocity_network`, whose notes give the reasons). No
    training and deterministic, seconds where a fit takes minutes; on the BEELINE BoolODE networks a fitted
    NGM at its defaults ranks the edges better, and on the held-out simulated networks this route does
    (``benchmarks/results/grn.md``, ``grn_simulated.md``). Only a fitted NGM gives a nonlinear drift that
    can also be simulated.

    In either route, with PCA ``loadings`` :math:`Q` the gene-space Jacobian is :math:`Q \bar J Q^T`.
    Caveat: its rank is at most the number of PCs and it is not sparse: every gene pair gets a score, and
    genes the PCs barely load get none. Self-loops are never edges.
    """
    models = _as_models(model)
    if models is None and (score != "auto" or group_score != "auto"):
        raise ValueError("score and group_score choose among a model's readouts: without a model leave them 'auto'")
    target_scale = _resolve_target_scale(target_scale, models is not None)
    if score not in SCORE_KINDS:
        raise ValueError(f"score must be one of {SCORE_KINDS}, not {score!r}")
    x = np.asarray(x)
    t = np.asarray(t, dtype=np.float64)
    if x.ndim != 2 or t.shape != (len(x),):
        raise ValueError(f"x must be cells x dimensions and t one time per cell, got {x.shape} and {t.shape}")
    if models is not None and x.shape[1] != models[0].dim:
        raise ValueError(f"the model has dimension {models[0].dim}, the cells {x.shape[1]}")
    names = pd.Index([str(n) for n in names])
    if len(names) != (x.shape[1] if loadings is None else len(loadings)):
        raise ValueError(f"names must name every {'gene of the loadings' if loadings is not None else 'column of x'}")
    reg_mask = _select(names, regulators, "regulators")
    tgt_mask = _select(names, targets, "targets")
    _check_pruning(top_k, min_score)
    # positions handed to the readouts (None: every gene, the readouts' own full computation)
    reg_pos = None if reg_mask.all() else np.flatnonzero(reg_mask)
    tgt_pos = None if tgt_mask.all() else np.flatnonzero(tgt_mask)

    # which cells, in which groups
    group = None if groups is None else np.asarray(groups, dtype=object)
    if group is not None and group.shape != t.shape:
        raise ValueError(f"groups must have one label per cell ({len(t)}), got {group.shape}")
    if time_bins is not None and time_bins is not False:
        if time_labels is None and models is not None:
            time_labels = dict(zip(models[0].time_points.tolist(), models[0].config.get("time_labels", [])))
        tb = _time_groups(t, time_bins, time_labels or {})
        group = tb if group is None else np.array([f"{g}|{b}" for g, b in zip(group, tb)], dtype=object)
    idx = np.arange(len(x))
    if n_cells is not None and len(x) > n_cells:
        idx = np.sort(as_numpy_rng(rng).choice(len(x), int(n_cells), replace=False))
    cell_groups = None if group is None else group[idx]

    cells = x if len(idx) == len(x) else x[idx]  # no copy without a subsample
    if models is None:
        net_name, is_ngm = OT_VELOCITY, False
        readout = velocity_network(cells, t[idx], n_sub=n_sub, groups=cell_groups, loadings=loadings,
                                   regulators=reg_pos, targets=tgt_pos)
    else:
        readout, net_name, is_ngm = _ensemble_readout(models, cells, t[idx], cell_groups, loadings, score,
                                                      group_score, target_scale, reg_pos, tgt_pos)

    # the edge table: per group, the kept candidate pairs (regulator != target) of the chosen genes
    chosen = reg_mask[:, None] & tgt_mask[None, :]
    candidates = chosen & ~np.eye(len(names), dtype=bool)
    order = [ALL_CELLS] + [g for g in readout.scores if g != ALL_CELLS and g is not None]
    frames, kept = [], None
    for g in order:
        score_g = readout.scores[g].astype(np.float64)
        raw_g = np.asarray(readout.unscaled(g), dtype=np.float64)
        keep = _kept(score_g, raw_g, candidates, top_k, min_score)
        if g == ALL_CELLS:
            kept = keep
        table = _entries(names, keep, categorical=True, score=score_g, sign=readout.signs[g].astype(np.int8),
                         jacobian=readout.mean_jacobian[g].T.astype(np.float64), raw_score=raw_g)
        table["group"] = str(g)
        frames.append(_by_score(table, "score", "raw_score"))
    edges = pd.concat(frames, ignore_index=True)
    edges["group"] = pd.Categorical(edges["group"], categories=[str(g) for g in order])
    scores = np.where(chosen, readout.scores[ALL_CELLS], 0.0)
    np.fill_diagonal(scores, 0.0)
    return InferredNetwork(edges=edges, scores=scores, kept=kept, readout=readout, network=net_name, ngm=is_ngm,
                           n_cells=int(len(idx)), regulators=reg_mask, targets=tgt_mask)
