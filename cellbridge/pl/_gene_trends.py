"""Gene expression along the simulated trajectories (:func:`cellbridge.tl.gene_trends`), one panel per gene."""

from __future__ import annotations

from collections.abc import Sequence

import anndata as ad
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from .._keys import DEFAULT_GENE_TRENDS_KEY, PARAMS_SUFFIX
from ._utils import finish, panel_grid
_REQUIRED = ("time", "gene", "mean", "se")


def _trend_table(data: ad.AnnData | pd.DataFrame, key: str) -> tuple[pd.DataFrame, dict]:
    """The tidy trend table and the settings record (empty for a bare table)."""
    params: dict = {}
    if isinstance(data, pd.DataFrame):
        table = data
    elif isinstance(data, ad.AnnData):
        if key not in data.uns:
            raise KeyError(f"adata.uns has no {key!r}: run cellbridge.tl.gene_trends first, or pass key= (or the "
                           f"table itself); uns keys: {list(data.uns.keys())}")
        table = data.uns[key]
        record = data.uns.get(key + PARAMS_SUFFIX, {})
        params = dict(record) if isinstance(record, dict) else {}
        if isinstance(table, dict) and not isinstance(table, pd.DataFrame):
            try:  # a table stored as columns (h5ad round trip of a dict)
                table = pd.DataFrame(table)
            except ValueError:
                raise ValueError(f"adata.uns[{key!r}] is a dict that is not a table of columns: is it the "
                                 "record of cellbridge.tl.gene_trends?") from None
        if not isinstance(table, pd.DataFrame):
            raise ValueError(f"adata.uns[{key!r}] must be a DataFrame (columns time, gene, fate, mean, se, "
                             f"n_trajectories), not {type(table).__name__}")
    else:
        raise TypeError(f"expected an AnnData or a pandas.DataFrame of gene trends, not {type(data).__name__}")
    missing = [c for c in _REQUIRED if c not in table.columns]
    if missing:
        raise ValueError(f"the gene-trend table lacks column(s) {missing}; it has {list(table.columns)} (expected "
                         "those of cellbridge.tl.gene_trends: time, gene, fate, mean, se, n_trajectories)")
    table = table.copy()
    if "fate" not in table.columns:
        table["fate"] = "all"
    table["gene"] = table["gene"].astype(str)
    table["fate"] = table["fate"].astype(str)
    return table, params


