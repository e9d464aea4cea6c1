"""Readers of BoolODE's files: rule tables, initial conditions (``*_ics.txt``) and interaction strengths
(``*_strengths.txt``); and :func:`as_model`, which turns any of the accepted forms of rules into a
:class:`~cellbridge.datasets.BooleanModel`.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Union

import pandas as pd

from ..._logging import logger
from .rules import BooleanModel

__all__ = ["RulesLike", "read_rule_table", "read_ics", "read_strengths", "load_boolode_model", "as_model"]

#: what the functions of :mod:`cellbridge.datasets.boolode` accept as rules (see :func:`as_model`)
RulesLike = Union[BooleanModel, str, os.PathLike, pd.DataFrame, Mapping[str, str], Sequence[tuple[str, str]]]


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



def as_model(rules: RulesLike) -> BooleanModel:
    """The :class:`~cellbridge.datasets.BooleanModel` of ``rules``.

    Parameters
    ----------
    rules
        A :class:`~cellbridge.datasets.BooleanModel` (returned as is); a path to a rule table
        (read by :func:`load_boolode_model`, with its ``*_ics.txt`` and ``*_strengths.txt`` when present);
        or rules as :meth:`~cellbridge.datasets.BooleanModel.from_rules` takes them.

    Returns
    -------
    BooleanModel
        ``rules`` itself when it is a model, otherwise the model it describes.
    """
    if isinstance(rules, BooleanModel):
        return rules
    if isinstance(rules, (str, os.PathLike)):
        return load_boolode_model(rules)
    return BooleanModel.from_rules(rules)
