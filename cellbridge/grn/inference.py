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
from .readout import SCORE_KINDS, NetworkReadout, read_network
from .velocity_regression import DEFAULT_N_SUB, velocity_network

__all__ = ["InferredNetwork", "infer_network"]

#: the group of the network read from every cell together
ALL_CELLS = "all"
#: where a network read without a model comes from (``InferredNetwork.network``)
OT_VELOCITY = "ot_velocity"

#: what the parameters shared by :func:`infer_network` and :func:`cellbridge.tl.grn` mean
PARAMETER_DOCS = {
    "model": "A fitted :class:`cellbridge.CellBridgeModel`, or None to read the network from OT-matched velocities.",
    "regulators, targets": "Restrict the edges to these regulator and target genes (default: all genes).",
    "time_bins": """One network per time point (``True``), per equal-width bin (a number) or per bin between
        given edges (a sequence), in addition to the overall one. With cell groups as well, one per
        (group, bin).""",
    "n_sub": """Without a model: sub-snapshots per snapshot, one number or several whose scores are averaged
        (default 3, 4, 5 and 6; 1 uses the snapshots as they are). Each must be at most the smallest
        snapshot's size.""",
    "score": r"""With a model, overall scores: ``"auto"`` (:math:`\overline{|J|}` for an NGM in gene space,
        else :math:`|\bar J|`), ``"group_norm"``, ``"abs_mean_jacobian"`` or ``"mean_abs_jacobian"`` (see
        :func:`cellbridge.grn.readout.read_network`).""",
    "group_score": r"""With a model, scores of each group: ``"auto"`` (:math:`\overline{|J|}` for an NGM, else
        :math:`|\bar J|`), ``"abs_mean_jacobian"`` or ``"mean_abs_jacobian"``.""",
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
        The edge table: ``regulator``, ``target``, ``score``, ``sign`` (+1 / -1 / 0, of the mean Jacobian),
        ``jacobian`` (the mean :math:`\partial f_{target} / \partial x_{regulator}` in units of ``x`` per
        time unit; without a model the regression coefficient), ``group`` (categorical: :data:`ALL_CELLS`,
        then the group labels), sorted by group and decreasing score; every candidate pair (regulator
        != target) of the chosen genes appears once per group.
    scores
        The overall scores ``(genes, genes)`` ``[regulator, target]``, 0 outside the chosen regulators and
        targets and on the diagonal.
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
    missing = [c for c in chosen if c not in names]
    if missing:
        raise ValueError(f"{what} not among the genes of the network: {missing[:5]}")
    return names.isin(chosen)


def _read_drift(model: CellBridgeModel, x, t, groups, loadings, score, group_score) -> tuple[NetworkReadout, str, bool]:
    """The Jacobian readout of the model's drift network at the cells, its name and whether it is an NGM."""
    net = model.drift_network
    name = next(key for key, n in model.networks.items() if n is net)
    is_ngm = isinstance(net, NGMDrift)
    if is_ngm and loadings is not None and score in ("auto", "group_norm"):
        logger.info("the NGM lives in PCA space: gene-space scores come from Q mean(J) Q^T, not from group norms")
        if score == "group_norm":
            raise ValueError("score='group_norm' needs an NGM fitted in gene space (use_rep='X')")
    norm = model.normalization
    readout = read_network(
        lambda tt, xx: net(tt, xx), norm.x_to(x).astype(np.float32), norm.t_to(t).astype(np.float32),
        groups=groups, ngm=net if is_ngm else None, loadings=loadings, score=score, group_score=group_score,
        jacobian_scale=1.0 / norm.t_span, batch_size=2048,
    )
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
    model: CellBridgeModel | None = None,
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
    n_cells: int | None = 5000,
    rng: RNGLike = 0,
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
      which ranked edges less well in ``benchmarks/results/grn.md``); signs are those of the Jacobian
      averaged over cells and times.
    - **Any other drift in gene space**: scores :math:`|\bar J|`. Caveat: the drift of a Schrodinger bridge
      with a Brownian reference is a gradient field with a symmetric Jacobian, which cannot tell
      :math:`j \to i` from :math:`i \to j`; fit with ``drift="ngm"`` for directed networks.

    **Without a model**. Each snapshot is split into finer time points by each cell's progress along its OT
    direction of motion (for every ``n`` in ``n_sub``), every cell gets the velocity that exact OT to the
    next time point assigns it, and a ridge regression of the velocities on standardised expression gives
    linear dynamics :math:`v = A x + b`: :math:`A` plays the Jacobian's part, and the scores are
    :math:`|A_{ij}|` scaled by each target's largest coefficient and averaged over the resolutions
    (:func:`cellbridge.grn.velocity_regression.velocity_network`, whose notes give the reasons). No
    training and deterministic; it recovered the BEELINE networks best of the package's routes
    (``benchmarks/results/grn.md``), while a fitted NGM gives a nonlinear, time-dependent drift that can
    also be simulated.

    In either route, with PCA ``loadings`` :math:`Q` the gene-space Jacobian is :math:`Q \bar J Q^T`.
    Caveat: its rank is at most the number of PCs and it is not sparse: every gene pair gets a score, and
    genes the PCs barely load get none. Self-loops are never edges.
    """
    if model is not None and not isinstance(model, CellBridgeModel):
        raise TypeError(f"model must be a fitted CellBridgeModel or None, not {type(model).__name__}")
    if model is None and (score != "auto" or group_score != "auto"):
        raise ValueError("score and group_score choose among a model's readouts: without a model leave them 'auto'")
    if score not in SCORE_KINDS:
        raise ValueError(f"score must be one of {SCORE_KINDS}, not {score!r}")
    x = np.asarray(x)
    t = np.asarray(t, dtype=np.float64)
    if x.ndim != 2 or t.shape != (len(x),):
        raise ValueError(f"x must be cells x dimensions and t one time per cell, got {x.shape} and {t.shape}")
    if model is not None and x.shape[1] != model.dim:
        raise ValueError(f"the model has dimension {model.dim}, the cells {x.shape[1]}")
    names = pd.Index([str(n) for n in names])
    if len(names) != (x.shape[1] if loadings is None else len(loadings)):
        raise ValueError(f"names must name every {'gene of the loadings' if loadings is not None else 'column of x'}")
    reg_mask = _select(names, regulators, "regulators")
    tgt_mask = _select(names, targets, "targets")

    # which cells, in which groups
    group = None if groups is None else np.asarray(groups, dtype=object)
    if group is not None and group.shape != t.shape:
        raise ValueError(f"groups must have one label per cell ({len(t)}), got {group.shape}")
    if time_bins is not None and time_bins is not False:
        if time_labels is None and model is not None:
            time_labels = dict(zip(model.time_points.tolist(), model.config.get("time_labels", [])))
        tb = _time_groups(t, time_bins, time_labels or {})
        group = tb if group is None else np.array([f"{g}|{b}" for g, b in zip(group, tb)], dtype=object)
    idx = np.arange(len(x))
    if n_cells is not None and len(x) > n_cells:
        idx = np.sort(as_numpy_rng(rng).choice(len(x), int(n_cells), replace=False))
    cell_groups = None if group is None else group[idx]

    if model is None:
        net_name, is_ngm = OT_VELOCITY, False
        readout = velocity_network(x[idx], t[idx], n_sub=n_sub, groups=cell_groups, loadings=loadings)
    else:
        readout, net_name, is_ngm = _read_drift(model, x[idx], t[idx], cell_groups, loadings, score, group_score)

    # the edge table: every candidate pair (regulator != target) of the chosen genes, per group
    chosen = reg_mask[:, None] & tgt_mask[None, :]
    candidates = chosen & ~np.eye(len(names), dtype=bool)
    order = [ALL_CELLS] + [g for g in readout.scores if g != ALL_CELLS and g is not None]
    frames = []
    for g in order:
        table = _entries(names, candidates, score=readout.scores[g].astype(np.float64),
                         sign=readout.signs[g].astype(np.int8),
                         jacobian=readout.mean_jacobian[g].T.astype(np.float64))
        table["group"] = str(g)
        frames.append(_by_score(table, "score"))
    edges = pd.concat(frames, ignore_index=True)
    edges["group"] = pd.Categorical(edges["group"], categories=[str(g) for g in order])
    scores = np.where(chosen, readout.scores[ALL_CELLS], 0.0)
    np.fill_diagonal(scores, 0.0)
    return InferredNetwork(edges=edges, scores=scores, readout=readout, network=net_name, ngm=is_ngm,
                           n_cells=int(len(idx)), regulators=reg_mask, targets=tgt_mask)
