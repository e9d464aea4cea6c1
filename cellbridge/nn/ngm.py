r"""A neural graphical model (NGM) drift: one small MLP per target gene, with a group lasso on its inputs.

Bellot, Branson and van der Schaar, "Neural graphical modelling in continuous-time: consistency
guarantees and algorithms", ICLR 2022. The drift of target gene :math:`i` is its own MLP over all input
genes,

.. math::

    f_i(t, x) = \mathrm{MLP}_i\!\left(W^{(i)} x + U^{(i)} \phi(t) + b^{(i)}\right),
    \qquad W^{(i)} \in \mathbb{R}^{h \times d},

where :math:`\phi(t) = (t, \sin \pi k t, \cos \pi k t)_{k \le K}` are the time features of
:class:`cellbridge.nn.TimeMLP` (or nothing, for an autonomous drift). Input gene :math:`j` can act on
target :math:`i` only through the column :math:`W^{(i)}_{:, j}`: when it is zero, :math:`f_i` does not
depend on :math:`x_j` at all. The **group lasso**

.. math::

    \Omega(W) = \sum_{i} \sum_{j \ne i} w_{ij} \, \lVert W^{(i)}_{:, j} \rVert_2

drives whole columns to zero, and the column norms are the edge scores: a large
:math:`\lVert W^{(i)}_{:, j} \rVert` means regulator :math:`j \to` target :math:`i`. The weights
:math:`w_{ij}` are 1 (group lasso) or, for the **adaptive** group lasso (Zou 2006; Wang and Leng 2008),
:math:`1 / \lVert \hat W^{(i)}_{:, j} \rVert^{\gamma}` from a first fit, which shrinks weak columns hard and
strong ones little (see :func:`adaptive_weights`). Self-columns (:math:`j = i`: the gene's own level, its
degradation) are not penalised by default: every gene decays, and a self-loop is no regulatory edge.

Why a structured drift: the drift of a Schrodinger bridge (or of exact OT) with a Brownian reference is a
gradient field, :math:`f = \nabla \psi`, whose Jacobian is symmetric and cannot tell :math:`j \to i` from
:math:`i \to j`. A per-target model with sparse inputs breaks that symmetry: it asks which genes the
velocity of gene :math:`i` needs.

**Orientation.** The package's convention for score matrices is :math:`S[\text{regulator}, \text{target}]`
(:mod:`cellbridge.grn`), so :meth:`NGMDrift.group_norms` returns the ``(n_inputs, n_targets)``
matrix :math:`S_{ji} = \lVert W^{(i)}_{:, j} \rVert`, regulator :math:`j` in the rows.

The per-target MLPs are evaluated together, never in a Python loop over genes: the first layer is one
matrix product with the stacked weights ``(n_targets * h, d)``, the deeper layers batched matrix products
over the targets.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from .mlp import ACTIVATIONS

__all__ = ["NGMDrift", "adaptive_weights"]


def _uniform_(tensor: torch.Tensor, fan_in: int) -> torch.Tensor:
    """``nn.Linear``'s default initialisation: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    bound = 1.0 / math.sqrt(max(fan_in, 1))
    with torch.no_grad():
        return tensor.uniform_(-bound, bound)


