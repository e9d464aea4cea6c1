"""The ground-truth network that the GRN data sets of :mod:`cellbridge.datasets` carry.

The simulators (:func:`cellbridge.datasets.simulate_boolode`) and readers (:func:`cellbridge.datasets.read_beeline`,
:func:`cellbridge.datasets.read_sergio`) return the true edges twice: as a DataFrame with columns
``regulator``, ``target`` and ``sign``, and in ``adata.uns[GRN_TRUTH_KEY]`` as a dict of arrays, the form
that writes to ``.h5ad``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["GRN_TRUTH_KEY", "edges_to_uns"]

#: ``adata.uns`` key of the ground-truth edges (a dict of arrays ``regulator``, ``target``, ``sign``),
#: written by the simulators and readers of :mod:`cellbridge.datasets`
GRN_TRUTH_KEY = "grn_truth"


def edges_to_uns(edges: pd.DataFrame) -> dict[str, np.ndarray]:
    """The ``.h5ad``-writable form of an edge table, as stored under ``adata.uns[GRN_TRUTH_KEY]``.

    Parameters
    ----------
    edges
        Columns ``regulator``, ``target`` (gene names) and ``sign`` (+1 activation, -1 repression, 0
        unknown).

    Returns
    -------
    dict
        ``regulator`` and ``target`` as object arrays of str, ``sign`` as int8.
    """
    return {
        "regulator": edges["regulator"].astype(str).to_numpy(dtype=object),
        "target": edges["target"].astype(str).to_numpy(dtype=object),
        "sign": edges["sign"].to_numpy(dtype=np.int8),
    }
