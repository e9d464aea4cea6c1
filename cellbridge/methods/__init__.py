"""Training methods: [SF]2M and DSBM, sharing one minibatch sampler over time intervals."""

from .dsbm import DSBMConfig, DSBMTrainer
from .sampler import IntervalSampler
from .sf2m import SF2MConfig, SF2MTrainer

__all__ = ["DSBMConfig", "DSBMTrainer", "IntervalSampler", "SF2MConfig", "SF2MTrainer"]
