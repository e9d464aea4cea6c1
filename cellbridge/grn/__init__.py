"""Gene regulatory networks: scoring a predicted network against a ground truth.

AnnData-free. :mod:`~cellbridge.grn.edges` converts between tidy edge tables and genes x genes matrices
(``S[i, j]`` is about regulator ``i`` -> target ``j``); :mod:`~cellbridge.grn.metrics` scores a prediction
against a signed truth as BEELINE does (Pratapa et al., Nature Methods 2020: AUROC, AUPRC by the trapezoid
rule and its ratio over the edge density, early precision ratio; self-loops are excluded everywhere).
"""

from __future__ import annotations

from . import edges, metrics
from .edges import *  # noqa: F403 (the names of edges.__all__)
from .metrics import *  # noqa: F403 (the names of metrics.__all__)

__all__ = [*edges.__all__, *metrics.__all__]
