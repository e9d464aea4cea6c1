"""Training methods behind one interface: [SF]2M and DSBM, registered by name.

:mod:`cellbridge.methods.base` holds the interface (config base, the training loop, the registry); each
method is one module that defines its config, trainer and :class:`Method` and registers it. Importing this
package registers the built-in methods.
"""

from .base import (
    FitContext,
    Method,
    MethodConfig,
    Stage,
    Term,
    Trainer,
    TrainResult,
    available_methods,
    available_terms,
    get_method,
    get_term,
    register_method,
    register_term,
    unregister_method,
)
from .sampler import IntervalSampler
from .sf2m import SF2M, SF2MConfig, SF2MTrainer  # isort: skip  (registered first: the default method)
from .dsbm import DSBM, DSBMConfig, DSBMTrainer  # isort: skip
from .growth import GrowthTerm  # isort: skip  (registers the growth term)
from .velocity import VelocityTerm  # isort: skip  (registers the velocity-matching term)
from .simulation import SimulationTerm  # isort: skip  (registers the simulation-matching term)

__all__ = [
    "DSBM", "DSBMConfig", "DSBMTrainer", "FitContext", "GrowthTerm", "IntervalSampler", "Method", "MethodConfig",
    "SF2M", "SF2MConfig", "SF2MTrainer", "SimulationTerm", "Stage", "Term", "TrainResult", "Trainer", "available_methods",
    "available_terms", "get_method", "get_term", "register_method", "register_term", "unregister_method", "VelocityTerm",
]
