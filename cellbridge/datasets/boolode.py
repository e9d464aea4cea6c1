r"""BoolODE-style simulation of Boolean gene regulatory networks, with the ground-truth edge list.

Implements the model of BoolODE (Pratapa et al., Nature Methods 2020; code at
github.com/Murali-group/BoolODE, ``BoolODE/model_generator.py``) from its definition, without
generating code:

**Rule tables.** A tab-separated file with header ``Gene<TAB>Rule``; each rule is a Boolean expression
over gene names with ``and``, ``or``, ``not`` and parentheses, evaluated with Python's precedence
(``not`` > ``and`` > ``or``). The genes named in a gene's rule are its regulators. A gene named in a rule
but without a rule of its own gets the rule "itself" (self-activation), as BoolODE does.

**Signs.** A regulator is an *activator* (+1) if all its appearances in the rule sit under an even
number of ``not`` and a *repressor* (-1) if all sit under an odd number. When it appears both ways
(e.g. ``(a and not b) or (not a and b)``) it takes the sign of its first (leftmost) appearance. BoolODE's
own reference-network writer (``utils.generateInputFiles``) instead labels a regulator ``-`` when its
first appearance follows the first ``not`` of the rule. The two agree on the mixed case above and on
every rule table shipped with BoolODE but one: in EMT's ``RAS = SOS_GRB2 or SRC or not GSK3b or
TCF_LEF`` the positional heuristic calls the un-negated ``TCF_LEF`` a repressor, this module an
activator (the tests check the agreement on the networks of BEELINE's simulations).

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

**Boolean analysis.** :func:`boolean_fixed_points` enumerates the fixed points of the Boolean network
(the same for synchronous and asynchronous updates); :func:`boolean_attractors` follows the synchronous
map, or explores the asynchronous state graph, from a state. A simulated cell is read as Boolean by
:func:`boolean_state`: gene ON when :math:`x_g > x_{max}/2`.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Union

import anndata as ad
import numpy as np
import pandas as pd
from scipy.special import expit

from .._logging import logger
from .._utils import RNGLike, as_numpy_rng

__all__ = [
    "GRN_TRUTH_KEY",
    "BooleanModel",
    "BoolODEParams",
    "rule_regulators",
    "read_rule_table",
    "read_ics",
    "read_strengths",
    "load_boolode_model",
    "hill_activity",
    "simulate_boolode",
    "boolean_state",
    "boolean_fixed_points",
    "boolean_attractors",
]

#: ``adata.uns`` key of the ground-truth edges (a dict of arrays ``regulator``, ``target``, ``sign``),
#: written by the simulators and readers of :mod:`cellbridge.datasets`
GRN_TRUTH_KEY = "grn_truth"
#: ``adata.uns`` key of :func:`simulate_boolode`'s settings
BOOLODE_KEY = "boolode"

_KEYWORDS = ("and", "or", "not")
_TOKEN = re.compile(r"\s*(?:(\()|(\))|([A-Za-z_][A-Za-z0-9_]*)|(\S))")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MAX_REGULATORS = 16  # truth tables of 2^16 rows at most
_MAX_ENUMERATED_GENES = 20  # boolean_fixed_points enumerates 2^n states

RulesLike = Union["BooleanModel", str, os.PathLike, pd.DataFrame, Mapping[str, str], Sequence[tuple[str, str]]]


# --------------------------------------------------------------------------------------------------
# Boolean rules: tokenizer, recursive-descent parser, evaluation
# --------------------------------------------------------------------------------------------------
# A parsed rule is a nested tuple: ("var", name) | ("not", node) | ("and", (nodes...)) | ("or", (...)).


def _tokenize(rule: str) -> list[str]:
    tokens: list[str] = []
    pos = 0
    rule = rule.rstrip()
    while pos < len(rule):
        m = _TOKEN.match(rule, pos)
        if m is None:  # only trailing whitespace is left
            break
        if m.group(4) is not None:
            raise ValueError(f"unexpected character {m.group(4)!r} in rule {rule!r}")
        tokens.append(m.group(1) or m.group(2) or m.group(3))
        pos = m.end()
    return tokens


class _Parser:
    """``expr := and ('or' and)*``, ``and := unary ('and' unary)*``, ``unary := 'not' unary | atom``,
    ``atom := NAME | '(' expr ')'`` (Python's precedence)."""

    def __init__(self, rule: str) -> None:
        self.rule = rule
        self.tokens = _tokenize(rule)
        self.pos = 0

    def _peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take(self) -> str:
        tok = self._peek()
        if tok is None:
            raise ValueError(f"rule {self.rule!r} ends unexpectedly")
        self.pos += 1
        return tok

    def parse(self) -> tuple:
        if not self.tokens:
            raise ValueError("empty rule")
        node = self._or()
        if self._peek() is not None:
            raise ValueError(f"unexpected {self._peek()!r} in rule {self.rule!r}")
        return node

    def _or(self) -> tuple:
        items = [self._and()]
        while self._peek() == "or":
            self._take()
            items.append(self._and())
        return items[0] if len(items) == 1 else ("or", tuple(items))

    def _and(self) -> tuple:
        items = [self._unary()]
        while self._peek() == "and":
            self._take()
            items.append(self._unary())
        return items[0] if len(items) == 1 else ("and", tuple(items))

    def _unary(self) -> tuple:
        if self._peek() == "not":
            self._take()
            return ("not", self._unary())
        return self._atom()

    def _atom(self) -> tuple:
        tok = self._take()
        if tok == "(":
            node = self._or()
            if self._take() != ")":
                raise ValueError(f"missing ')' in rule {self.rule!r}")
            return node
        if tok in _KEYWORDS or tok == ")":
            raise ValueError(f"unexpected {tok!r} in rule {self.rule!r}")
        return ("var", tok)


def _appearances(node: tuple, negated: bool = False) -> list[tuple[str, bool]]:
    """(name, negated) for every appearance of a variable, left to right."""
    kind = node[0]
    if kind == "var":
        return [(node[1], negated)]
    if kind == "not":
        return _appearances(node[1], not negated)
    out: list[tuple[str, bool]] = []
    for child in node[1]:
        out.extend(_appearances(child, negated))
    return out


def _signs_of(tree: tuple) -> dict[str, int]:
    """Regulators in order of first appearance with their sign (see the module notes)."""
    first: dict[str, bool] = {}
    seen: dict[str, set[bool]] = {}
    for name, neg in _appearances(tree):
        first.setdefault(name, neg)
        seen.setdefault(name, set()).add(neg)
    out = {}
    for name, neg in first.items():
        kinds = seen[name]
        if kinds == {False}:
            out[name] = 1
        elif kinds == {True}:
            out[name] = -1
        else:  # mixed: the first appearance decides
            out[name] = -1 if neg else 1
    return out


def _evaluate(node: tuple, values: Mapping[str, np.ndarray]) -> np.ndarray:
    kind = node[0]
    if kind == "var":
        return values[node[1]]
    if kind == "not":
        return ~_evaluate(node[1], values)
    parts = [_evaluate(child, values) for child in node[1]]
    out = parts[0].copy()
    for p in parts[1:]:
        if kind == "and":
            out &= p
        else:
            out |= p
    return out


def rule_regulators(rule: str) -> dict[str, int]:
    """Regulators named in a Boolean rule, in order of first appearance, with their sign.

    Parameters
    ----------
    rule
        Boolean expression with ``and``, ``or``, ``not`` and parentheses, e.g. ``"(g3 or g4) and not g6"``.

    Returns
    -------
    dict
        ``{name: +1 or -1}``: +1 when every appearance is under an even number of ``not``, -1 when
        under an odd number, the sign of the first appearance when mixed.

    Raises
    ------
    ValueError
        On a syntax error (unbalanced parentheses, a dangling operator, an unknown character).

    Examples
    --------
    >>> rule_regulators("((g3 or g4) and (not g6))")
    {'g3': 1, 'g4': 1, 'g6': -1}
    """
    return _signs_of(_Parser(rule).parse())


# --------------------------------------------------------------------------------------------------
# the Boolean model
# --------------------------------------------------------------------------------------------------


def _check_gene_name(name: str) -> str:
    name = str(name).strip()
    if not _NAME.match(name) or name in _KEYWORDS:
        raise ValueError(f"invalid gene name {name!r}: use letters, digits and '_' (not and/or/not)")
    return name


@dataclass(frozen=True)
class BooleanModel:
    """A Boolean network read from a BoolODE rule table.

    Build it with :meth:`from_rules` or :func:`load_boolode_model`.

    Attributes
    ----------
    genes
        Gene order: the rule table's, then the regulators that had no rule (given self-activation).
    rules
        ``{gene: rule text}``.
    ics
        Initial mRNA levels of BoolODE's ``*_ics.txt`` (``{}``: BoolODE's default, all at 1).
    strengths
        Interaction strengths ``{(regulator, target): w}``; the edge's Hill threshold is ``k / w``.
    regulators
        ``{gene: {regulator: sign}}`` derived from the rules (see :func:`rule_regulators`).
    """

    genes: tuple[str, ...]
    rules: dict[str, str]
    ics: dict[str, float] = field(default_factory=dict)
    strengths: dict[tuple[str, str], float] = field(default_factory=dict)
    regulators: dict[str, dict[str, int]] = field(init=False, repr=False)
    _trees: dict[str, tuple] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        trees = {}
        regs = {}
        for g in self.genes:
            try:
                trees[g] = _Parser(self.rules[g]).parse()
            except ValueError as err:
                raise ValueError(f"rule of {g}: {err}") from err
            regs[g] = _signs_of(trees[g])
            unknown = [r for r in regs[g] if r not in self.rules]
            if unknown:
                raise ValueError(f"rule of {g} names genes without a rule: {unknown}")
            if len(regs[g]) > _MAX_REGULATORS:
                raise ValueError(f"{g} has {len(regs[g])} regulators; at most {_MAX_REGULATORS} are supported")
        for (reg, tgt), w in self.strengths.items():
            if not (np.isfinite(w) and w > 0):
                raise ValueError(f"interaction strength {reg} -> {tgt} must be positive, got {w}")
        for g, v in self.ics.items():
            if g not in self.rules:
                raise ValueError(f"initial condition for unknown gene {g!r}")
            if not (np.isfinite(v) and v >= 0):
                raise ValueError(f"initial condition of {g} must be a non-negative number, got {v}")
        object.__setattr__(self, "_trees", trees)
        object.__setattr__(self, "regulators", regs)

    @classmethod
    def from_rules(
        cls,
        rules: pd.DataFrame | Mapping[str, str] | Sequence[tuple[str, str]],
        *,
        ics: Mapping[str, float] | None = None,
        strengths: pd.DataFrame | Mapping[tuple[str, str], float] | None = None,
    ) -> BooleanModel:
        """Build a model from rules.

        Parameters
        ----------
        rules
            A DataFrame with columns ``Gene`` and ``Rule`` (as :func:`read_rule_table` returns), a mapping
            ``{gene: rule}`` or a sequence of ``(gene, rule)`` pairs.
        ics
            Initial mRNA levels ``{gene: value}`` (BoolODE's ``*_ics.txt``; see :func:`read_ics`).
        strengths
            ``{(regulator, target): w}`` or a DataFrame with columns ``regulator``, ``target``,
            ``strength`` (as :func:`read_strengths` returns).
        """
        if isinstance(rules, pd.DataFrame):
            if not {"Gene", "Rule"} <= set(rules.columns):
                raise ValueError(f"a rule table needs columns 'Gene' and 'Rule', got {list(rules.columns)}")
            pairs = list(zip(rules["Gene"].astype(str), rules["Rule"].astype(str)))
        elif isinstance(rules, Mapping):
            pairs = [(str(g), str(r)) for g, r in rules.items()]
        else:
            pairs = [(str(g), str(r)) for g, r in rules]
        if not pairs:
            raise ValueError("the rule table is empty")
        table: dict[str, str] = {}
        for g, r in pairs:
            g = _check_gene_name(g)
            if g in table:
                raise ValueError(f"gene {g} has more than one rule")
            table[g] = r.strip()
        genes = list(table)
        added = []
        for g in list(genes):
            try:
                names = rule_regulators(table[g])
            except ValueError as err:
                raise ValueError(f"rule of {g}: {err}") from err
            for name in names:
                if name not in table:
                    table[name] = name  # BoolODE: a node without a rule activates itself
                    genes.append(name)
                    added.append(name)
        if added:
            logger.info(f"BooleanModel: {added} have no rule; each gets self-activation, as in BoolODE")
        if strengths is None:
            strength_map: dict[tuple[str, str], float] = {}
        elif isinstance(strengths, pd.DataFrame):
            need = {"regulator", "target", "strength"}
            if not need <= set(strengths.columns):
                raise ValueError(f"strengths need columns {sorted(need)}, got {list(strengths.columns)}")
            strength_map = {
                (str(a), str(b)): float(w)
                for a, b, w in zip(strengths["regulator"], strengths["target"], strengths["strength"])
            }
        else:
            strength_map = {(str(a), str(b)): float(w) for (a, b), w in strengths.items()}
        return cls(
            genes=tuple(genes),
            rules=table,
            ics={str(g): float(v) for g, v in (ics or {}).items()},
            strengths=strength_map,
        )

    @property
    def n_genes(self) -> int:
        return len(self.genes)

    def edges(self) -> pd.DataFrame:
        """Ground-truth signed edges: one row per (regulator, target) named in a rule, self-loops
        included, targets in gene order and regulators in order of first appearance.

        Returns
        -------
        pandas.DataFrame
            Columns ``regulator`` (str), ``target`` (str), ``sign`` (int8, +1 activation / -1 repression).
        """
        rows = [(r, g, s) for g in self.genes for r, s in self.regulators[g].items()]
        out = pd.DataFrame(rows, columns=["regulator", "target", "sign"])
        out["sign"] = out["sign"].astype(np.int8)
        return out

    def update(self, states: np.ndarray) -> np.ndarray:
        """Synchronous Boolean update :math:`F(x)`: every gene's rule on the current states.

        Parameters
        ----------
        states
            Boolean array ``(..., n_genes)`` in :attr:`genes` order.

        Returns
        -------
        numpy.ndarray
            Boolean array of the same shape.
        """
        x = np.asarray(states, dtype=bool)
        if x.shape[-1] != self.n_genes:
            raise ValueError(f"states must have {self.n_genes} columns (one per gene), got shape {x.shape}")
        values = {g: x[..., i] for i, g in enumerate(self.genes)}
        out = np.empty_like(x)
        for i, g in enumerate(self.genes):
            out[..., i] = _evaluate(self._trees[g], values)
        return out

    def initial_state(self) -> np.ndarray:
        """Boolean initial state: genes listed in :attr:`ics` with a positive value are ON (BoolODE's ics
        files use 1 or 2 for ON; unlisted genes start at 0.01, OFF). Without ics every gene starts at
        :math:`x = 1 = x_{max}/2`, which has no Boolean reading: a ValueError is raised."""
        if not self.ics:
            raise ValueError("the model has no initial conditions; pass an initial Boolean state explicitly")
        return np.array([self.ics.get(g, 0.0) > 0 for g in self.genes], dtype=bool)

    def truth_table(self, gene: str) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
        """All states of ``gene``'s regulators and the rule's value on each.

        Returns
        -------
        tuple
            ``(regulators, states, value)``: regulator names, a ``(2^R, R)`` Boolean array of their
            states (row ``b`` is the binary expansion of ``b``, first regulator the lowest bit) and the
            rule's ``(2^R,)`` Boolean value.
        """
        regs = tuple(self.regulators[gene])
        codes = np.arange(2 ** len(regs))
        states = ((codes[:, None] >> np.arange(len(regs))[None, :]) & 1).astype(bool)
        values = {r: states[:, k] for k, r in enumerate(regs)}
        return regs, states, _evaluate(self._trees[gene], values)


# --------------------------------------------------------------------------------------------------
# readers of BoolODE's files
# --------------------------------------------------------------------------------------------------


def read_rule_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read a BoolODE rule table: tab-separated, header ``Gene<TAB>Rule``.

    Returns
    -------
    pandas.DataFrame
        Columns ``Gene`` and ``Rule`` (str), in file order.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no rule table at {path}")
    df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    df.columns = [str(c).strip() for c in df.columns]
    if list(df.columns[:2]) != ["Gene", "Rule"]:
        raise ValueError(f"{path}: the first line must be the header 'Gene<TAB>Rule', got {list(df.columns)}")
    df = df[["Gene", "Rule"]]
    df = df[df["Gene"].str.strip() != ""].reset_index(drop=True)
    return df


def read_ics(path: str | os.PathLike) -> dict[str, float]:
    """Read BoolODE initial conditions (``*_ics.txt``): header ``Genes<TAB>Values`` and a row of two
    Python lists, e.g. ``['g1','g2']<TAB>[1,1]``. Only the first row is used, as BoolODE does.

    Returns
    -------
    dict
        ``{gene: initial mRNA level}``.
    """
    path = Path(path)
    df = pd.read_csv(path, sep="\t", dtype=str)
    if not {"Genes", "Values"} <= set(df.columns):
        raise ValueError(f"{path}: expected columns 'Genes' and 'Values', got {list(df.columns)}")
    if df.empty:
        return {}
    try:
        genes = ast.literal_eval(df["Genes"].iloc[0])
        values = ast.literal_eval(df["Values"].iloc[0])
    except (ValueError, SyntaxError) as err:
        raise ValueError(f"{path}: Genes and Values must be Python lists: {err}") from err
    if len(genes) != len(values):
        raise ValueError(f"{path}: {len(genes)} genes but {len(values)} values")
    return {str(g): float(v) for g, v in zip(genes, values)}


def read_strengths(path: str | os.PathLike) -> pd.DataFrame:
    """Read BoolODE interaction strengths (``*_strengths.txt``): header ``Gene1<TAB>Gene2<TAB>Strength``.

    In these files ``Gene1`` is the **target** and ``Gene2`` the **regulator** (BoolODE's
    ``addInteractionStrengths``: ``regulator = row['Gene2']; target = row['Gene1']``), the opposite of
    BEELINE's ``refNetwork.csv``. Columns are read by name; duplicate rows are dropped.

    Returns
    -------
    pandas.DataFrame
        Columns ``regulator``, ``target`` (str) and ``strength`` (float).
    """
    path = Path(path)
    df = pd.read_csv(path, sep="\t")
    df.columns = [str(c).strip() for c in df.columns]
    if not {"Gene1", "Gene2", "Strength"} <= set(df.columns):
        raise ValueError(f"{path}: expected columns Gene1 (target), Gene2 (regulator), Strength")
    out = pd.DataFrame(
        {
            "regulator": df["Gene2"].astype(str).str.strip(),
            "target": df["Gene1"].astype(str).str.strip(),
            "strength": pd.to_numeric(df["Strength"], errors="raise").astype(float),
        }
    )
    return out.drop_duplicates().reset_index(drop=True)


def _companion(path: Path, suffix: str, given: Any) -> Path | None:
    if given is None or given is False:
        return None
    if isinstance(given, str) and given == "auto":
        candidate = path.with_name(f"{path.stem}_{suffix}.txt")
        return candidate if candidate.is_file() else None
    return Path(given)


def load_boolode_model(
    path: str | os.PathLike,
    *,
    ics: str | os.PathLike | None = "auto",
    strengths: str | os.PathLike | None = "auto",
) -> BooleanModel:
    """Read a BoolODE model: the rule table and, when present, its ``*_ics.txt`` and ``*_strengths.txt``.

    Parameters
    ----------
    path
        The rule table, e.g. ``.../boolode_models/data/dyn-linear.txt``.
    ics, strengths
        ``"auto"``: the files ``<stem>_ics.txt`` / ``<stem>_strengths.txt`` next to the table when they
        exist; a path; or ``None`` to ignore them.

    Notes
    -----
    BEELINE's synthetic data sets (``config-files/beeline-inputs-synthetic.yaml``) were simulated with the
    initial conditions but **without** the strengths files. They matter: in ``dyn-bifurcating`` the
    strength 0.2 of g2 -> g3 raises that edge's threshold to :math:`k / 0.2 = 50 > y_{max} = 20`, so g3
    never switches on and the network does not bifurcate. Use ``strengths=None`` to simulate the networks
    as BEELINE did.

    Returns
    -------
    BooleanModel
    """
    path = Path(path)
    rules = read_rule_table(path)
    ics_path = _companion(path, "ics", ics)
    str_path = _companion(path, "strengths", strengths)
    if str_path is not None:
        logger.info(
            f"load_boolode_model: interaction strengths from {str_path.name} (BEELINE's synthetic data sets "
            "were simulated without them: pass strengths=None to reproduce those)"
        )
    return BooleanModel.from_rules(
        rules,
        ics=read_ics(ics_path) if ics_path is not None else None,
        strengths=read_strengths(str_path) if str_path is not None else None,
    )


def _as_model(rules: RulesLike) -> BooleanModel:
    if isinstance(rules, BooleanModel):
        return rules
    if isinstance(rules, (str, os.PathLike)):
        return load_boolode_model(rules)
    return BooleanModel.from_rules(rules)


# --------------------------------------------------------------------------------------------------
# the ODE / SDE model
# --------------------------------------------------------------------------------------------------


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


def _as_params(params: BoolODEParams | Mapping[str, float] | None) -> BoolODEParams:
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
    r"""BoolODE's regulatory term :math:`f_g(p)` of every gene (see the module notes).

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
    model = _as_model(rules)
    par = _as_params(params)
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
    the module notes,

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
    model = _as_model(rules)
    par = _as_params(params)
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
    adata.uns[GRN_TRUTH_KEY] = _edges_to_uns(edges)
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


def _edges_to_uns(edges: pd.DataFrame) -> dict[str, np.ndarray]:
    """h5ad-writable form of an edge table."""
    return {
        "regulator": edges["regulator"].astype(str).to_numpy(dtype=object),
        "target": edges["target"].astype(str).to_numpy(dtype=object),
        "sign": edges["sign"].to_numpy(dtype=np.int8),
    }


# --------------------------------------------------------------------------------------------------
# Boolean analysis
# --------------------------------------------------------------------------------------------------


def boolean_state(expression: Any, params: BoolODEParams | Mapping[str, float] | None = None) -> np.ndarray:
    r"""Boolean reading of simulated mRNA levels: gene ON when :math:`x_g > x_{max}/2 = m / (2 l_x)`.

    Parameters
    ----------
    expression
        mRNA levels ``(n_cells, n_genes)`` or ``(n_genes,)`` (an AnnData's ``X``), not log-transformed.
    params
        The kinetic parameters of the simulation (BoolODE's defaults: threshold 1).

    Returns
    -------
    numpy.ndarray
        Boolean array of the same shape.
    """
    par = _as_params(params)
    x = np.asarray(expression.X if hasattr(expression, "X") else expression, dtype=np.float64)
    return x > par.x_max / 2


def _codes(states: np.ndarray) -> np.ndarray:
    weights = np.left_shift(np.int64(1), np.arange(states.shape[-1], dtype=np.int64))
    return states.astype(np.int64) @ weights


def _decode(codes: np.ndarray, n: int) -> np.ndarray:
    return ((np.asarray(codes, dtype=np.int64)[:, None] >> np.arange(n)[None, :]) & 1).astype(bool)


def boolean_fixed_points(rules: RulesLike) -> np.ndarray:
    """All fixed points :math:`F(x) = x` of the Boolean network, by enumerating its :math:`2^n` states.

    A state is a fixed point of the synchronous update exactly when it is one of the asynchronous update,
    so the answer serves both.

    Parameters
    ----------
    rules
        A :class:`BooleanModel` or anything :func:`simulate_boolode` accepts.

    Returns
    -------
    numpy.ndarray
        Boolean array ``(n_fixed_points, n_genes)`` in the model's gene order, rows sorted by their binary
        code (first gene the lowest bit).

    Raises
    ------
    ValueError
        With more than 20 genes (use :func:`boolean_attractors` from a given state instead).
    """
    model = _as_model(rules)
    n = model.n_genes
    if n > _MAX_ENUMERATED_GENES:
        raise ValueError(f"{n} genes: enumerating 2^{n} states is too much; use boolean_attractors(model, state)")
    found = []
    chunk = 1 << 16
    for start in range(0, 1 << n, chunk):
        codes = np.arange(start, min(start + chunk, 1 << n), dtype=np.int64)
        states = _decode(codes, n)
        fixed = np.all(model.update(states) == states, axis=1)
        found.append(states[fixed])
    return np.concatenate(found, axis=0)


def boolean_attractors(
    rules: RulesLike,
    initial: Sequence[bool] | np.ndarray | None = None,
    *,
    update: str = "synchronous",
    max_states: int = 1 << 16,
) -> list[np.ndarray]:
    """Attractors of the Boolean network reached from a state.

    - ``update="synchronous"``: iterate :math:`x \\leftarrow F(x)` (all genes at once) until a state
      repeats; the single attractor is the cycle (one state: a fixed point).
    - ``update="asynchronous"``: one gene whose rule disagrees with its state flips per transition; all
      states reachable from ``initial`` are explored and the attractors are the terminal strongly
      connected components of that graph (a single state: a fixed point). Deterministic.

    Parameters
    ----------
    rules
        A :class:`BooleanModel` or anything :func:`simulate_boolode` accepts.
    initial
        Boolean state in gene order; ``None`` uses :meth:`BooleanModel.initial_state` (from the ics).
    update
        ``"synchronous"`` or ``"asynchronous"``.
    max_states
        Largest number of states to visit before giving up (ValueError).

    Returns
    -------
    list of numpy.ndarray
        Each attractor as a Boolean array ``(n_states, n_genes)``; synchronous cycles in visiting order,
        asynchronous attractors sorted by code.
    """
    model = _as_model(rules)
    n = model.n_genes
    if n > 62:
        raise ValueError("at most 62 genes")
    x = model.initial_state() if initial is None else np.asarray(initial, dtype=bool).ravel()
    if x.size != n:
        raise ValueError(f"initial must have {n} entries (one per gene), got {x.size}")
    if update == "synchronous":
        seen: dict[int, int] = {}
        trail = []
        while True:
            code = int(_codes(x[None, :])[0])
            if code in seen:
                return [np.array(trail[seen[code] :])]
            if len(trail) >= max_states:
                raise ValueError(f"no attractor within {max_states} synchronous steps")
            seen[code] = len(trail)
            trail.append(x)
            x = model.update(x[None, :])[0]
    if update != "asynchronous":
        raise ValueError(f"update must be 'synchronous' or 'asynchronous', got {update!r}")

    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    index = {int(_codes(x[None, :])[0]): 0}
    order = [int(_codes(x[None, :])[0])]
    src: list[int] = []
    dst: list[int] = []
    frontier = [order[0]]
    while frontier:
        states = _decode(np.array(frontier), n)
        nxt = model.update(states)
        new_frontier = []
        for row, code in enumerate(frontier):
            for gene in np.nonzero(nxt[row] != states[row])[0]:
                succ = code ^ (1 << int(gene))
                if succ not in index:
                    if len(order) >= max_states:
                        raise ValueError(f"more than {max_states} reachable states")
                    index[succ] = len(order)
                    order.append(succ)
                    new_frontier.append(succ)
                src.append(index[code])
                dst.append(index[succ])
        frontier = new_frontier
    m = len(order)
    graph = coo_matrix((np.ones(len(src)), (src, dst)), shape=(m, m)).tocsr()
    n_comp, label = connected_components(graph, directed=True, connection="strong")
    leaves = np.ones(n_comp, dtype=bool)
    s_arr, d_arr = np.asarray(src, dtype=np.intp), np.asarray(dst, dtype=np.intp)
    if s_arr.size:
        cross = label[s_arr] != label[d_arr]
        leaves[label[s_arr[cross]]] = False
    codes_arr = np.array(order, dtype=np.int64)
    out = []
    for c in np.nonzero(leaves)[0]:
        out.append(_decode(np.sort(codes_arr[label == c]), n))
    out.sort(key=lambda a: int(_codes(a[:1])[0]))
    return out
