"""Data sets: loaders of public time courses (origin URL, SHA-256, local cache) and synthetic generators."""

from __future__ import annotations

from .synthetic import bifurcation, gaussian_time_course
from .timecourses import (
    citeseq,
    embryoid_body,
    emt,
    hsmm,
    ipsc_bifurcation,
    moscot_reprogramming,
    multiome,
    tigon_simulation,
)

__all__ = [
    "bifurcation",
    "gaussian_time_course",
    "ipsc_bifurcation",
    "emt",
    "tigon_simulation",
    "moscot_reprogramming",
    "hsmm",
    "embryoid_body",
    "citeseq",
    "multiome",
]