class NGMDrift(nn.Module):
    r"""Drift :math:`f(t, x)` made of one MLP per target gene over all input genes (a neural graphical model).

    Drop-in for :class:`cellbridge.nn.TimeMLP` (same ``forward(t, x)``, a ``config`` dict for save/load),
    with :meth:`group_norms` (the edge scores) and :meth:`group_lasso_penalty`.

    Parameters
    ----------
    dim
        Number of input genes :math:`d`.
    hidden_dims
        Widths of each target's hidden layers (the first is the width :math:`h` of the penalised columns).
    activation
        One of the activations of :class:`cellbridge.nn.TimeMLP` (``"selu"``, ``"silu"``, ``"elu"``, ...).
    n_freqs
        Fourier frequencies of the time features; ignored when ``time_conditioned`` is False.
    time_conditioned
        Whether time enters each target's first layer (``True``, like :class:`TimeMLP`) or the drift is
        autonomous, :math:`f(x)` (``False``): the right prior for a network whose rules do not change in
        time, which makes the genes, not the clock, explain the velocities.
    out_dim
        Number of target genes (default ``dim``: every input gene is also a target, in the same order).
    penalize_self
        Include the self-columns :math:`W^{(i)}_{:, i}` in the group lasso (only when ``out_dim == dim``).
    """

    def __init__(
        self,
        dim: int,
        hidden_dims: Sequence[int] = (16,),
        activation: str = "selu",
        n_freqs: int = 2,
        out_dim: int | None = None,
        time_conditioned: bool = True,
        penalize_self: bool = False,
    ):
        super().__init__()
        hidden_dims = [int(h) for h in hidden_dims]
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose from {sorted(ACTIVATIONS)}")
        if dim < 1 or not hidden_dims or any(h < 1 for h in hidden_dims) or n_freqs < 0:
            raise ValueError("dim and at least one hidden width must be positive, n_freqs non-negative")
        out_dim = int(out_dim or dim)
        self.config = {
            "kind": "ngm",
            "dim": int(dim),
            "hidden_dims": hidden_dims,
            "activation": activation,
            "n_freqs": int(n_freqs),
            "out_dim": out_dim,
            "time_conditioned": bool(time_conditioned),
            "penalize_self": bool(penalize_self),
        }
        n_time = (1 + 2 * n_freqs) if time_conditioned else 0
        self.n_time = n_time
        self.register_buffer("freqs", math.pi * torch.arange(1, n_freqs + 1, dtype=torch.float32), persistent=False)
        self.act = ACTIVATIONS[activation]()
        h0 = hidden_dims[0]
        fan_in = dim + n_time
        # first layer: the penalised input columns, the (unpenalised) time columns and the bias
        self.w_in = nn.Parameter(_uniform_(torch.empty(out_dim, h0, dim), fan_in))
        self.w_time = nn.Parameter(_uniform_(torch.empty(out_dim, h0, n_time), fan_in))
        self.b_in = nn.Parameter(_uniform_(torch.empty(out_dim, h0), fan_in))
        self.w_hidden = nn.ParameterList()
        self.b_hidden = nn.ParameterList()
        for a, b in zip(hidden_dims[:-1], hidden_dims[1:]):
            self.w_hidden.append(nn.Parameter(_uniform_(torch.empty(out_dim, b, a), a)))
            self.b_hidden.append(nn.Parameter(_uniform_(torch.empty(out_dim, b), a)))
        self.w_out = nn.Parameter(_uniform_(torch.empty(out_dim, hidden_dims[-1]), hidden_dims[-1]))
        self.b_out = nn.Parameter(_uniform_(torch.empty(out_dim), hidden_dims[-1]))
        if out_dim == dim and not penalize_self:
            mask = 1.0 - torch.eye(dim)
        else:
            mask = torch.ones(dim, out_dim)
        # penalty mask in the S[regulator, target] orientation of group_norms()
        self.register_buffer("penalty_mask", mask, persistent=False)

    def extra_repr(self) -> str:
        c = self.config
        return (f"dim={c['dim']}, out_dim={c['out_dim']}, hidden_dims={c['hidden_dims']}, activation={c['activation']!r}, "
                f"time_conditioned={c['time_conditioned']}" + (f", n_freqs={c['n_freqs']}" if c["time_conditioned"] else ""))

    @property
    def dim(self) -> int:
        return self.config["dim"]

    @property
    def out_dim(self) -> int:
        return self.config["out_dim"]

    def forward(self, t: torch.Tensor | float, x: torch.Tensor) -> torch.Tensor:
        """Evaluate at times ``t`` (scalar, ``(n,)`` or ``(n, 1)``) and states ``x`` ``(n, dim)``; ``(n, out_dim)``."""
        n_t, h0, d = self.w_in.shape
        z = x @ self.w_in.reshape(n_t * h0, d).T  # (n, n_targets * h0): every target's first layer at once
        if self.n_time:
            t = torch.as_tensor(t, dtype=x.dtype, device=x.device).reshape(-1, 1).expand(x.shape[0], 1)
            angles = t * self.freqs.to(x.dtype)
            feats = torch.cat([t, torch.sin(angles), torch.cos(angles)], dim=1)
            z = z + feats @ self.w_time.reshape(n_t * h0, self.n_time).T
        h = self.act(z + self.b_in.reshape(-1)).reshape(x.shape[0], n_t, h0)
        for w, b in zip(self.w_hidden, self.b_hidden):
            # per-target layers as one batched product over the targets: (n, T, a) x (T, b, a) -> (n, T, b)
            h = self.act(torch.einsum("nta,tba->ntb", h, w) + b)
        return (h * self.w_out).sum(-1) + self.b_out

    def group_norms(self) -> torch.Tensor:
        r"""First-layer column norms as a score matrix ``S`` of shape ``(n_inputs, n_targets)``.

        :math:`S_{ji} = \lVert W^{(i)}_{:, j} \rVert_2`: the weight of regulator (input) :math:`j` on target
        :math:`i`, in the package's ``S[regulator, target]`` orientation (differentiable; the diagonal holds
        the self-columns, which are no edges).
        """
        return torch.linalg.vector_norm(self.w_in, dim=1).T

    def group_lasso_penalty(self, adaptive_weights: torch.Tensor | None = None) -> torch.Tensor:
        r"""The group lasso :math:`\sum_{i} \sum_{j} m_{ji} w_{ji} \lVert W^{(i)}_{:, j} \rVert_2`.

        Parameters
        ----------
        adaptive_weights
            Weights :math:`w` of shape ``(n_inputs, n_targets)`` (the orientation of :meth:`group_norms`);
            None: all 1. The mask :math:`m` drops the self-columns unless ``penalize_self``.
        """
        norms = self.group_norms() * self.penalty_mask
        if adaptive_weights is not None:
            adaptive_weights = torch.as_tensor(adaptive_weights, dtype=norms.dtype, device=norms.device)
            if adaptive_weights.shape != norms.shape:
                raise ValueError(f"adaptive_weights must have shape {tuple(norms.shape)}, got {tuple(adaptive_weights.shape)}")
            norms = norms * adaptive_weights
        return norms.sum()


def adaptive_weights(norms: torch.Tensor, gamma: float = 1.0, eps: float = 1e-3,
                     mask: torch.Tensor | None = None) -> torch.Tensor:
    r"""Weights of the adaptive group lasso from the column norms of a first fit.

    :math:`w_{ji} = (\bar n / (n_{ji} + \epsilon \bar n))^{\gamma}` with :math:`\bar n` the mean of the
    penalised norms (those where ``mask`` is nonzero; all by default): a column at the average norm keeps
    weight 1, weaker columns are penalised more, stronger ones less; the relative floor :math:`\epsilon`
    keeps the weights finite for columns already at zero.
    """
    norms = norms.detach()
    if mask is None:
        mean = norms.mean()
    else:
        mask = mask.to(norms.dtype)
        mean = (norms * mask).sum() / mask.sum().clamp_min(1.0)
    mean = mean.clamp_min(1e-12)
    return (mean / (norms + eps * mean)) ** gamma
