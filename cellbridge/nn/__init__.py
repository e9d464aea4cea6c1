"""Networks: the time-conditioned MLP and the neural-graphical-model drift, and rebuilding either from
the config a saved model holds."""

from __future__ import annotations

import torch

from .mlp import ACTIVATIONS, TimeMLP
from .ngm import NGMDrift, adaptive_weights

__all__ = ["ACTIVATIONS", "NGMDrift", "TimeMLP", "adaptive_weights", "build_network"]


def build_network(net_cfg: dict) -> torch.nn.Module:
    """An untrained network of the class and shape a saved config describes.

    ``net_cfg`` is a network's ``config`` attribute: ``kind="ngm"`` gives an :class:`NGMDrift`, anything
    else a :class:`TimeMLP`.
    """
    if net_cfg.get("kind") == "ngm":
        return NGMDrift(**{k: v for k, v in net_cfg.items() if k != "kind"})
    return TimeMLP(net_cfg["dim"], net_cfg["hidden_dims"], net_cfg["activation"], net_cfg["n_freqs"], net_cfg["out_dim"])
