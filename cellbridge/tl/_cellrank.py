"""``cb.tl.cellrank_kernel``: a fitted model's transition matrix as a CellRank kernel."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from anndata import AnnData

from .. import _keys as keys
from .._logging import logger
from ..model import CellBridgeModel
from ._transitions import transition_matrix

#: what to install for CellRank
INTEROP_HINT = "pip install 'cellbridge[interop]'"


def _import_cellrank():
    try:
        import cellrank
    except ImportError as err:
        raise ImportError(f"cellbridge.tl.cellrank_kernel needs CellRank (>= 2.0): {INTEROP_HINT}") from err
    return cellrank


def cellrank_kernel(
    adata: AnnData,
    model: CellBridgeModel,
    *,
    recompute: bool = True,
    key_added: str = keys.DEFAULT_TRANSITIONS_KEY,
    **transition_matrix_kwargs: Any,
):
    """A CellRank kernel holding a fitted model's one-step transition matrix.

    The matrix is :func:`cellbridge.tl.transition_matrix`'s (computed here, or reused from
    ``adata.obsp[key_added]``), wrapped in a :class:`cellrank.kernels.PrecomputedKernel` so that CellRank's
    estimators (e.g. :class:`cellrank.estimators.GPCCA`) find macrostates, terminal states and fate
    probabilities from the model's dynamics. Needs the ``interop`` extra: ``pip install
    'cellbridge[interop]'``.

    Parameters
    ----------
    adata
        The time course the model was fitted to (the kernel refers to it).
    model
        A fitted :class:`cellbridge.CellBridgeModel`.
    recompute
        Compute the matrix afresh (default). With False, reuse ``adata.obsp[key_added]`` when it is there
        (``transition_matrix_kwargs`` are then not used), and compute it otherwise.
    key_added
        ``adata.obsp`` key of the matrix (written when it is computed).
    **transition_matrix_kwargs
        Passed on to :func:`cellbridge.tl.transition_matrix` (``dt``, ``n_sims``, ``n_neighbors``,
        ``time_key``, ``use_rep``, ``stochastic``, ``rng``, ``batch_size``, ``progress``, ...).

    Returns
    -------
    cellrank.kernels.PrecomputedKernel
        A forward kernel (``backward=False``) on ``adata`` whose ``transition_matrix`` is the matrix.

    Raises
    ------
    ImportError
        CellRank is not installed (the message says ``pip install 'cellbridge[interop]'``).
    TypeError, ValueError
        An argument of the wrong type or out of range (see :func:`cellbridge.tl.transition_matrix`), or a
        reused ``adata.obsp[key_added]`` that is not a square row-stochastic matrix of ``adata``'s cells.

    Notes
    -----
    The cells of the model's last time point are nearly absorbing in this matrix (see
    :func:`cellbridge.tl.transition_matrix`), so GPCCA's terminal macrostates are found among them.

    Examples
    --------
    >>> import cellrank as cr  # doctest: +SKIP
    >>> kernel = cb.tl.cellrank_kernel(adata, model)  # doctest: +SKIP
    >>> g = cr.estimators.GPCCA(kernel)  # doctest: +SKIP
    >>> g.compute_schur(n_components=5); g.compute_macrostates(n_states=3)  # doctest: +SKIP
    """
    cellrank = _import_cellrank()
    if not isinstance(adata, AnnData):
        raise TypeError(f"adata must be an AnnData, not {type(adata).__name__}")
    if not isinstance(recompute, (bool, np.bool_)):
        raise TypeError(f"recompute must be True or False, got {recompute!r}")
    if not isinstance(key_added, str) or not key_added:
        raise ValueError(f"key_added must be a non-empty string, got {key_added!r}")
    if recompute or key_added not in adata.obsp:
        matrix = transition_matrix(adata, model, key_added=key_added, **transition_matrix_kwargs)
    else:
        matrix = adata.obsp[key_added]
        if not sp.issparse(matrix):
            matrix = sp.csr_matrix(np.asarray(matrix))
        sums = np.asarray(matrix.sum(axis=1)).ravel()
        if matrix.shape != (adata.n_obs, adata.n_obs) or not np.allclose(sums, 1.0, rtol=0, atol=1e-8):
            raise ValueError(f"key_added={key_added!r}: adata.obsp[{key_added!r}] is not a row-stochastic "
                             f"{adata.n_obs} x {adata.n_obs} matrix; compute it with recompute=True")
        logger.info(f"reusing the transition matrix in obsp['{key_added}']")
    kernel = cellrank.kernels.PrecomputedKernel(sp.csr_matrix(matrix), adata=adata, backward=False)
    kernel.params["origin"] = f"cellbridge ({model.method}), adata.obsp[{key_added!r}]"
    return kernel
