"""Fate probabilities of the source cells (:func:`cellbridge.tl.fates`), one panel per fate."""

from __future__ import annotations

from collections.abc import Sequence

import anndata as ad
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from .._keys import DEFAULT_FATES_KEY, DEFAULT_FIT_KEY, DEFAULT_REP, PARAMS_SUFFIX
from ._utils import NA_COLOR, basis_key, component_labels, embedding, finish, panel_grid


def _fate_table(adata: ad.AnnData, key: str) -> pd.DataFrame:
    if not isinstance(adata, ad.AnnData):
        raise TypeError(f"adata must be an AnnData, not {type(adata).__name__}")
    if key not in adata.obsm:
        found = [k for k in adata.obsm.keys() if isinstance(adata.obsm[k], pd.DataFrame)]
        raise KeyError(f"adata.obsm has no {key!r}: run cellbridge.tl.fates first, or pass key= one of the "
                       f"fate tables {found if found else '(none found)'}")
    table = adata.obsm[key]
    if not isinstance(table, pd.DataFrame):
        raise ValueError(f"adata.obsm[{key!r}] must be a pandas DataFrame with one column per fate group (as "
                         f"cellbridge.tl.fates writes it), not {type(table).__name__}")
    if table.shape[1] == 0:
        raise ValueError(f"adata.obsm[{key!r}] has no fate columns")
    return table.reindex(adata.obs_names)


def _default_rep(adata: ad.AnnData, params: dict) -> str:
    """The model's representation: the fates' record, else the fit record, else ``"X_pca"``."""
    if params.get("use_rep"):
        return str(params["use_rep"])
    fit = adata.uns.get(DEFAULT_FIT_KEY)
    if isinstance(fit, dict) and isinstance(fit.get("params"), dict) and fit["params"].get("use_rep"):
        return str(fit["params"]["use_rep"])
    return DEFAULT_REP


def _format_time(value) -> str:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return str(value)
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:g}"


