"""Argument checks, and the reading of the model's time course, that every tool taking an AnnData and a fitted
model shares (each error names its argument)."""

from __future__ import annotations

from anndata import AnnData

from ..model import CellBridgeModel
from ..time_labels import parse_time
from ..timecourse import get_rep


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


def model_course(adata: AnnData, model: CellBridgeModel, time_key: str | None = None, use_rep: str | None = None):
    """The states and times of the time course ``model`` describes in ``adata``: ``(x, times, time_key,
    use_rep)``, the keys defaulting to the model's, ``x`` float64 with the model's dimensions (errors name
    the key at fault)."""
    time_key = model.time_key if time_key is None else time_key
    use_rep = model.use_rep if use_rep is None else use_rep
    if time_key is None:
        raise ValueError("time_key: the model records none (it was not fitted by cellbridge.tl.fit); pass time_key=")
    if use_rep is None:
        raise ValueError("use_rep: the model records none (it was not fitted by cellbridge.tl.fit); pass use_rep=")
    if time_key not in adata.obs.columns:
        raise ValueError(f"time_key {time_key!r} is not a column of adata.obs (available: {list(adata.obs.columns)})")
    try:
        x = get_rep(adata, use_rep, keep_float64=True)
    except (TypeError, ValueError) as err:
        raise type(err)(f"use_rep={use_rep!r}: {err}") from None
    if x.shape[1] != model.dim:
        where = "adata.X" if use_rep == "X" else f"adata.obsm[{use_rep!r}]"
        raise ValueError(f"use_rep={use_rep!r}: {where} has {x.shape[1]} dimensions, the model {model.dim}")
    return x, parse_time(adata.obs[time_key], name=time_key), time_key, use_rep
