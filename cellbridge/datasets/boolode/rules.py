"""Boolean rules of BoolODE's rule tables: tokenizer, recursive-descent parser, signs, and the Boolean model.

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
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..._logging import logger

__all__ = ["BooleanModel", "rule_regulators"]

_KEYWORDS = ("and", "or", "not")
_TOKEN = re.compile(r"\s*(?:(\()|(\))|([A-Za-z_][A-Za-z0-9_]*)|(\S))")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MAX_REGULATORS = 16  # truth tables of 2^16 rows at most


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

