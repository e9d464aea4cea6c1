"""The time-conditioned MLP of the flow, score and drift networks."""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

#: Name -> activation module of the hidden layers (the ``activation`` setting of a network).
ACTIVATIONS = {
    "selu": nn.SELU,
    "silu": nn.SiLU,
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "elu": nn.ELU,
    "tanh": nn.Tanh,
    "leaky_relu": nn.LeakyReLU,
}


class TimeMLP(nn.Module):
    """An MLP of ``(t, x)``: the time enters as ``t`` and Fourier features ``sin(pi k t), cos(pi k t)``.

    Time is expected in ``[0, 1]`` (the model rescales the time course to it); the Fourier features let one
    network represent dynamics that change character between intervals.

    Parameters
    ----------
    dim
        Input (and by default output) dimension.
    hidden_dims
        Widths of the hidden layers.
    activation
        One of ``"selu"``, ``"silu"``, ``"relu"``, ``"gelu"``, ``"elu"``, ``"tanh"``, ``"leaky_relu"``.
    n_freqs
        Number of Fourier frequencies of the time embedding (0: time appended as is).
    out_dim
        Output dimension (default ``dim``).
    """

    def __init__(
        self,
        dim: int,
        hidden_dims: Sequence[int] = (64, 64, 64),
        activation: str = "selu",
        n_freqs: int = 4,
        out_dim: int | None = None,
    ):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose from {sorted(ACTIVATIONS)}")
        if dim < 1 or any(h < 1 for h in hidden_dims) or n_freqs < 0:
            raise ValueError("dim and hidden widths must be positive and n_freqs non-negative")
        self.config = {
            "dim": int(dim),
            "hidden_dims": [int(h) for h in hidden_dims],
            "activation": activation,
            "n_freqs": int(n_freqs),
            "out_dim": int(out_dim or dim),
        }
        self.register_buffer("freqs", math.pi * torch.arange(1, n_freqs + 1, dtype=torch.float32), persistent=False)
        layers: list[nn.Module] = []
        width = dim + 1 + 2 * n_freqs
        for h in hidden_dims:
            layers += [nn.Linear(width, h), ACTIVATIONS[activation]()]
            width = h
        layers.append(nn.Linear(width, self.config["out_dim"]))
        self.net = nn.Sequential(*layers)

    def forward(self, t: torch.Tensor | float, x: torch.Tensor) -> torch.Tensor:
        """Evaluate at times ``t`` (scalar, ``(n,)`` or ``(n, 1)``) and states ``x`` ``(n, dim)``."""
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device).reshape(-1, 1).expand(x.shape[0], 1)
        angles = t * self.freqs.to(x.dtype)
        return self.net(torch.cat([x, t, torch.sin(angles), torch.cos(angles)], dim=1))
