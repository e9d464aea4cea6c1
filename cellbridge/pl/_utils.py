"""Helpers shared by the plotting functions: embeddings, axis labels, panel grids and finishing a figure."""

from __future__ import annotations

from collections.abc import Sequence

import anndata as ad
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .._logging import logger

#: light grey of the cells that a panel does not colour (scanpy's "NA" colour)
NA_COLOR = "lightgray"


def finish(fig: Figure, *, save: str | None, show: bool | None, what: str) -> None:
    """Write the figure to ``save`` (format from the extension) and show it when ``show`` is true."""
    if save is not None:
        fig.savefig(save, dpi=150, bbox_inches="tight")
        logger.info(f"{what}: saved figure to {save}")
    if show:
        plt.show()


def basis_key(adata: ad.AnnData, basis: str) -> str:
    """The ``adata.obsm`` key of an embedding named as scanpy's ``basis``: the key itself (``"X_umap"``) or
    the name without ``X_`` (``"umap"``)."""
    if not isinstance(basis, str):
        raise TypeError(f"basis must be a string such as 'umap' or 'X_umap', or None, not {type(basis).__name__}")
    for key in (basis, f"X_{basis}"):
        if key in adata.obsm:
            return key
    raise KeyError(f"basis {basis!r}: adata.obsm has neither {basis!r} nor {'X_' + basis!r}; compute it first "
                   f"(e.g. scanpy.tl.umap) or pick one of {list(adata.obsm.keys())}")


def component_labels(key: str, dims: Sequence[int], *, basis: bool) -> list[str]:
    """Axis labels of columns ``dims`` of ``obsm[key]``: scanpy's ``UMAP1``, ``PC2``, ``tSNE1``, ... (1-based)
    for an embedding named by ``basis``; ``X_pca[0]`` (0-based columns) for a representation."""
    if not basis:
        return [f"{key}[{d}]" for d in dims]
    name = key[2:] if key.startswith("X_") else key
    prefix = {"umap": "UMAP", "tsne": "tSNE", "pca": "PC", "diffmap": "DC", "phate": "PHATE"}.get(name)
    if prefix is None:
        prefix = name.replace("draw_graph_", "").upper() if name.startswith("draw_graph") else name
    return [f"{prefix}{d + 1}" for d in dims]


def embedding(adata: ad.AnnData, key: str, dims: Sequence[int]) -> np.ndarray:
    """Columns ``dims`` of ``adata.obsm[key]`` (``"X"``: the matrix itself) as float64, checked."""
    value = adata.X if key == "X" else adata.obsm[key]
    if isinstance(value, pd.DataFrame):
        value = value.to_numpy()
    value = np.asarray(value.toarray() if hasattr(value, "toarray") else value, dtype=np.float64)
    if value.ndim != 2:
        raise ValueError(f"adata.obsm[{key!r}] must be two-dimensional, got shape {value.shape}")
    dims = check_dims(dims, value.shape[1], key)
    return value[:, list(dims)]


def check_dims(dims: Sequence[int], n_cols: int, key: str) -> tuple[int, int]:
    """Two column indices within ``0..n_cols-1``."""
    dims = tuple(int(d) for d in dims)
    if len(dims) != 2:
        raise ValueError(f"dims must name two columns, got {dims}")
    if any(d < 0 or d >= n_cols for d in dims):
        raise ValueError(f"dims {dims} out of range for {key!r} with {n_cols} columns: choose two of 0..{n_cols - 1}")
    return dims


def panel_grid(n_panels: int, ncols: int, *, panel_size: tuple[float, float]) -> tuple[Figure, list[Axes]]:
    """A figure with ``n_panels`` axes in rows of ``ncols`` (the unused cells of the last row removed)."""
    if isinstance(ncols, (bool, np.bool_)) or not isinstance(ncols, (int, np.integer)) or ncols < 1:
        raise ValueError(f"ncols must be a positive integer, got {ncols!r}")
    ncols = int(min(ncols, n_panels))
    nrows = int(np.ceil(n_panels / ncols))
    fig, axs = plt.subplots(nrows, ncols, figsize=(panel_size[0] * ncols, panel_size[1] * nrows), squeeze=False,
                            layout="constrained")
    flat = list(axs.ravel())
    for extra in flat[n_panels:]:
        extra.remove()
    return fig, flat[:n_panels]


def category_colors(adata: ad.AnnData, key: str, categories: Sequence) -> list:
    """One colour per category: ``adata.uns[f"{key}_colors"]`` when it has enough entries (scanpy's
    convention), else matplotlib's ``tab10`` / ``tab20`` or, beyond 20 categories, evenly spaced hues."""
    n = len(categories)
    stored = adata.uns.get(f"{key}_colors")
    if stored is not None and len(stored) >= n:
        return list(stored)[:n]
    if stored is not None:
        logger.warning(f"adata.uns['{key}_colors'] has {len(stored)} colours for {n} categories; "
                       "using a default palette")
    if n <= 10:
        return [plt.get_cmap("tab10")(i) for i in range(n)]
    if n <= 20:
        return [plt.get_cmap("tab20")(i) for i in range(n)]
    return [plt.get_cmap("hsv")(i / n) for i in range(n)]
