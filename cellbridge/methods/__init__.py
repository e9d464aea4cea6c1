"""Training methods: [SF]2M (DSBM to follow), sharing one minibatch sampler over time intervals."""

from .sampler import IntervalSampler
from .sf2m import SF2MConfig, SF2MTrainer

__all__ = ["IntervalSampler", "SF2MConfig", "SF2MTrainer"]