def gene_trends(
    adata_or_trends: ad.AnnData | pd.DataFrame,
    genes: str | Sequence[str] | None = None,
    *,
    key: str = DEFAULT_GENE_TRENDS_KEY,
    fates: str | Sequence[str] | None = None,
    n_se: float = 2.0,
    ncols: int = 4,
    sharey: bool = False,
    legend: bool = True,
    show: bool | None = None,
    save: str | None = None,
) -> list[Axes]:
    """Mean expression over time along the simulated trajectories, one panel per gene, one line per fate.

    Each fate's mean is drawn as a line through its time points, with a band of ``n_se`` Monte-Carlo
    standard errors either side (``mean ± 2 se`` by default, about a 95% interval for the mean).

    Parameters
    ----------
    adata_or_trends
        An AnnData holding the table of :func:`cellbridge.tl.gene_trends` in ``uns[key]``, or the table
        itself: a tidy DataFrame with columns ``time``, ``gene``, ``fate``, ``mean``, ``se`` (and usually
        ``n_trajectories``); one row per (time, gene, fate). Without a ``fate`` column (or with one value
        such as ``"all"``) every panel has a single line.
    genes
        Gene(s) to draw, in panel order; ``None``: every gene of the table, in order of appearance.
    key
        ``adata.uns`` key of the table (ignored for a table); ``uns[f"{key}_params"]["time_key"]``, when
        present, labels the time axis.
    fates
        Fate(s) to draw, in legend order; ``None``: all, in order of appearance.
    n_se
        Half-width of the band in standard errors; ``0`` draws no band.
    ncols
        Panels per row.
    sharey
        One y scale for every panel (genes on a comparable scale); otherwise each its own.
    legend
        Draw a legend of the fates in each panel.
    show
        Call :func:`matplotlib.pyplot.show` when ``True``; nothing is shown otherwise (safe with the
        non-interactive ``Agg`` backend).
    save
        Path to write the figure to (format from the extension), or ``None``.

    Returns
    -------
    list of matplotlib.axes.Axes
        One axes per gene, in the order of ``genes`` (always a list; the figure is ``axes[0].figure``),
        titled with the gene's name. In each, one line per fate (``gid`` and label the fate) through its
        means in time order, and, with ``n_se > 0``, a band (``gid`` ``"{fate} band"``) between
        ``mean - n_se * se`` and ``mean + n_se * se``.

    Raises
    ------
    KeyError
        No table at ``uns[key]``.
    ValueError
        A table without the columns above, a gene or fate not in it (the message lists what is there),
        a negative ``n_se`` or ``ncols`` not a positive integer.
    TypeError
        Something other than an AnnData or a DataFrame.

    Examples
    --------
    >>> import cellbridge as cb
    >>> cb.tl.gene_trends(adata, model, genes=["Gata1", "Spi1"], groupby="cell_type")  # doctest: +SKIP
    >>> cb.pl.gene_trends(adata, ["Gata1", "Spi1"])  # doctest: +SKIP
    """
    table, params = _trend_table(adata_or_trends, key)
    found_genes = list(pd.unique(table["gene"]))
    if genes is None:
        genes = found_genes
    else:
        genes = [genes] if isinstance(genes, str) else [str(g) for g in genes]
        unknown = [g for g in genes if g not in found_genes]
        if unknown or not genes:
            shown = found_genes[:20] + (["..."] if len(found_genes) > 20 else [])
            raise ValueError(f"gene(s) {unknown} have no trend in the table; genes: {shown}")
    found_fates = list(pd.unique(table["fate"]))
    if fates is None:
        fates = found_fates
    else:
        fates = [fates] if isinstance(fates, str) else [str(f) for f in fates]
        unknown = [f for f in fates if f not in found_fates]
        if unknown or not fates:
            raise ValueError(f"fate(s) {unknown} are not in the table; fates: {found_fates}")
    if not np.isfinite(n_se) or n_se < 0:
        raise ValueError(f"n_se must be a non-negative number, got {n_se!r}")
    if not genes:
        raise ValueError("the gene-trend table is empty")

    fig, axs = panel_grid(len(genes), ncols, panel_size=(4.0, 3.0))
    if sharey:
        for other in axs[1:]:
            other.sharey(axs[0])
    time_key = params.get("time_key")
    colours = {fate: f"C{i % 10}" for i, fate in enumerate(fates)}
    for ax, gene in zip(axs, genes):
        rows = table[table["gene"] == gene]
        for fate in fates:
            sub = rows[rows["fate"] == fate].sort_values("time", kind="stable")
            if sub.empty:
                continue
            t = sub["time"].to_numpy(dtype=np.float64)
            mean = sub["mean"].to_numpy(dtype=np.float64)
            se = sub["se"].to_numpy(dtype=np.float64)
            ax.plot(t, mean, color=colours[fate], linewidth=1.8, label=fate, gid=fate, zorder=3)
            if n_se > 0:
                ax.fill_between(t, mean - n_se * se, mean + n_se * se, color=colours[fate], alpha=0.2,
                                linewidth=0, gid=f"{fate} band", zorder=2)
        ax.set_title(gene)
        ax.set_xlabel(f"time ({time_key})" if time_key else "time")
        ax.set_ylabel("expression")
        if legend:
            ax.legend(title="fate", fontsize=8, title_fontsize=8, frameon=False)
    finish(fig, save=save, show=show, what="gene_trends")
    return axs
