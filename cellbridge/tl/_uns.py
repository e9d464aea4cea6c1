"""Making records h5ad-writable before they go into ``adata.uns``."""

from __future__ import annotations

from typing import Any

import numpy as np


def h5ad_safe(value: Any) -> Any:
    """Convert a nested record into types that ``AnnData.write_h5ad`` stores.

    ``None`` entries are dropped (h5ad has no null), tuples and lists become arrays (lists of strings stay
    string arrays), NumPy scalars become Python scalars; dicts are converted recursively.
    """
    if isinstance(value, dict):
        return {str(k): h5ad_safe(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        if all(isinstance(v, str) for v in value):
            return np.asarray(value, dtype=object) if value else np.zeros(0)
        return np.asarray([h5ad_safe(v) for v in value])
    if isinstance(value, np.generic):
        return value.item()
    return value
