r"""BoolODE's ODE model of a Boolean network, and its stochastic simulation as single-cell snapshots.

**ODEs.** Every gene :math:`g` has an mRNA :math:`x_g` and a protein :math:`p_g`:

.. math::

    \frac{dx_g}{dt} = m\, f_g(p) - l_x\, x_g, \qquad \frac{dp_g}{dt} = r\, x_g - l_p\, p_g,

with BoolODE's defaults :math:`m = 20`, :math:`l_x = 10`, :math:`r = 10`, :math:`l_p = 1` (so
:math:`x \le x_{max} = m / l_x = 2` and :math:`p \le y_{max} = x_{max} r / l_p = 20`), Hill coefficient
:math:`n = 10` and threshold :math:`k = y_{max}/2 = 10`. BoolODE writes the regulatory term as a
thermodynamic (Shea-Ackers) sum over the subsets :math:`S` of the regulators :math:`R_g`:

.. math::

    f_g(p) = \frac{\alpha_g + \sum_{\emptyset \ne S \subseteq R_g} a_{g,S} \prod_{r \in S} h_r}
                  {1 + \sum_{\emptyset \ne S \subseteq R_g} \prod_{r \in S} h_r},
    \qquad h_r = \left(\frac{p_r}{k_{r g}}\right)^{n},

where :math:`a_{g,S} \in \{0, 1\}` is the rule evaluated with the regulators in :math:`S` ON and the
others OFF (:math:`\alpha_g` with all OFF). Because the denominator factorises,
:math:`1 + \sum_S \prod_{r \in S} h_r = \prod_{r}(1 + h_r)`, this equals the probability that the rule
is true when each regulator is independently ON with probability :math:`H_r = h_r / (1 + h_r)`:

.. math::

    f_g(p) = \sum_{\sigma \in \{0,1\}^{R_g}} B_g(\sigma) \prod_{r \in R_g}
             H_r^{\sigma_r} (1 - H_r)^{1 - \sigma_r},

which is how it is computed here (exactly the same function, without the :math:`2^{|R_g|}` symbolic
terms). Interaction strengths :math:`w_{rg}` (``*_strengths.txt``) set the edge's threshold to
:math:`k_{rg} = k / w_{rg}`, as in BoolODE.

**Noise.** The chemical Langevin equation of the published model: each production and degradation
term carries its own white noise scaled by the square root of its propensity,

.. math::

    dx_g = (P - D)\,dt + s\left(\sqrt{P}\, dW_1 - \sqrt{D}\, dW_2\right), \quad P = m f_g(p),\ D = l_x x_g,

and likewise for :math:`p_g` with :math:`P = r x_g`, :math:`D = l_p p_g`; :math:`s` is the noise
strength. It is integrated by Euler-Maruyama with a fixed step (the two independent terms are drawn as
one Gaussian of variance :math:`(P + D)\,dt`, the same law). A step that would make a species negative
leaves that species at its previous value, BoolODE's rule.

**Simplifications** with respect to BoolODE's code: all genes share the same kinetic parameters (its
default ``sample_pars: False``); no "protein-only" species, parameter inputs, dummy genes or Heaviside
model type; initial conditions are exact (BoolODE's ``*_ics.txt``: listed genes at their value, the
others at 0.01, proteins at :math:`r x / l_p`; all mRNAs at 1 when no file is given). BoolODE's released
simulator uses the noise :math:`10\sqrt{|y|}\,\Delta W` per species with increments of standard deviation
:math:`h` (not :math:`\sqrt h`); here the increments are proper Wiener increments and the amplitude is the
chemical-Langevin one above, scaled by ``noise``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd
from scipy.special import expit

from ..._logging import logger
from ..._utils import RNGLike, as_numpy_rng
from ..grn_truth import GRN_TRUTH_KEY, edges_to_uns
from .io import RulesLike, as_model
from .rules import BooleanModel

__all__ = ["BOOLODE_KEY", "BoolODEParams", "as_params", "hill_activity", "simulate_boolode"]

#: ``adata.uns`` key of :func:`simulate_boolode`'s settings
BOOLODE_KEY = "boolode"


@dataclass(frozen=True)
class BoolODEParams:
    r"""Kinetic parameters, shared by all genes (BoolODE's defaults, ``BoolODE/parameters.yaml``).

    Attributes
    ----------
    m
        mRNA transcription rate (20).
    l_x
        mRNA degradation rate (10).
    r
        Protein translation rate (10).
    l_p
        Protein degradation rate (1).
    n
        Hill coefficient (10).
    k
        Hill threshold; ``None`` means BoolODE's :math:`y_{max}/2 = (m / l_x)(r / l_p)/2` (10).
    """

    m: float = 20.0
    l_x: float = 10.0
    r: float = 10.0
    l_p: float = 1.0
    n: float = 10.0
    k: float | None = None

    def __post_init__(self) -> None:
        for name in ("m", "l_x", "r", "l_p", "n"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v > 0):
                raise ValueError(f"BoolODEParams.{name} must be positive, got {v}")
        if self.k is not None and not (np.isfinite(self.k) and self.k > 0):
            raise ValueError(f"BoolODEParams.k must be positive, got {self.k}")

    @property
    def x_max(self) -> float:
        """Highest steady mRNA level, :math:`m / l_x`."""
        return self.m / self.l_x

    @property
    def y_max(self) -> float:
        """Highest steady protein level, :math:`x_{max}\\, r / l_p`."""
        return self.x_max * self.r / self.l_p

    @property
    def threshold(self) -> float:
        """Hill threshold :math:`k`."""
        return self.y_max / 2 if self.k is None else float(self.k)

    def as_dict(self) -> dict[str, float]:
        d = asdict(self)
        d["k"] = self.threshold
        return d


def as_params(params: BoolODEParams | Mapping[str, float] | None) -> BoolODEParams:
    """The kinetic parameters that ``params`` stands for.

    Parameters
    ----------
    params
        ``None`` (BoolODE's defaults), a mapping of :class:`BoolODEParams`' fields, or a
        :class:`BoolODEParams` (returned as is).

    Returns
    -------
    BoolODEParams
        ``params`` itself when it is one, otherwise the parameters it describes.
    """
    if params is None:
        return BoolODEParams()
    if isinstance(params, BoolODEParams):
        return params
    return BoolODEParams(**dict(params))


@dataclass(frozen=True)
class _Compiled:
    """Arrays for the vectorised regulatory term of every gene."""

    reg_idx: tuple[np.ndarray, ...]  # per gene: indices of its regulators
    on_states: tuple[np.ndarray, ...]  # per gene: (n_on, R) Boolean states where the rule is true
    log_k: tuple[np.ndarray, ...]  # per gene: log threshold of each incoming edge

    @classmethod
    def build(cls, model: BooleanModel, params: BoolODEParams) -> _Compiled:
        pos = {g: i for i, g in enumerate(model.genes)}
        reg_idx, on_states, log_k = [], [], []
        for g in model.genes:
            regs, states, value = model.truth_table(g)
            reg_idx.append(np.array([pos[r] for r in regs], dtype=np.intp))
            on_states.append(states[value])
            k = np.array([params.threshold / model.strengths.get((r, g), 1.0) for r in regs])
            log_k.append(np.log(k))
        return cls(tuple(reg_idx), tuple(on_states), tuple(log_k))

    def activity(self, protein: np.ndarray, n_hill: float) -> np.ndarray:
        """:math:`f_g(p)` for every gene: ``protein`` (cells, genes) -> (cells, genes) in [0, 1]."""
        with np.errstate(divide="ignore"):
            log_p = np.log(np.maximum(protein, 0.0))
        out = np.zeros_like(protein, dtype=np.float64)
        for g, (idx, on, lk) in enumerate(zip(self.reg_idx, self.on_states, self.log_k)):
            if on.shape[0] == 0:
                continue
            # H_r = h/(1+h) with h = (p/k)^n, computed as a logistic of n (log p - log k): no overflow
            hill = expit(n_hill * (log_p[:, idx] - lk[None, :]))  # (cells, R)
            prob = np.where(on[None, :, :], hill[:, None, :], 1.0 - hill[:, None, :])  # (cells, n_on, R)
            out[:, g] = prob.prod(axis=2).sum(axis=1)
        return out


def hill_activity(
    rules: RulesLike,
    protein: np.ndarray,
    params: BoolODEParams | Mapping[str, float] | None = None,
) -> np.ndarray:
    r"""BoolODE's regulatory term :math:`f_g(p)` of every gene (see :mod:`cellbridge.datasets.boolode.simulate`).

    Parameters
    ----------
    rules
        A :class:`BooleanModel`, a rule-table path, or rules as :meth:`BooleanModel.from_rules` takes.
    protein
        Protein levels, ``(n_genes,)`` or ``(n_cells, n_genes)`` in the model's gene order.
    params
        Kinetic parameters (BoolODE's defaults when ``None``).

    Returns
    -------
    numpy.ndarray
        :math:`f_g(p) \in [0, 1]`, same shape as ``protein``: the transcription rate is :math:`m f_g`.
    """
    model = as_model(rules)
    par = as_params(params)
    p = np.asarray(protein, dtype=np.float64)
    squeeze = p.ndim == 1
    p = np.atleast_2d(p)
    if p.shape[1] != model.n_genes:
        raise ValueError(f"protein must have {model.n_genes} columns (genes {list(model.genes)}), got {p.shape}")
    out = _Compiled.build(model, par).activity(p, par.n)
    return out[0] if squeeze else out


def _validate_time_points(time_points: Sequence[float]) -> np.ndarray:
    t = np.asarray(time_points, dtype=np.float64).ravel()
    if t.size == 0:
        raise ValueError("need at least one time point")
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        raise ValueError(f"time points must be finite and non-negative, got {t.tolist()}")
    if np.any(np.diff(t) <= 0):
        raise ValueError(f"time points must be strictly increasing, got {t.tolist()}")
    return t


def _initial_levels(model: BooleanModel, params: BoolODEParams, ics: Mapping[str, float] | None):
    """BoolODE's initial condition: listed genes at their value, others 0.01 (all 1 without ics);
    proteins at their quasi-steady state r x / l_p."""
    ics = model.ics if ics is None else {str(g): float(v) for g, v in ics.items()}
    unknown = [g for g in ics if g not in model.rules]
    if unknown:
        raise ValueError(f"initial conditions name unknown genes: {unknown}")
    if ics:
        x0 = np.array([ics.get(g, 0.01) for g in model.genes], dtype=np.float64)
    else:
        x0 = np.ones(model.n_genes, dtype=np.float64)
    if np.any(~np.isfinite(x0)) or np.any(x0 < 0):
        raise ValueError("initial conditions must be non-negative numbers")
    return x0, params.r / params.l_p * x0


def simulate_boolode(
    rules: RulesLike,
    n_cells: int,
    time_points: Sequence[float],
    *,
    dt: float = 0.01,
    noise: float = 0.25,
    params: BoolODEParams | Mapping[str, float] | None = None,
    ics: Mapping[str, float] | None = None,
    time_key: str = "time",
    rng: RNGLike = 0,
) -> tuple[ad.AnnData, pd.DataFrame]:
    r"""Snapshots of a BoolODE-style stochastic simulation, and the network that generated them.

    Each recorded cell is the end of its own trajectory, as in single-cell snapshot data: for every
    time point :math:`t_k`, ``n_cells`` independent trajectories are started from the initial
    conditions and recorded at :math:`t_k` only. Trajectories follow the chemical Langevin equation of
    :mod:`cellbridge.datasets.boolode.simulate`,

    .. math::

        dx_g = (m f_g(p) - l_x x_g)\,dt + s\sqrt{m f_g(p) + l_x x_g}\;dW, \qquad
        dp_g = (r x_g - l_p p_g)\,dt + s\sqrt{r x_g + l_p p_g}\;dW',

    integrated by Euler-Maruyama from :math:`t = 0` with steps of at most ``dt`` that land exactly on
    every time point; a step that would make a species negative leaves it unchanged (BoolODE's rule).

    Parameters
    ----------
    rules
        A :class:`BooleanModel`; a path to a BoolODE rule table (its ``*_ics.txt`` and
        ``*_strengths.txt`` are read when present); or rules as :meth:`BooleanModel.from_rules` takes.
    n_cells
        Number of cells recorded at each time point.
    time_points
        Recording times (non-negative, strictly increasing), in BoolODE's time units (BEELINE simulated
        dyn-LI to :math:`t = 5`, the other synthetic networks to 8 or 15).
    dt
        Largest integration step (BoolODE: 0.01).
    noise
        Noise strength :math:`s`; 0 integrates the ODE. The default 0.25 gives ON genes
        (:math:`x \approx 2`) a spread of about 0.35 (standard deviation), close to BEELINE's stored
        dyn-LI simulation.
    params
        Kinetic parameters (:class:`BoolODEParams`, or a mapping of its fields); BoolODE's defaults when
        ``None``.
    ics
        Initial mRNA levels ``{gene: value}`` replacing the model's (genes not listed start at 0.01).
    time_key
        ``obs`` column that receives the recording time.
    rng
        Seed or generator for the noise.

    Returns
    -------
    adata : anndata.AnnData
        ``n_cells * len(time_points)`` cells x genes (model order), with

        - ``X``: mRNA levels :math:`x` (float32), ``layers["protein"]``: protein levels :math:`p`,
        - ``obs[time_key]``: recording time (float),
        - ``uns["grn_truth"]``: the true edges as a dict of arrays ``regulator``, ``target``, ``sign``,
        - ``uns["boolode"]``: the rules, initial conditions, strengths and simulation parameters.
    edges : pandas.DataFrame
        The same true edges (:meth:`BooleanModel.edges`): ``regulator``, ``target``, ``sign``.

    Examples
    --------
    >>> import cellbridge as cb
    >>> adata, edges = cb.datasets.simulate_boolode({"a": "not b", "b": "not a"}, 50, [1, 2], rng=0)
    >>> adata.shape, len(edges)
    ((100, 2), 2)
    """
    model = as_model(rules)
    par = as_params(params)
    n_cells = int(n_cells)
    if n_cells < 1:
        raise ValueError(f"n_cells must be positive, got {n_cells}")
    if not (np.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be positive, got {dt}")
    if not (np.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be a non-negative number, got {noise}")
    t = _validate_time_points(time_points)
    gen = as_numpy_rng(rng)
    system = _Compiled.build(model, par)
    x0, p0 = _initial_levels(model, par, ics)

    n_times, n_genes = t.size, model.n_genes
    n_total = n_cells * n_times
    group = np.repeat(np.arange(n_times), n_cells)
    x = np.tile(x0, (n_total, 1))
    p = np.tile(p0, (n_total, 1))
    x_rec = np.empty_like(x)
    p_rec = np.empty_like(p)
    t_prev = 0.0
    active = np.ones(n_total, dtype=bool)
    for k in range(n_times):
        span = t[k] - t_prev
        n_steps = int(np.ceil(span / dt - 1e-9)) if span > 0 else 0
        h = span / n_steps if n_steps else 0.0
        xa, pa = x[active], p[active]
        for _ in range(n_steps):
            prod_x = par.m * system.activity(pa, par.n)
            deg_x = par.l_x * xa
            prod_p = par.r * xa
            deg_p = par.l_p * pa
            x_new = xa + (prod_x - deg_x) * h
            p_new = pa + (prod_p - deg_p) * h
            if noise > 0:
                sq = noise * np.sqrt(h)
                x_new += sq * np.sqrt(prod_x + deg_x) * gen.standard_normal(xa.shape)
                p_new += sq * np.sqrt(prod_p + deg_p) * gen.standard_normal(pa.shape)
            xa = np.where(x_new < 0, xa, x_new)
            pa = np.where(p_new < 0, pa, p_new)
        x[active], p[active] = xa, pa
        x_rec[group == k] = x[group == k]
        p_rec[group == k] = p[group == k]
        t_prev = t[k]
        active = group > k

    edges = model.edges()
    obs = pd.DataFrame({time_key: t[group]}, index=[f"cell_{i}" for i in range(n_total)])
    adata = ad.AnnData(X=x_rec.astype(np.float32), obs=obs, var=pd.DataFrame(index=list(model.genes)))
    adata.layers["protein"] = p_rec.astype(np.float32)
    adata.uns[GRN_TRUTH_KEY] = edges_to_uns(edges)
    record: dict[str, Any] = {
        "params": {
            **par.as_dict(),
            "dt": float(dt),
            "noise": float(noise),
            "n_cells": n_cells,
            "time_points": t,
            "time_key": time_key,
        },
        "rules": {
            "gene": np.array(model.genes, dtype=object),
            "rule": np.array([model.rules[g] for g in model.genes], dtype=object),
        },
        "initial_mrna": x0,
    }
    if isinstance(rng, (int, np.integer)):
        record["params"]["seed"] = int(rng)
    if model.strengths:
        keys = list(model.strengths)
        record["strengths"] = {
            "regulator": np.array([a for a, _ in keys], dtype=object),
            "target": np.array([b for _, b in keys], dtype=object),
            "strength": np.array([model.strengths[kk] for kk in keys], dtype=np.float64),
        }
    adata.uns[BOOLODE_KEY] = record
    logger.info(
        f"simulate_boolode: {n_total} cells ({n_cells} at each of {n_times} time points) x {n_genes} genes, "
        f"{len(edges)} true edges; added obs[{time_key!r}], layers['protein'], uns[{GRN_TRUTH_KEY!r}], "
        f"uns[{BOOLODE_KEY!r}]"
    )
    return adata, edges

