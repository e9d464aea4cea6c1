"""Argument checks that every tool taking an AnnData and a fitted model shares (each error names its argument)."""

from __future__ import annotations

from anndata import AnnData

from ..model import CellBridgeModel


def check_model(model) -> None:
    """TypeError unless ``model`` is a fitted :class:`~cellbridge.CellBridgeModel`."""
    if not isinstance(model, CellBridgeModel):
        raise TypeError("model must be a fitted cellbridge.CellBridgeModel (from cellbridge.tl.fit or "
                        f"cellbridge.load), not {type(model).__name__}")


def check_data_and_model(adata, model, *, time_key=None, use_rep=None) -> None:
    """TypeError unless ``adata`` is an AnnData, ``model`` a fitted model, and ``time_key`` / ``use_rep``
    (when given) strings; None stands for the model's own key."""
    if not isinstance(adata, AnnData):
        raise TypeError(f"adata must be an AnnData, not {type(adata).__name__}")
    check_model(model)
    if time_key is not None and not isinstance(time_key, str):
        raise TypeError(f"time_key must be a column name of adata.obs or None, not {type(time_key).__name__}")
    if use_rep is not None and not isinstance(use_rep, str):
        raise TypeError(f"use_rep must be 'X', a key of adata.obsm or None, not {type(use_rep).__name__}")
