"""cellbridge: stochastic single-cell dynamics from time-course snapshots.

``cb.pp`` prepares an AnnData, ``cb.tl`` fits and simulates, ``cb.pl`` plots; the AnnData-free cores
(:mod:`cellbridge.ot`, :mod:`cellbridge.paths`, :mod:`cellbridge.nn`, :mod:`cellbridge.methods`,
:mod:`cellbridge.sde`, :mod:`cellbridge.metrics`, :mod:`cellbridge.evaluation`) can be used on their own.
"""

from importlib.metadata import PackageNotFoundError, version

from . import datasets, evaluation, metrics, pl, pp, tl
from ._settings import settings
from .model import CellBridgeModel, load

try:
    __version__ = version("cellbridge")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.1.0"

__all__ = ["pp", "tl", "pl", "datasets", "evaluation", "metrics", "CellBridgeModel", "load", "settings", "__version__"]
