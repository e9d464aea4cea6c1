"""BoolODE-style simulation of Boolean gene regulatory networks, with the ground-truth edge list.

Implements the model of BoolODE (Pratapa et al., Nature Methods 2020; code at
github.com/Murali-group/BoolODE, ``BoolODE/model_generator.py``) from its definition, without
generating code. One idea per module:

- :mod:`~cellbridge.datasets.boolode.rules`: the Boolean rules (tokenizer, parser, signs of the
  regulators) and :class:`BooleanModel`, the network they define;
- :mod:`~cellbridge.datasets.boolode.io`: readers of BoolODE's files (rule tables, ``*_ics.txt``,
  ``*_strengths.txt``) and :func:`load_boolode_model`;
- :mod:`~cellbridge.datasets.boolode.simulate`: the ODE model with its Hill regulatory term, its
  parameters :class:`BoolODEParams`, and :func:`simulate_boolode`, the chemical-Langevin simulation as
  single-cell snapshots;
- :mod:`~cellbridge.datasets.boolode.analysis`: fixed points and attractors of the Boolean network, and
  the Boolean reading of simulated cells (their state, their branch, the edges active in a group of them);
- :mod:`~cellbridge.datasets.boolode.networks`: small networks built for particular checks
  (:func:`toggle_branches`: two branches with different regulators).

Every name is importable from ``cellbridge.datasets.boolode``.
"""

from __future__ import annotations

from ..grn_truth import GRN_TRUTH_KEY
from .analysis import active_edges, boolean_attractors, boolean_fixed_points, boolean_state, branch_labels
from .io import RulesLike, load_boolode_model, read_ics, read_rule_table, read_strengths
from .networks import TOGGLE_BRANCH_MARKERS, toggle_branches
from .rules import BooleanModel, rule_regulators
from .simulate import BOOLODE_KEY, BoolODEParams, hill_activity, simulate_boolode

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
    "branch_labels",
    "active_edges",
    "toggle_branches",
    "TOGGLE_BRANCH_MARKERS",
]
