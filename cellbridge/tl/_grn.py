"""``cb.tl.grn``: a gene regulatory network read from a fitted model's drift, or from OT-matched velocities."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from anndata import AnnData

from .. import _keys as keys
from .._logging import logger
from .._utils import RNGLike, as_numpy_rng
from ..time_labels import parse_time_labels
from ..timecourse import get_rep
from ..nn import NGMDrift
from ..grn.readout import SCORE_KINDS, read_network
from ..grn.velocity_regression import DEFAULT_N_SUB, velocity_network
from ..model import CellBridgeModel
from ._uns import h5ad_safe

ALL_CELLS = "all"


def _time_groups(t: np.ndarray, time_bins, labels: dict[float, str]) -> np.ndarray:
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


def grn(
    adata: AnnData,
    model: CellBridgeModel | None = None,
    regulators: Sequence[str] | None = None,
    targets: Sequence[str] | None = None,
    groupby: str | None = None,
    time_bins: bool | int | Sequence[float] | None = None,
    *,
    time_key: str | None = None,
    use_rep: str | None = None,
    n_sub: int | Sequence[int] = DEFAULT_N_SUB,
    score: str = "auto",
    group_score: str = "auto",
    n_cells: int | None = 5000,
    rng: RNGLike = 0,
    key_added: str = keys.DEFAULT_GRN_KEY,
) -> pd.DataFrame:
    r"""Read a gene regulatory network from the drift of a fitted model, or from OT-matched velocities.

    **From a model** (``model`` given). The drift is the [SF]2M flow (the probability-flow velocity; an
    :class:`~cellbridge.nn.NGMDrift` when fitted with ``drift="ngm"``) or DSBM's forward drift. Its
    Jacobian :math:`J_{ij} = \partial f_i / \partial x_j` at the observed cells and their times says how the
    velocity of gene :math:`i` depends on the level of gene :math:`j`: an edge :math:`j \to i`, activating when
    :math:`\bar J_{ij} > 0`.

    - **NGM drift in gene space** (``cb.tl.fit(..., use_rep="X", drift="ngm")``): edge scores are the mean
      absolute Jacobian over the cells, :math:`\overline{|J_{ij}|}`, exactly zero where the group lasso
      removed the first-layer column :math:`W^{(i)}_{:, j}` (``score="group_norm"``: the column norms
      :math:`\lVert W^{(i)}_{:, j} \rVert` themselves, Bellot et al.'s score, which ranked edges less well
      in ``benchmarks/results/grn.md``); signs are those of the Jacobian averaged over cells and times.
    - **Any other drift in gene space**: scores :math:`|\bar J|`. Caveat: the drift of a Schrodinger bridge
      with a Brownian reference is a gradient field with a symmetric Jacobian, which cannot tell
      :math:`j \to i` from :math:`i \to j`; fit with ``drift="ngm"`` for directed networks.

    **Without a model** (``model=None``, the default). Each snapshot is split into finer time points by each
    cell's progress along its OT direction of motion (as :func:`cellbridge.pp.refine_time` does, for every
    ``n`` in ``n_sub``), every cell gets the velocity that exact OT to the next time point assigns it, and a
    ridge regression of the velocities on standardised expression gives linear dynamics
    :math:`v = A x + b`: :math:`A` plays the Jacobian's part (signs, ``jacobian`` column), and the scores are
    :math:`|A_{ij}|` scaled by each target's largest coefficient and averaged over the resolutions
    (:func:`cellbridge.grn.velocity_regression.velocity_network`, whose notes give the reasons). No training,
    deterministic, seconds for thousands of cells. This is the route that recovers the BEELINE BoolODE
    networks best (mean AUROC 0.908 over the five, against 0.733 for the NGM drift;
    ``benchmarks/results/grn.md``); a fitted NGM gives a nonlinear, time-dependent drift that can also be
    simulated, and its network per time bin or cell group.

    In either route:

    - **PCA space** with scanpy's loadings ``varm["PCs"]`` (:math:`Q`): the gene-space Jacobian
      :math:`Q \bar J Q^T`. Caveat: its rank is at most the number of PCs and it is not sparse: every gene
      pair gets a score, and genes the PCs barely load get none.
    - Another representation without loadings: edges between its dimensions (``uns`` only, no ``varp``).

    Self-loops are never edges (the diagonal is 0).

    Parameters
    ----------
    adata
        The time course the model was fitted on (or any cells in the same representation and time units).
    model
        A fitted :class:`cellbridge.CellBridgeModel`, or None to read the network from OT-matched velocities.
    regulators, targets
        Restrict the edges to these regulator and target genes (default: all genes).
    groupby
        Column of ``adata.obs`` (e.g. clusters): one network per group, from the Jacobian averaged over its
        cells, in addition to the overall one.
    time_bins
        One network per time point (``True``), per equal-width bin (a number) or per bin between given edges
        (a sequence), in addition to the overall one. With ``groupby`` as well, one per (group, bin).
    time_key
        Column of ``adata.obs`` with the times (default: the one the model was fitted with; required without
        a model).
    use_rep
        Without a model: the representation to regress in, ``"X"`` (genes, the default) or a key of
        ``adata.obsm``. With a model: must be None or the model's own.
    n_sub
        Without a model: sub-snapshots per snapshot, one number or several whose scores are averaged (default
        3, 4, 5 and 6; 1 uses the snapshots as they are). Each must be at most the smallest snapshot's size.
    score
        With a model, overall scores: ``"auto"`` (:math:`\overline{|J|}` for an NGM in gene space, else :math:`|\bar J|`),
        ``"group_norm"``, ``"abs_mean_jacobian"`` or ``"mean_abs_jacobian"`` (see
        :func:`cellbridge.grn.readout.read_network`).
    group_score
        With a model, scores of each group: ``"auto"`` (:math:`\overline{|J|}` for an NGM, else :math:`|\bar J|`),
        ``"abs_mean_jacobian"`` or ``"mean_abs_jacobian"``.
    n_cells
        Use at most this many cells, drawn at random (None: all): the Jacobian is averaged over them, or
        the OT couplings and regressions use only them.
    rng
        Seed of that subsample.
    key_added
        Key of ``adata.varp`` and ``adata.uns`` to write.

    Returns
    -------
    pandas.DataFrame
        The edge table written to ``adata.uns[key_added]["edges"]``: ``regulator``, ``target``, ``score``,
        ``sign`` (+1 / -1 / 0, of the mean Jacobian), ``jacobian`` (the mean :math:`\partial f_{target} /
        \partial x_{regulator}` in representation units per time unit; without a model :math:`A`), ``group`` (``"all"`` or a group
        label), sorted by group and decreasing score. Also written:

        - ``adata.varp[key_added]``: the overall scores, genes x genes, ``[regulator, target]`` (0 outside
          the chosen regulators and targets), when the model is in gene space or PCA loadings map it there;
        - ``adata.uns[key_added]["params"]``: the settings and ``score_kind``.
    """
    if model is not None and not isinstance(model, CellBridgeModel):
        raise TypeError(f"model must be a fitted CellBridgeModel or None, not {type(model).__name__}")
    if model is None:
        if time_key is None:
            raise ValueError("without a model, pass the time column: time_key=")
        if score != "auto" or group_score != "auto":
            raise ValueError("score and group_score choose among a model's readouts: without a model leave them 'auto'")
        use_rep = use_rep or "X"
    else:
        if use_rep is not None and use_rep != (model.use_rep or "X"):
            raise ValueError(f"the model was fitted in {model.use_rep or 'X'!r}, not use_rep={use_rep!r}")
        use_rep = model.use_rep or "X"
        time_key = time_key or model.time_key
        if time_key is None:
            raise ValueError("the model does not record its time_key: pass time_key=")
    if time_key not in adata.obs:
        raise ValueError(f"adata.obs has no time column {time_key!r}")
    if score not in SCORE_KINDS:
        raise ValueError(f"score must be one of {SCORE_KINDS}, not {score!r}")
    x = get_rep(adata, use_rep)
    dim = x.shape[1] if model is None else model.dim
    if x.shape[1] != dim:
        raise ValueError(f"the model has dimension {model.dim}, adata's {use_rep!r} {x.shape[1]}")
    t, labels_by_time = parse_time_labels(adata.obs[time_key], name=time_key)
    if model is not None:
        labels_by_time = dict(zip(model.time_points.tolist(), model.config.get("time_labels", []))) or {}

    # the space of the network
    loadings = None
    if use_rep == "X":
        names, gene_space = pd.Index(adata.var_names.astype(str)), True
    elif keys.PCA_LOADINGS in adata.varm and np.shape(adata.varm[keys.PCA_LOADINGS])[1] == dim:
        loadings = np.asarray(adata.varm[keys.PCA_LOADINGS], dtype=np.float64)
        names, gene_space = pd.Index(adata.var_names.astype(str)), True
    else:
        names, gene_space = pd.Index([f"{use_rep}_{k + 1}" for k in range(dim)]), False
    reg_mask = _select(names, regulators, "regulators")
    tgt_mask = _select(names, targets, "targets")

    # which cells, in which groups
    group = None
    if groupby is not None:
        if groupby not in adata.obs:
            raise ValueError(f"adata.obs has no column {groupby!r}")
        group = adata.obs[groupby].astype(str).to_numpy(dtype=object)
    if time_bins is not None and time_bins is not False:
        tb = _time_groups(t, time_bins, labels_by_time)
        group = tb if group is None else np.array([f"{g}|{b}" for g, b in zip(group, tb)], dtype=object)
    idx = np.arange(adata.n_obs)
    if n_cells is not None and adata.n_obs > n_cells:
        idx = np.sort(as_numpy_rng(rng).choice(adata.n_obs, int(n_cells), replace=False))

    if model is None:
        net_name, is_ngm = "ot_velocity", False
        readout = velocity_network(x[idx], t[idx], n_sub=n_sub, groups=None if group is None else group[idx],
                                   loadings=loadings)
    else:
        net = model.drift_network
        net_name = next(name for name, n in model.networks.items() if n is net)
        is_ngm = isinstance(net, NGMDrift)
        if is_ngm and loadings is not None and score in ("auto", "group_norm"):
            logger.info("the NGM lives in PCA space: gene-space scores come from Q mean(J) Q^T, not from group norms")
            if score == "group_norm":
                raise ValueError("score='group_norm' needs an NGM fitted in gene space (use_rep='X')")
        norm = model.normalization
        xs = norm.x_to(x[idx]).astype(np.float32)
        ts = norm.t_to(t[idx]).astype(np.float32)
        readout = read_network(
            lambda tt, xx: net(tt, xx), xs, ts,
            groups=None if group is None else group[idx],
            ngm=net if is_ngm else None, loadings=loadings, score=score, group_score=group_score,
            jacobian_scale=1.0 / norm.t_span, batch_size=2048,
        )

    # the edge table: every candidate pair (regulator != target) of the chosen genes, per group
    ri, ti = np.nonzero(reg_mask[:, None] & tgt_mask[None, :] & ~np.eye(len(names), dtype=bool))
    frames = []
    order = [ALL_CELLS] + [g for g in readout.scores if g != ALL_CELLS and g is not None]
    for g in order:
        s = readout.scores[g][ri, ti]
        frames.append(pd.DataFrame({
            "regulator": names[ri], "target": names[ti], "score": s.astype(np.float64),
            "sign": readout.signs[g][ri, ti].astype(np.int8),
            "jacobian": readout.mean_jacobian[g].T[ri, ti].astype(np.float64),
            "group": str(g),
        }).sort_values("score", ascending=False, kind="stable"))
    edges = pd.concat(frames, ignore_index=True)
    edges["group"] = pd.Categorical(edges["group"], categories=[str(g) for g in order])

    added = []
    if gene_space:
        mat = np.where(reg_mask[:, None] & tgt_mask[None, :], readout.scores[ALL_CELLS], 0.0)
        np.fill_diagonal(mat, 0.0)
        adata.varp[key_added] = mat.astype(np.float32)
        added.append(f"varp['{key_added}'] (genes x genes, [regulator, target])")
    params = {
        "network": net_name, "drift": None if model is None else ("ngm" if is_ngm else "mlp"), "use_rep": use_rep, "time_key": time_key,
        "space": "genes" if use_rep == "X" else ("genes via PCA loadings" if loadings is not None else use_rep),
        "score": score, "score_kind": readout.score_kind[ALL_CELLS], "group_score": group_score,
        "groupby": groupby, "time_bins": time_bins if isinstance(time_bins, (bool, int)) else
        (None if time_bins is None else [float(v) for v in time_bins]),
        "regulators": None if regulators is None else [str(r) for r in np.atleast_1d(regulators)],
        "targets": None if targets is None else [str(r) for r in np.atleast_1d(targets)],
        "n_cells": int(len(idx)), "rng": rng if isinstance(rng, int) else None,
        "n_sub": None if model is not None else [int(n) for n in np.atleast_1d(n_sub)],
    }
    adata.uns[key_added] = {"edges": edges, "params": h5ad_safe(params),
                            "n_cells_per_group": h5ad_safe({str(k): v for k, v in readout.n_cells.items()})}
    added.append(f"uns['{key_added}'] (edges: {len(edges)} rows in {len(order)} group(s), params)")
    source = ("OT-matched velocities" if model is None else
              f"the {net_name} {'NGM' if is_ngm else 'network'} ({readout.score_kind[ALL_CELLS]})")
    logger.info(f"read a network of {int(reg_mask.sum())} regulators x {int(tgt_mask.sum())} targets from "
                f"{source}; added " + " and ".join(added))
    return edges
