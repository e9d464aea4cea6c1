"""Evaluation of fitted dynamics: baselines and leave-one-timepoint-out (AnnData-free cores)."""

from __future__ import annotations

from .baselines import BASELINES, next_snapshot, ot_interpolation, previous_snapshot, random_pair_interpolation
from .leave_one_out import METRICS, leave_one_out, model_predictor, summarize

__all__ = ["BASELINES", "previous_snapshot", "next_snapshot", "random_pair_interpolation", "ot_interpolation", "METRICS", "leave_one_out", "model_predictor", "summarize"]
