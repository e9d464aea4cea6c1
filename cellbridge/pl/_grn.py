"""Plots of a gene regulatory network read by :func:`cellbridge.tl.grn`: a heatmap and a signed graph."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from anndata import AnnData

from .. import _keys as keys
from ..grn.edges import _pairs_to_matrix, as_edge_table

#: the most edges :func:`grn_graph` draws by default
MAX_DEFAULT_EDGES = 50
#: the largest side of a new heatmap figure, in inches
_MAX_FIGURE_SIDE = 16.0
_ACTIVATION = "#c0392b"  # red: activation
_REPRESSION = "#2c6fbb"  # blue: repression


def _edges_and_genes(data, key: str, group: str, genes: Sequence[str] | None) -> tuple[pd.DataFrame, list[str]]:
    """The edge table of ``group`` and the genes to draw: ``genes``, or every gene of the table in order of appearance."""
    if isinstance(data, AnnData):
        if key not in data.uns or "edges" not in data.uns[key]:
            raise ValueError(f"adata.uns[{key!r}] holds no edge table: run cellbridge.tl.grn first")
        edges = data.uns[key]["edges"]
    elif isinstance(data, pd.DataFrame):
        edges = data
    else:
        raise TypeError("pass an AnnData after cellbridge.tl.grn, or its edge table (a DataFrame)")
    need = {"regulator", "target", "score"}
    if not need <= set(edges.columns):
        raise ValueError(f"the edge table needs columns {sorted(need)}, got {list(edges.columns)}")
    if "group" in edges.columns:
        groups = [str(g) for g in pd.unique(edges["group"])]
        if group not in groups:
            raise ValueError(f"no group {group!r} in the edge table; groups: {groups[:10]}")
        edges = edges[edges["group"].astype(str) == group]
    if genes is None:
        genes = list(dict.fromkeys(list(edges["regulator"].astype(str)) + list(edges["target"].astype(str))))
    return edges, [str(g) for g in genes]


def _true_pairs(truth: pd.DataFrame) -> list[tuple[str, str]]:
    """The (regulator, target) pairs of a truth table (``Gene1`` / ``Gene2`` accepted), self-loops left out."""
    table = as_edge_table(truth)
    return [(r, t) for r, t in zip(table["regulator"], table["target"]) if r != t]


def _signed(edges: pd.DataFrame) -> np.ndarray:
    sign = edges["sign"].to_numpy() if "sign" in edges.columns else np.ones(len(edges))
    return np.where(sign < 0, -1.0, 1.0) * edges["score"].to_numpy(dtype=np.float64)


def grn_heatmap(
    data: AnnData | pd.DataFrame,
    key: str = keys.DEFAULT_GRN_KEY,
    *,
    group: str = "all",
    genes: Sequence[str] | None = None,
    signed: bool = True,
    truth: pd.DataFrame | None = None,
    ax=None,
    cmap: str | None = None,
    title: str | None = None,
):
    """Heatmap of edge scores, regulators in rows and targets in columns.

    Parameters
    ----------
    data
        An AnnData after :func:`cellbridge.tl.grn` (reads ``uns[key]["edges"]``) or an edge table.
    key
        The ``key_added`` of :func:`cellbridge.tl.grn`.
    group
        Which network of the table (``"all"``, or a group / time-bin label).
    genes
        Genes to show, in order (default: every regulator and target, in order of appearance).
    signed
        Colour by score times sign (red activation, blue repression); otherwise the score alone.
    truth
        Optional true edges (``regulator``, ``target``): marked with a dot.
    ax
        Matplotlib axes (default: a new figure).
    cmap, title
        Colour map (default ``"RdBu_r"`` signed, ``"viridis"`` otherwise) and title.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    edges, genes = _edges_and_genes(data, key, group, genes)
    pos = {g: k for k, g in enumerate(genes)}
    values = _signed(edges) if signed else edges["score"].to_numpy(dtype=np.float64)
    mat = _pairs_to_matrix(edges["regulator"], edges["target"], values, pd.Index(genes))
    if ax is None:
        size = min(_MAX_FIGURE_SIDE, max(3.0, 0.35 * len(genes) + 1.5))
        _, ax = plt.subplots(figsize=(size + 1, size))
    vmax = float(np.abs(mat).max()) or 1.0
    img = ax.imshow(mat, cmap=cmap or ("RdBu_r" if signed else "viridis"),
                    vmin=-vmax if signed else 0.0, vmax=vmax, interpolation="nearest")
    ax.set_xticks(range(len(genes)), genes, rotation=90)
    ax.set_yticks(range(len(genes)), genes)
    ax.set_xlabel("target")
    ax.set_ylabel("regulator")
    if truth is not None:
        pts = [(pos[r], pos[t]) for r, t in _true_pairs(truth) if r in pos and t in pos]
        if pts:
            ys, xs = zip(*pts)
            ax.scatter(xs, ys, s=12, c="k", marker="o", label="true edge")
            ax.legend(loc="upper right", fontsize="small", frameon=False, bbox_to_anchor=(1.0, 1.12))
    ax.figure.colorbar(img, ax=ax, shrink=0.8, label="score x sign" if signed else "score")
    ax.set_title(title or f"GRN scores ({group})")
    return ax