def fates(
    adata: ad.AnnData,
    *,
    basis: str | None = "umap",
    key: str = DEFAULT_FATES_KEY,
    groups: str | Sequence[str] | None = None,
    dims: Sequence[int] = (0, 1),
    ncols: int = 4,
    cmap: str = "viridis",
    size: float | None = None,
    show: bool | None = None,
    save: str | None = None,
) -> list[Axes]:
    """Fate probabilities on an embedding: one panel per fate group, source cells coloured by probability.

    Each panel draws every observed cell: the source cells (those with a probability in
    ``adata.obsm[key]``) coloured by their probability of that fate on a fixed 0 to 1 scale, with a colour
    bar labelled ``P(<group>)``, on top of the other cells in light grey. The source cells are drawn in
    increasing order of probability, so that the likeliest ones are not hidden.

    Parameters
    ----------
    adata
        An AnnData after :func:`cellbridge.tl.fates`: ``obsm[key]`` a DataFrame, one row per cell, one column
        per fate group, NaN in the rows of cells that were not sources; ``uns[f"{key}_params"]`` (optional)
        its settings (``from_time``, ``to_time``, ``groupby``, ``n_sims``), named in the titles.
    basis
        Embedding to draw on, named as scanpy's ``basis``: an ``adata.obsm`` key (``"X_umap"``) or the name
        without ``X_`` (``"umap"``). ``None``: the representation of the model, read from
        ``uns[f"{key}_params"]["use_rep"]``, else from the fit record ``uns["cellbridge"]["params"]``,
        else ``"X_pca"``; its columns ``dims`` are drawn (by default the first two).
    key
        ``adata.obsm`` key of the fate probabilities (the ``key_added`` of :func:`cellbridge.tl.fates`).
    groups
        Fate group(s) to draw, in panel order; ``None``: every column of the table.
    dims
        The two columns of the embedding (or representation) to draw, 0-based.
    ncols
        Panels per row.
    cmap
        Colour map of the probabilities.
    size
        Marker size of the cells; default ``120000 / n_cells`` capped to 1-20, as scanpy's.
    show
        Call :func:`matplotlib.pyplot.show` when ``True``; nothing is shown otherwise (safe with the
        non-interactive ``Agg`` backend).
    save
        Path to write the figure to (format from the extension), or ``None``.

    Returns
    -------
    list of matplotlib.axes.Axes
        One axes per group, in the order of ``groups`` (always a list, also for one group; the figure is
        ``axes[0].figure``). In each, the first collection (``gid`` ``"other"``) holds the cells without a
        probability, in light grey, and the second (``gid`` ``"source"``) the source cells, whose
        ``get_array()`` are their probabilities (in drawing order; ``get_offsets()`` their positions).

    Raises
    ------
    KeyError
        No fate table at ``obsm[key]``, or no embedding for ``basis``.
    ValueError
        A table that is not a DataFrame, a group that is not a column of it (the message lists the groups),
        ``dims`` out of range or ``ncols`` not a positive integer.

    Examples
    --------
    >>> import cellbridge as cb
    >>> cb.tl.fates(adata, model, groupby="cell_type")  # doctest: +SKIP
    >>> cb.pl.fates(adata, basis="umap")  # doctest: +SKIP
    """
    table = _fate_table(adata, key)
    params = adata.uns.get(key + PARAMS_SUFFIX, {})
    params = dict(params) if isinstance(params, dict) else {}
    available = [str(c) for c in table.columns]
    table.columns = available
    if groups is None:
        order = available
    else:
        order = [groups] if isinstance(groups, str) else [str(g) for g in groups]
        unknown = [g for g in order if g not in available]
        if unknown or not order:
            raise ValueError(f"fate group(s) {unknown} are not columns of adata.obsm[{key!r}]; groups: {available}")

    if basis is None:
        rep_key = _default_rep(adata, params)
        if rep_key != "X" and rep_key not in adata.obsm:
            raise KeyError(f"basis=None draws in the model's representation {rep_key!r}, which adata.obsm lacks; "
                           f"pass basis= one of {list(adata.obsm.keys())}")
    else:
        rep_key = basis_key(adata, basis)
    xy = embedding(adata, rep_key, dims)
    xlabel, ylabel = component_labels(rep_key, tuple(int(d) for d in dims), basis=basis is not None)

    if size is None:
        size = float(np.clip(120000 / max(adata.n_obs, 1), 1.0, 20.0))
    fig, axs = panel_grid(len(order), ncols, panel_size=(4.2, 3.6))
    subtitle = ""
    if "from_time" in params or "to_time" in params:
        subtitle = f"from {_format_time(params.get('from_time', '?'))} to {_format_time(params.get('to_time', '?'))}"
    for ax, group in zip(axs, order):
        p = table[group].to_numpy(dtype=np.float64)
        has = np.isfinite(p)
        raster = adata.n_obs > 5000
        ax.scatter(xy[~has, 0], xy[~has, 1], s=size, c=NA_COLOR, linewidths=0, rasterized=raster, zorder=1,
                   gid="other")
        rows = np.flatnonzero(has)
        rows = rows[np.argsort(p[rows], kind="stable")]
        points = ax.scatter(xy[rows, 0], xy[rows, 1], s=size, c=p[rows], cmap=cmap, vmin=0.0, vmax=1.0,
                            linewidths=0, rasterized=raster, zorder=2, gid="source")
        fig.colorbar(points, ax=ax, shrink=0.85).set_label(f"P({group})")
        ax.set_title(f"fate: {group}" + (f"\n{subtitle}" if subtitle else ""), fontsize=10)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if basis is not None:  # an embedding's coordinates carry no meaning: scanpy hides the ticks
            ax.set_xticks([])
            ax.set_yticks([])
    finish(fig, save=save, show=show, what="fates")
    return axs
