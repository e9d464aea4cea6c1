"""``cb.tl.growth_rate``: a growth model's rate at each cell, at its own time."""

from __future__ import annotations

import numpy as np
from anndata import AnnData

from .. import _keys as keys
from .._logging import logger
from ..model import CellBridgeModel
from ..time_labels import parse_time
from ..timecourse import get_rep


def growth_rate(adata: AnnData, model: CellBridgeModel, *, key_added: str = keys.GROWTH_RATE,
                copy: bool = False) -> AnnData | None:
    """Write the learned growth rate of each cell at its own time, ``g(t_i, x_i)``, to ``obs[key_added]``.

    Parameters
    ----------
    adata
        The time course (times in ``obs[model.time_key]``, states in ``obsm[model.use_rep]``).
    model
        A model fitted with ``growth=True`` (:func:`cellbridge.tl.fit`).
    key_added
        Column of ``adata.obs`` to write (default ``"cellbridge_growth_rate"``).
    copy
        Return a modified copy instead of writing into ``adata``.

    Returns
    -------
    AnnData or None
        The copy when ``copy=True``. ``obs[key_added]`` holds rates in log-mass per time unit (positive:
        proliferating, negative: dying); ``uns[key_added]`` records whether they are ``"absolute"``
        (population sizes given at the fit) or ``"relative"`` (only differences between cells mean
        anything).
    """
    if not isinstance(model, CellBridgeModel):
        raise TypeError(f"model must be a fitted cellbridge.CellBridgeModel, not {type(model).__name__}")
    if not model.has_growth:
        raise ValueError("the model has no growth network: fit it with cellbridge.tl.fit(..., growth=True)")
    if model.time_key is None or model.use_rep is None or model.time_key not in adata.obs:
        raise ValueError("the model's time_key must be a column of adata.obs (fit it with cellbridge.tl.fit)")
    adata = adata.copy() if copy else adata
    t = parse_time(adata.obs[model.time_key], name=model.time_key)
    x = get_rep(adata, model.use_rep)
    adata.obs[key_added] = model.growth_rate(np.asarray(t, dtype=np.float64), np.asarray(x))
    adata.uns[key_added] = {"identifiable": model.growth_identifiable, "time_key": model.time_key,
                            "use_rep": model.use_rep}
    logger.info(f"added obs['{key_added}'] (growth rate per time unit, {model.growth_identifiable}) and "
                f"uns['{key_added}']")
    return adata if copy else None
