"""Gene regulatory networks: scoring a predicted network against a ground truth.

:mod:`cellbridge.grn.metrics` is AnnData-free: a prediction is a genes x genes score matrix ``S`` with
``S[i, j]`` the score of regulator ``i`` -> target ``j`` (or a tidy edge table), the truth a signed
adjacency matrix in the same orientation (or an edge table ``regulator``, ``target``, ``sign``). The
metrics follow BEELINE (Pratapa et al., Nature Methods 2020): AUROC, AUPRC (trapezoid rule) and its
ratio over the edge density, early precision ratio; self-loops are excluded everywhere.
"""

from __future__ import annotations

from .metrics import (
    EDGE_COLUMNS,
    as_edge_table,
    auprc,
    auprc_ratio,
    auroc,
    average_precision,
    candidate_mask,
    early_precision,
    early_precision_ratio,
    edge_density,
    edges_to_matrix,
    matrix_to_edges,
    score_network,
    signed_accuracy,
)

__all__ = [
    "EDGE_COLUMNS",
    "as_edge_table",
    "edges_to_matrix",
    "matrix_to_edges",
    "candidate_mask",
    "edge_density",
    "auroc",
    "average_precision",
    "auprc",
    "auprc_ratio",
    "early_precision",
    "early_precision_ratio",
    "signed_accuracy",
    "score_network",
]
