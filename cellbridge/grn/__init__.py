"""Gene regulatory networks: inferred from a time course, and scored against a ground truth.

AnnData-free but for the benchmark. :mod:`~cellbridge.grn.edges` converts between tidy edge tables and genes
x genes matrices (``S[i, j]`` is about regulator ``i`` -> target ``j``); :mod:`~cellbridge.grn.metrics`
scores a prediction against a signed truth as BEELINE does (Pratapa et al., Nature Methods 2020: AUROC,
AUPRC by the trapezoid rule and its ratio over the edge density, early precision ratio; self-loops are
excluded everywhere); :func:`infer_network` reads the network of a time course from a fitted model's drift
(:mod:`~cellbridge.grn.readout`) or from OT-matched velocities (:mod:`~cellbridge.grn.velocity_regression`),
and :func:`cellbridge.tl.grn` calls it on an AnnData. :mod:`~cellbridge.grn.benchmark` scores methods (the
baselines and cellbridge's) on AnnData of simulations with a known network, BEELINE's protocol
(:func:`run_benchmark`; ``cellbridge benchmark grn`` on the command line).
"""

from __future__ import annotations

from . import benchmark, edges, inference, metrics
from .benchmark import run_benchmark
from .edges import *  # noqa: F403 (the names of edges.__all__)
from .inference import *  # noqa: F403 (the names of inference.__all__)
from .metrics import *  # noqa: F403 (the names of metrics.__all__)

__all__ = [*edges.__all__, *metrics.__all__, *inference.__all__, "run_benchmark"]
