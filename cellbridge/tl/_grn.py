"""``cb.tl.grn``: a gene regulatory network read from a fitted model's drift, or from OT-matched velocities."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import sparse

from .. import _keys as keys
from .._logging import logger
from .._utils import RNGLike
from ..grn.inference import ALL_CELLS, PARAMETER_DOCS, _as_models, _check_pruning, _resolve_target_scale, infer_network
from ..grn._docstrings import document
from ..grn.velocity_regression import DEFAULT_N_SUB
from ..model import CellBridgeModel
from ..time_labels import parse_time_labels
from ..timecourse import get_rep
from ._uns import h5ad_safe

#: regulators kept per target and group in the edge table (see the ``top_k`` parameter)
DEFAULT_TOP_K = 20

_RETURNS = r"""The edge table written to ``adata.uns[key_added]["edges"]``: ``regulator``, ``target``
    (categoricals over the gene names), ``score``, ``sign`` (+1 / -1 / 0, of the mean Jacobian),
    ``jacobian`` (the mean :math:`\partial f_{target} / \partial x_{regulator}` in representation units per
    time unit; without a model :math:`A`), ``raw_score`` (the score before the per-target scaling, which
    ties every target's strongest regulator at 1: without a model the mean :math:`|A|` per standard deviation
    of the regulator, with a model its unscaled score, e.g. :math:`\overline{|J|}`; the score itself where
    nothing is scaled: group networks, ``target_scale=None``), ``group`` (``"all"`` or a group label), sorted by
    group, decreasing score and decreasing raw score; at most ``top_k`` rows per target and group. Also
    written:

    - ``adata.varp[key_added]``: the overall scores, genes x genes, ``[regulator, target]`` (0 outside
      the chosen regulators and targets), when the model is in gene space or PCA loadings map it there.
      Dense (float32) when the table holds every candidate pair (``top_k=None`` and ``min_score=None``, or
      a network of at most ``top_k + 1`` genes), as before; otherwise a ``scipy.sparse.csr_matrix``
      (float32) holding only the edges of the table's ``"all"`` group, which ``anndata`` writes to and
      reads from h5ad as it is (2,000 genes x 20 edges per target: about 0.3 MB instead of 16 MB dense);
    - ``adata.uns[key_added]["params"]``: the settings and ``score_kind``.

    The full score matrix of every candidate pair, for a benchmark against a known network, is
    ``varp`` with ``top_k=None`` (or :func:`cellbridge.grn.infer_network`'s ``scores``)."""


@document(PARAMETER_DOCS, "pandas.DataFrame", _RETURNS, own={
    "adata": "The time course the model was fitted on (or any cells in the same representation and time units).",
    "groupby": """Column of ``adata.obs`` (e.g. clusters, branches): one network per group, in addition to the
        overall one, from its cells' Jacobians (for an NGM, by default, each weighted by the regulator's level
        above its lowest: see ``group_score``).""",
    "time_key": """Column of ``adata.obs`` with the times (default: the one the model was fitted with;
        required without a model).""",
    "use_rep": """Without a model: the representation to regress in, ``"X"`` (genes, the default) or a key of
        ``adata.obsm``. With a model: must be None or the model's own.""",
    "key_added": "Key of ``adata.varp`` and ``adata.uns`` to write.",
    "top_k": """Keep at most this many regulators per target in each group's edge table (the strongest by
        ``score``, ties broken by ``raw_score``, then by gene order); None keeps every candidate pair. The
        default 20 keeps 2,000 targets x 20 = 40,000 rows per group: about 1.6 MB in memory and 1.9 MB in
        an h5ad file (about 45 bytes a row), where every pair of 2,000 genes would be 4 million rows
        (about 180 MB). A network of at most 21 genes, or of at most 20 regulators, keeps every pair. To score a network against a known
        one, use every pair: ``top_k=None`` (``varp`` is then the dense score matrix of every pair).""",
})
def grn(
    adata: AnnData,
    model: CellBridgeModel | Sequence[CellBridgeModel] | None = None,
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
    target_scale: str | None = "auto",
    n_cells: int | None = 5000,
    rng: RNGLike = 0,
    top_k: int | None = DEFAULT_TOP_K,
    min_score: float | None = None,
    key_added: str = keys.DEFAULT_GRN_KEY,
) -> pd.DataFrame:
    r"""Read a gene regulatory network from the drift of a fitted model, or from OT-matched velocities.

    With a model, edges come from the Jacobian of its drift at the cells (:math:`\overline{|J|}` for an
    NGM drift fitted with ``cb.tl.fit(..., use_rep="X", drift="ngm")``, the one to fit for directed
    networks, put on a common scale across targets: ``target_scale``); with a list of models, from their average (an
    ensemble: e.g. ``[cb.tl.fit(adata, "day", use_rep="X", drift="ngm", velocity_n_sub=n, rng=k) for k, n
    in enumerate((3, 4, 5, 6))]``, which ranked the BEELINE networks best, ``benchmarks/results/grn.md``);
    without one (the default), from a ridge regression of the velocities that exact OT between refined time
    points assigns to the cells: no training, deterministic, seconds instead of minutes. How each route reads the network, and the
    caveats of PCA space, are in :func:`cellbridge.grn.infer_network`, which this calls on the cells of
    ``adata``. In a representation with PCA loadings (``varm["PCs"]``) the network is mapped to genes; in
    another one without loadings its edges join the representation's dimensions (``uns`` only, no
    ``varp``). Self-loops are never edges (the diagonal is 0).

    **Genome scale.** Pass the transcription factors among the genes as ``regulators``: only their rows
    are scored, and without a model each target's regression runs on their columns (and its own level)
    only. ``top_k`` (default
    :data:`DEFAULT_TOP_K` regulators per target) and ``min_score`` keep the edge table, and then ``varp``,
    sparse: 2,000 genes x 10,000 cells with 100 TFs take about a minute and under 1 GB on one CPU core
    without a model (``benchmarks/results/grn_scale.md``, which also times the NGM route).
    """
    models = _as_models(model)
    if models is None:
        if time_key is None:
            raise ValueError("without a model, pass the time column: time_key=")
        use_rep = use_rep or "X"
    else:
        own = models[0].use_rep or "X"
        if use_rep is not None and use_rep != own:
            raise ValueError(f"the model was fitted in {own!r}, not use_rep={use_rep!r}")
        use_rep = own
        time_key = time_key or models[0].time_key
        if time_key is None:
            raise ValueError("the model does not record its time_key: pass time_key=")
    if time_key not in adata.obs:
        raise ValueError(f"adata.obs has no time column {time_key!r}")
    if groupby is not None and groupby not in adata.obs:
        raise ValueError(f"adata.obs has no column {groupby!r}")
    _check_pruning(top_k, min_score)
    x = get_rep(adata, use_rep)
    t, labels_by_time = parse_time_labels(adata.obs[time_key], name=time_key)

    # the space of the network: genes, genes through PCA loadings, or the representation's own dimensions
    dim = x.shape[1] if models is None else models[0].dim
    loadings = None
    if use_rep != "X" and keys.PCA_LOADINGS in adata.varm and np.shape(adata.varm[keys.PCA_LOADINGS])[1] == dim:
        loadings = np.asarray(adata.varm[keys.PCA_LOADINGS], dtype=np.float64)
    gene_space = use_rep == "X" or loadings is not None
    names = adata.var_names.astype(str) if gene_space else [f"{use_rep}_{k + 1}" for k in range(dim)]

    net = infer_network(
        x, t, names, model, loadings=loadings,
        groups=None if groupby is None else adata.obs[groupby].astype(str).to_numpy(dtype=object),
        time_bins=time_bins, time_labels=labels_by_time if models is None else None,
        regulators=regulators, targets=targets, n_sub=n_sub, score=score, group_score=group_score,
        target_scale=target_scale, n_cells=n_cells, rng=rng, top_k=top_k, min_score=min_score,
    )

    added = []
    candidates = net.regulators[:, None] & net.targets[None, :]
    np.fill_diagonal(candidates, False)
    pruned = int(net.kept.sum()) < int(candidates.sum())
    if gene_space:
        if pruned:  # only the kept edges: sparse
            i, j = np.nonzero(net.kept)
            varp = sparse.csr_matrix((net.scores[i, j].astype(np.float32), (i, j)), shape=net.scores.shape)
            varp.eliminate_zeros()
            adata.varp[key_added] = varp
            added.append(f"varp['{key_added}'] (genes x genes, [regulator, target], sparse: {varp.nnz} edges)")
        else:
            adata.varp[key_added] = net.scores.astype(np.float32)
            added.append(f"varp['{key_added}'] (genes x genes, [regulator, target])")
    score_kind = net.readout.score_kind[ALL_CELLS]
    params = {
        "network": net.network, "drift": None if models is None else ("ngm" if net.ngm else "mlp"),
        "n_models": 0 if models is None else len(models),
        "target_scale": _resolve_target_scale(target_scale, models is not None),
        "use_rep": use_rep, "time_key": time_key,
        "space": "genes" if use_rep == "X" else ("genes via PCA loadings" if loadings is not None else use_rep),
        "score": score, "score_kind": score_kind, "group_score": group_score,
        "groupby": groupby, "time_bins": time_bins if isinstance(time_bins, (bool, int)) else
        (None if time_bins is None else [float(v) for v in time_bins]),
        "regulators": None if regulators is None else [str(r) for r in np.atleast_1d(regulators)],
        "targets": None if targets is None else [str(r) for r in np.atleast_1d(targets)],
        "n_cells": net.n_cells, "rng": rng if isinstance(rng, int) else None,
        "top_k": None if top_k is None else int(top_k), "min_score": None if min_score is None else float(min_score),
        "pruned": pruned,
        "n_sub": None if models is not None else [int(n) for n in np.atleast_1d(n_sub)],
    }
    edges = net.edges
    adata.uns[key_added] = {"edges": edges, "params": h5ad_safe(params),
                            "n_cells_per_group": h5ad_safe({str(k): v for k, v in net.readout.n_cells.items()})}
    added.append(f"uns['{key_added}'] (edges: {len(edges)} rows in {len(edges['group'].cat.categories)} group(s), params)")
    group_kinds = sorted({k for g, k in net.readout.score_kind.items() if g != ALL_CELLS})
    kinds = score_kind + (f"; groups: {', '.join(group_kinds)}" if group_kinds else "")
    source = ("OT-matched velocities" if models is None else
              f"the {net.network} {'NGM' if net.ngm else 'network'} ({kinds})")
    logger.info(f"read a network of {int(net.regulators.sum())} regulators x {int(net.targets.sum())} targets from "
                f"{source}; added " + " and ".join(added))
    return edges
