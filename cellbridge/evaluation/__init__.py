"""Evaluation of fitted dynamics: baselines and leave-one-timepoint-out (AnnData-free cores)."""

from __future__ import annotations

from .baselines import (
    ALL_BASELINES,
    BASELINES,
    entropic_ot_interpolation,
    next_snapshot,
    ot_interpolation,
    previous_snapshot,
    random_pair_interpolation,
    unbalanced_ot_interpolation,
)
from .leave_one_out import METRICS, leave_one_out, model_predictor, summarize

__all__ = ["ALL_BASELINES", "BASELINES", "entropic_ot_interpolation", "unbalanced_ot_interpolation", "previous_snapshot", "next_snapshot", "random_pair_interpolation", "ot_interpolation", "METRICS", "leave_one_out", "model_predictor", "summarize"]
