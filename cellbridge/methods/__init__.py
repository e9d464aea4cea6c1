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
    Trainer,
    TrainResult,
    available_methods,
    get_method,
    register_method,
    unregister_method,
)
from .sampler import IntervalSampler
from .sf2m import SF2M, SF2MConfig, SF2MTrainer  # isort: skip  (registered first: the default method)
from .dsbm import DSBM, DSBMConfig, DSBMTrainer  # isort: skip

__all__ = [
    "DSBM", "DSBMConfig", "DSBMTrainer", "FitContext", "IntervalSampler", "Method", "MethodConfig", "SF2M",
    "SF2MConfig", "SF2MTrainer", "Stage", "TrainResult", "Trainer", "available_methods", "get_method",
    "register_method", "unregister_method",
]