def grn_graph(
    data: AnnData | pd.DataFrame,
    key: str = keys.DEFAULT_GRN_KEY,
    *,
    group: str = "all",
    n_edges: int | None = None,
    genes: Sequence[str] | None = None,
    truth: pd.DataFrame | None = None,
    ax=None,
    title: str | None = None,
):
    """The strongest edges as a directed graph on a circle: red arrows activate, blue ones repress.

    Parameters
    ----------
    data
        An AnnData after :func:`cellbridge.tl.grn` or an edge table.
    key
        The ``key_added`` of :func:`cellbridge.tl.grn`.
    group
        Which network of the table.
    n_edges
        Draw the top ``n_edges`` edges by score, ties by ``raw_score`` when the table has it (default: as
        many as there are genes, at most :data:`MAX_DEFAULT_EDGES`, or as many as the true edges when
        ``truth`` is given).
    genes
        The genes whose edges may be drawn, in circle order (default: every gene of the table). Only the
        genes of the drawn edges become nodes, so a genome-scale table gives a readable graph.
    truth
        Optional true edges: drawn edges that are true are solid, false ones dashed.
    ax, title
        Matplotlib axes (default: a new figure) and title.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch

    edges, genes = _edges_and_genes(data, key, group, genes)
    true_set = None if truth is None else set(_true_pairs(truth))
    if n_edges is None:
        n_edges = len(true_set) if true_set else min(len(genes), MAX_DEFAULT_EDGES)
    top = edges[edges["regulator"].astype(str).isin(genes) & edges["target"].astype(str).isin(genes)]
    top = top[top["score"] > 0]
    by = ["score", "raw_score"] if "raw_score" in top.columns else ["score"]
    top = top.sort_values(by, ascending=False, kind="stable").head(int(n_edges))
    # the nodes: the genes of the drawn edges, in the order of genes
    shown = set(top["regulator"].astype(str)) | set(top["target"].astype(str))
    genes = [g for g in genes if g in shown]
    angle = 2 * np.pi * np.arange(len(genes)) / max(len(genes), 1)
    xy = {g: (np.cos(a), np.sin(a)) for g, a in zip(genes, np.pi / 2 - angle)}
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5))
    smax = float(top["score"].max()) if len(top) else 1.0
    for r, tg, s, sg in zip(top["regulator"].astype(str), top["target"].astype(str), top["score"],
                            top["sign"] if "sign" in top.columns else np.ones(len(top))):
        colour = _REPRESSION if sg < 0 else _ACTIVATION
        style = "-" if true_set is None or (r, tg) in true_set else "--"
        arrow = FancyArrowPatch(xy[r], xy[tg], arrowstyle="-|>" if sg >= 0 else "-[", mutation_scale=12,
                                connectionstyle="arc3,rad=0.15", color=colour, linestyle=style,
                                linewidth=0.8 + 2.2 * float(s) / smax, shrinkA=12, shrinkB=12, alpha=0.85)
        ax.add_patch(arrow)
    for g, (px, py) in xy.items():
        ax.scatter([px], [py], s=420, c="white", edgecolors="k", zorder=3)
        ax.text(px, py, g, ha="center", va="center", fontsize=8, zorder=4)
    ax.set_xlim(-1.3, 1.3)
    ax.set_ylim(-1.3, 1.3)
    ax.set_aspect("equal")
    ax.axis("off")
    note = "red: activation, blue: repression" + ("; dashed: not a true edge" if true_set is not None else "")
    ax.set_title(title or f"top {len(top)} edges ({group})\n{note}", fontsize=9)
    return ax
