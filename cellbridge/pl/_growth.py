"""Growth rate of each cell (:func:`cellbridge.tl.growth_rate`) on an embedding."""

from __future__ import annotations

from collections.abc import Sequence

import anndata as ad
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import TwoSlopeNorm

from .._keys import GROWTH_RATE
from ._utils import NA_COLOR, basis_key, component_labels, embedding, finish


def growth_rate(
    adata: ad.AnnData,
    *,
    basis: str = "umap",
    key: str = GROWTH_RATE,
    dims: Sequence[int] = (0, 1),
    cmap: str = "RdBu_r",
    vmax: float | None = None,
    size: float | None = None,
    ax: Axes | None = None,
    show: bool | None = None,
    save: str | None = None,
) -> Axes:
    """The learned growth rate of each cell on an embedding, on a diverging colour scale centred at 0.

    Cells with a positive rate (net proliferation) are drawn in the warm half of ``cmap``, those with a
    negative rate (net death) in the cold half, and a rate of 0 in its centre; the colour bar is labelled
    with the rate's unit and, from ``uns[key]`` as :func:`cellbridge.tl.growth_rate` writes it, whether the
    rates are absolute (population sizes were given at the fit) or relative (only differences between
    cells are identified: the centre 0 is then arbitrary). Cells without a rate (NaN) are drawn in light
    grey beneath the others; the cells with the largest absolute rates are drawn last.

    Parameters
    ----------
    adata
        An AnnData after :func:`cellbridge.tl.growth_rate`: ``obs[key]`` the rate of each cell, in log-mass
        per time unit.
    basis
        Embedding to draw on, named as scanpy's ``basis``: an ``adata.obsm`` key (``"X_umap"``) or the name
        without ``X_`` (``"umap"``).
    key
        Column of ``adata.obs`` with the rates (the ``key_added`` of :func:`cellbridge.tl.growth_rate`).
    dims
        The two columns of the embedding to draw, 0-based.
    cmap
        A diverging colour map (default ``"RdBu_r"``: red grows, blue shrinks).
    vmax
        The colour scale spans ``[-vmax, vmax]``; None: the largest absolute finite rate (the scale is
        symmetric about 0 either way, so equal colours mean equal rates of opposite sign).
    size
        Marker size of the cells; default ``120000 / n_cells`` capped to 1-20, as scanpy's.
    ax
        Axes to draw in; None makes a new figure.
    show
        Call :func:`matplotlib.pyplot.show` when ``True``; nothing is shown otherwise.
    save
        Path to write the figure to (format from the extension), or ``None``.

    Returns
    -------
    matplotlib.axes.Axes
        The axes. Its collection with ``gid`` ``"rate"`` holds the cells with a rate, whose
        ``get_array()`` are the rates in drawing order and ``get_facecolors()`` their colours; ``"other"``
        the cells without one.

    Raises
    ------
    KeyError
        ``obs[key]`` is missing (the message says to run :func:`cellbridge.tl.growth_rate`), or there is no
        embedding for ``basis``.
    ValueError
        Rates that are not numbers or are all NaN, a non-positive ``vmax``, or ``dims`` out of range.

    Examples
    --------
    >>> import cellbridge as cb
    >>> model = cb.tl.fit(adata, time_key="day", growth=True)  # doctest: +SKIP
    >>> cb.tl.growth_rate(adata, model)  # doctest: +SKIP
    >>> cb.pl.growth_rate(adata, basis="umap")  # doctest: +SKIP
    """
    import matplotlib.pyplot as plt

    if not isinstance(adata, ad.AnnData):
        raise TypeError(f"adata must be an AnnData, not {type(adata).__name__}")
    if key not in adata.obs:
        raise KeyError(f"adata.obs has no {key!r}: run cellbridge.tl.growth_rate(adata, model) first (on a model "
                       "fitted with growth=True), or pass key= the column of rates")
    try:
        rate = adata.obs[key].to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"adata.obs[{key!r}] must hold numbers (growth rates), not {adata.obs[key].dtype}") from None
    has = np.isfinite(rate)
    if not has.any():
        raise ValueError(f"adata.obs[{key!r}] has no finite rate")
    rep_key = basis_key(adata, basis)
    xy = embedding(adata, rep_key, dims)
    xlabel, ylabel = component_labels(rep_key, tuple(int(d) for d in dims), basis=True)
    if vmax is None:
        vmax = float(np.abs(rate[has]).max())
        vmax = vmax if vmax > 0 else 1.0  # all zero: any symmetric scale puts every cell at the centre
    elif not (np.isfinite(vmax) and vmax > 0):
        raise ValueError(f"vmax must be a positive number, got {vmax}")
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-float(vmax), vmax=float(vmax))
    if size is None:
        size = float(np.clip(120000 / max(adata.n_obs, 1), 1.0, 20.0))

    if ax is None:
        fig, ax = plt.subplots(figsize=(4.8, 4.0), layout="constrained")
    fig = ax.figure
    raster = adata.n_obs > 5000
    ax.scatter(xy[~has, 0], xy[~has, 1], s=size, c=NA_COLOR, linewidths=0, rasterized=raster, zorder=1, gid="other")
    rows = np.flatnonzero(has)
    rows = rows[np.argsort(np.abs(rate[rows]), kind="stable")]
    points = ax.scatter(xy[rows, 0], xy[rows, 1], s=size, c=rate[rows], cmap=cmap, norm=norm, linewidths=0,
                        rasterized=raster, zorder=2, gid="rate")
    info = adata.uns.get(key)
    kind = info.get("identifiable") if isinstance(info, dict) else None
    label = "growth rate (log-mass per time unit)"
    if kind in ("absolute", "relative"):
        label += f", {kind}"
    fig.colorbar(points, ax=ax, shrink=0.85).set_label(label)
    ax.set_title("growth rate" + (" (relative: differences only)" if kind == "relative" else ""), fontsize=10)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_xticks([])
    ax.set_yticks([])
    finish(fig, save=save, show=show, what="growth_rate")
    return ax
