"""Small Boolean networks built for checks that the BEELINE networks do not cover.

:func:`toggle_branches`: a progenitor that a toggle switch sends into one of two branches, each with its
own regulators, for networks per branch (:func:`cellbridge.tl.grn` with ``groupby``), scored against the
edges active in each branch (:func:`~cellbridge.datasets.boolode.active_edges`).
"""

from __future__ import annotations

from .rules import BooleanModel

__all__ = ["TOGGLE_BRANCH_MARKERS", "toggle_branches"]

#: the gene that marks each branch of :func:`toggle_branches` (ON in that branch only)
TOGGLE_BRANCH_MARKERS = {"A": "g3", "B": "g4"}


def toggle_branches() -> BooleanModel:
    r"""A branching network whose two branches use different regulators.

    Eight genes. The progenitor gene ``g1`` (ON at the start: initial mRNA 2, BoolODE's ON level) drives
    ``g2``, which switches on both sides of a toggle, ``g3`` and ``g4``, each holding itself ON and the
    other OFF; the winner turns ``g1`` off and drives its own branch: ``g3 -> g5 -> g6`` (branch A) or
    ``g4 -> g7 -> g8`` (branch B)::

        g1: not (g3 or g4)        g5: g3        g7: g4
        g2: g1                    g6: g5        g8: g7
        g3: (g2 or g3) and not g4
        g4: (g2 or g4) and not g3

    Simulated with BoolODE's defaults (:func:`~cellbridge.datasets.simulate_boolode`), the toggle
    resolves by :math:`t \approx 3` in about equal halves, and the branches are at steady state from
    :math:`t \approx 4`. Only regulators expressed in a branch act there: ``g3 -| g1``, ``g3 -| g4``,
    ``g3 -> g5``, ``g5 -> g6`` in branch A, ``g4 -| g1``, ``g4 -| g3``, ``g4 -> g7``, ``g7 -> g8`` in
    branch B (:func:`~cellbridge.datasets.boolode.active_edges` reads them from simulated cells; the
    progenitor's ``g1 -> g2 -> g3, g4`` act before the branch point).

    Returns
    -------
    BooleanModel
        The rules and the initial condition; :data:`TOGGLE_BRANCH_MARKERS` names each branch's marker
        (for :func:`~cellbridge.datasets.boolode.branch_labels`).

    Examples
    --------
    >>> from cellbridge.datasets.boolode import toggle_branches
    >>> toggle_branches().rules["g3"]
    '(g2 or g3) and not g4'
    """
    return BooleanModel.from_rules(
        {
            "g1": "not (g3 or g4)",
            "g2": "g1",
            "g3": "(g2 or g3) and not g4",
            "g4": "(g2 or g4) and not g3",
            "g5": "g3",
            "g6": "g5",
            "g7": "g4",
            "g8": "g7",
        },
        ics={"g1": 2.0},
    )
