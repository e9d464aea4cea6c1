r"""Scores of a predicted gene regulatory network against a ground truth, as in BEELINE.

AnnData-free. A prediction is a **score matrix** :math:`S` with :math:`S_{ij}` the confidence of the
edge *regulator* :math:`i \to` *target* :math:`j` (rows are regulators, columns are targets), or a tidy
edge table. The truth is a **signed adjacency matrix** :math:`A` with :math:`A_{ij} = +1` (activation),
:math:`-1` (repression) or :math:`0` (no edge), in the same orientation, or an edge table with columns
``regulator``, ``target`` and optionally ``sign`` (both read as :mod:`cellbridge.grn.edges` describes,
which also says how a drift Jacobian is oriented).

Conventions, shared by every function here (Pratapa et al., Nature Methods 2020, and the code of
BEELINE's ``BLEval/computeAUC.py`` and ``BLEval/computeEarlyPrec.py``):

- **Candidate edges**: all ordered pairs :math:`(i, j)`, :math:`i \ne j`, of the genes, optionally
  restricted to regulators in ``regulators`` and targets in ``targets``. Self-loops are excluded from the
  candidates, from the truth and from the edge count, even when the truth lists them (BoolODE's
  reference networks do) and whatever score the diagonal holds. True edges outside a restricted
  candidate set are dropped, as BEELINE does when it keeps only edges out of transcription factors.
- **Ranking metrics use the unsigned truth**: an edge is positive whatever its sign; scores are ranked
  by :math:`|S_{ij}|` when ``absolute=True`` (BEELINE takes ``abs(EdgeWeight)``). Pairs missing from a
  tidy prediction table score 0, as in BEELINE.
- **Edge density** :math:`\rho = |E| / |C|`: true edges over candidate edges (without self-loops:
  :math:`|C| = n(n - 1)` for ``n`` genes and no restriction). It is the precision of a random ranking.
- **Gene universe**: ``genes`` when given; otherwise the labels of a square DataFrame, or positions
  ``"0" .. "n-1"`` for two plain matrices; for two edge tables, the genes named in the truth table (in
  sorted order), which is BEELINE's convention (``np.unique`` of ``Gene1`` and ``Gene2``). Predicted
  pairs naming a gene outside the universe are ignored; truth edges outside it raise an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import auc as _sk_auc
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

from ._docstrings import document
from .edges import (
    _as_square,
    _check_conflicts,
    _gene_index,
    _is_edge_table,
    _is_labeled_square,
    _positions,
    _scores_from_table,
    as_edge_table,
)

__all__ = [
    "candidate_mask",
    "edge_density",
    "auroc",
    "average_precision",
    "auprc",
    "auprc_ratio",
    "early_precision",
    "early_precision_ratio",
    "signed_accuracy",
    "score_network",
]

#: rounding of scores before BEELINE's early precision (``predDF.EdgeWeight.round(6)``)
EARLY_PRECISION_DECIMALS = 6


# --------------------------------------------------------------------------------------------------
# the docstrings: one description per shared parameter
# --------------------------------------------------------------------------------------------------

#: what each parameter of the metrics means, unless a function says otherwise
_PARAMETERS = {
    "scores": """Predicted scores: a genes x genes matrix (array or labelled DataFrame) with ``scores[i, j]``
        the score of regulator ``i`` -> target ``j``, or a tidy table with columns ``regulator``,
        ``target``, ``score`` (or BEELINE's ``Gene1``, ``Gene2``, ``EdgeWeight``).""",
    "truth": """Signed adjacency matrix (same orientation) or edge table ``regulator``, ``target``
        [, ``sign``]. Self-loops are ignored; the ranking metrics ignore the signs.""",
    "genes": "Gene order of the matrices / universe of the tables (see the module notes for the default).",
    "regulators, targets": "Restrict the candidate edges to these regulators / targets (default: all genes).",
    "absolute": "Rank by :math:`|S_{ij}|` (BEELINE's convention); ``False`` ranks the raw scores.",
    "decimals": "Rounding of the scores before the early precision ranks them (BEELINE: 6; None: none).",
}
#: ``@_doc(rtype, returns, own=None)``: a metric's docstring completed from :data:`_PARAMETERS`
_doc = partial(document, _PARAMETERS)


# --------------------------------------------------------------------------------------------------
# resolving predictions and truth onto one gene order
# --------------------------------------------------------------------------------------------------


def _resolve_genes(pred: Any, truth: Any, genes: Sequence[Any] | None) -> pd.Index:
    if genes is not None:
        return _gene_index(genes)
    for obj in (pred, truth):
        if _is_labeled_square(obj):
            return _gene_index(obj.index.map(str))
    pred_table, truth_table = _is_edge_table(pred), _is_edge_table(truth)
    if truth_table and (pred_table or pred is None):
        t = as_edge_table(truth)
        return _gene_index(np.unique(np.concatenate([t["regulator"].to_numpy(), t["target"].to_numpy()])))
    if not pred_table and not truth_table:
        n = np.asarray(pred if pred is not None else truth).shape[0]
        return _gene_index(range(n))
    raise ValueError("an edge table and a plain matrix cannot be aligned: pass genes= (the matrix order)")


@dataclass(frozen=True)
class _Problem:
    genes: pd.Index
    present: np.ndarray  # bool (n, n): true edge (self-loops removed)
    sign: np.ndarray  # int8 (n, n): true sign, 0 unknown / no edge
    mask: np.ndarray  # bool (n, n): candidate pairs

    @property
    def y_true(self) -> np.ndarray:
        return self.present[self.mask]

    @property
    def n_candidates(self) -> int:
        return int(self.mask.sum())

    @property
    def n_true(self) -> int:
        return int(self.y_true.sum())

    @property
    def density(self) -> float:
        return self.n_true / self.n_candidates


@_doc("numpy.ndarray", "Boolean ``(len(genes), len(genes))`` matrix, ``True`` on the candidate pairs.",
      own={"genes": "Gene names, in the order of the matrix rows and columns."})
def candidate_mask(
    genes: Sequence[Any],
    *,
    regulators: Sequence[Any] | None = None,
    targets: Sequence[Any] | None = None,
) -> np.ndarray:
    r"""Boolean matrix of the candidate edges.

    Entry :math:`(i, j)` is ``True`` when :math:`i \ne j`, ``genes[i]`` is in ``regulators`` and
    ``genes[j]`` in ``targets`` (all genes when ``None``).

    Raises
    ------
    ValueError
        If a listed regulator or target is not a gene, or no candidate pair is left.
    """
    g = _gene_index(genes)
    n = len(g)
    rows = np.ones(n, dtype=bool)
    cols = np.ones(n, dtype=bool)
    for name, subset, sel in (("regulators", regulators, rows), ("targets", targets, cols)):
        if subset is None:
            continue
        if isinstance(subset, str):
            subset = [subset]
        pos = g.get_indexer([str(s) for s in subset])
        if np.any(pos < 0):
            bad = [str(s) for s, p in zip(subset, pos) if p < 0][:5]
            raise ValueError(f"{name} lists genes that are not in the gene list: {bad}")
        sel[:] = False
        sel[pos] = True
    mask = rows[:, None] & cols[None, :]
    np.fill_diagonal(mask, False)
    if not mask.any():
        raise ValueError("no candidate edge is left (self-loops are excluded)")
    return mask


def _truth_arrays(truth: Any, genes: pd.Index) -> tuple[np.ndarray, np.ndarray]:
    """(present, sign) in gene order, self-loops removed."""
    if _is_edge_table(truth):
        table = as_edge_table(truth)
        i = _positions(table["regulator"], genes, "the truth")
        j = _positions(table["target"], genes, "the truth")
        sign_col = table["sign"].to_numpy()
        _check_conflicts(i, j, sign_col, genes)
        n = len(genes)
        present = np.zeros((n, n), dtype=bool)
        present[i, j] = True
        sign = np.zeros((n, n), dtype=np.int8)
        known = sign_col != 0
        sign[i[known], j[known]] = sign_col[known]
    else:
        mat, _ = _as_square(truth, genes, "truth")
        present = mat != 0
        sign = np.sign(mat).astype(np.int8)
    np.fill_diagonal(present, False)
    np.fill_diagonal(sign, 0)
    return present, sign


def _problem(
    pred: Any,
    truth: Any,
    genes: Sequence[Any] | None,
    regulators: Sequence[Any] | None,
    targets: Sequence[Any] | None,
) -> _Problem:
    if truth is None:
        raise ValueError("truth is required")
    names = _resolve_genes(pred, truth, genes)
    present, sign = _truth_arrays(truth, names)
    mask = candidate_mask(names, regulators=regulators, targets=targets)
    return _Problem(genes=names, present=present, sign=sign, mask=mask)


def _score_matrix(scores: Any, prob: _Problem, *, absolute: bool, column: str = "score") -> np.ndarray:
    if _is_edge_table(scores):
        mat = _scores_from_table(scores, prob.genes, column)
    else:
        mat, _ = _as_square(scores, prob.genes, "scores")
    return np.abs(mat) if absolute else mat


def _ranked(scores: Any, truth: Any, genes, regulators, targets, absolute) -> tuple[_Problem, np.ndarray, np.ndarray]:
    prob = _problem(scores, truth, genes, regulators, targets)
    s = _score_matrix(scores, prob, absolute=absolute)[prob.mask]
    y = prob.y_true
    if y.sum() == 0:
        raise ValueError("the truth has no edge among the candidate pairs (self-loops are excluded)")
    return prob, y, s


def _need_negatives(y: np.ndarray) -> None:
    if y.all():
        raise ValueError("every candidate pair is a true edge: AUROC is undefined")


# --------------------------------------------------------------------------------------------------
# metrics
# --------------------------------------------------------------------------------------------------


@_doc("float", r":math:`\rho` in (0, 1].")
def edge_density(
    truth: Any,
    *,
    genes: Sequence[Any] | None = None,
    regulators: Sequence[Any] | None = None,
    targets: Sequence[Any] | None = None,
) -> float:
    r"""Fraction of candidate edges that are true edges, :math:`\rho = |E \cap C| / |C|`.

    With no restriction, :math:`|C| = n(n - 1)`: self-loops are neither candidates nor counted edges.
    It is the expected precision of a random ranking, hence the denominator of :func:`auprc_ratio` and
    :func:`early_precision_ratio`.
    """
    prob = _problem(None, truth, genes, regulators, targets)
    return prob.density


@_doc("float", "AUROC in [0, 1]; 0.5 for a random or constant ranking.")
def auroc(
    scores: Any, truth: Any, *, genes: Sequence[Any] | None = None, regulators: Sequence[Any] | None = None,
    targets: Sequence[Any] | None = None, absolute: bool = True,
) -> float:
    r"""Area under the ROC curve over the candidate edges.

    .. math::

        \mathrm{AUROC} = \frac{1}{|E|\,|C \setminus E|} \sum_{e \in E} \sum_{f \in C \setminus E}
        \left( [s_e > s_f] + \tfrac12 [s_e = s_f] \right),

    the probability that a true edge outscores a non-edge, ties counting one half; equal to the
    trapezoid area under scikit-learn's ROC curve, which is what BEELINE reports
    (``auc(fpr, tpr)`` of ``roc_curve``).
    """
    _, y, s = _ranked(scores, truth, genes, regulators, targets, absolute)
    _need_negatives(y)
    return float(roc_auc_score(y, s))


@_doc("float", "Average precision in [0, 1].")
def average_precision(
    scores: Any, truth: Any, *, genes: Sequence[Any] | None = None, regulators: Sequence[Any] | None = None,
    targets: Sequence[Any] | None = None, absolute: bool = True,
) -> float:
    r"""Average precision: the step-wise area under the precision-recall curve.

    scikit-learn's ``average_precision_score``,

    .. math::

        \mathrm{AP} = \sum_k (R_k - R_{k-1})\, P_k,

    over the distinct score thresholds in decreasing order (ties form one threshold). No interpolation;
    with distinct scores it is the mean, over true edges, of the precision at each true edge's rank.
    """
    _, y, s = _ranked(scores, truth, genes, regulators, targets, absolute)
    return float(average_precision_score(y, s))


def _beeline_auprc(y: np.ndarray, s: np.ndarray) -> float:
    precision, recall, _ = precision_recall_curve(y, s)
    return float(_sk_auc(recall, precision))


@_doc("float", "AUPRC in [0, 1]; about the edge density for a random ranking.")
def auprc(
    scores: Any, truth: Any, *, genes: Sequence[Any] | None = None, regulators: Sequence[Any] | None = None,
    targets: Sequence[Any] | None = None, absolute: bool = True,
) -> float:
    r"""BEELINE's area under the precision-recall curve: the trapezoid rule on the PR points.

    Exactly BEELINE's ``computeScores`` (``BLEval/computeAUC.py``): ``precision, recall, _ =
    precision_recall_curve(y, s)`` then ``auc(recall, precision)``, both from scikit-learn. The points
    are :math:`(R_k, P_k)` at every distinct score threshold (tied scores form one point) plus the point
    :math:`(R, P) = (0, 1)` that scikit-learn appends, joined by straight lines:

    .. math::

        \mathrm{AUPRC} = \sum_k (R_k - R_{k-1}) \, \frac{P_k + P_{k-1}}{2},
        \qquad (R_0, P_0) = (0, 1).

    Linear interpolation of precision makes this differ from :func:`average_precision` (usually a
    little higher when a false positive precedes a true one).
    """
    _, y, s = _ranked(scores, truth, genes, regulators, targets, absolute)
    return _beeline_auprc(y, s)


@_doc("float", r":math:`\mathrm{AUPRC} / \rho`.")
def auprc_ratio(
    scores: Any, truth: Any, *, genes: Sequence[Any] | None = None, regulators: Sequence[Any] | None = None,
    targets: Sequence[Any] | None = None, absolute: bool = True,
) -> float:
    r""":func:`auprc` divided by the edge density :math:`\rho` (:func:`edge_density`).

    How many times better than a random ranking, whose AUPRC is about :math:`\rho`.
    """
    prob, y, s = _ranked(scores, truth, genes, regulators, targets, absolute)
    return _beeline_auprc(y, s) / prob.density


def _beeline_early_precision(y: np.ndarray, s: np.ndarray, decimals: int | None) -> float:
    """BEELINE's ``computeEarlyPrec`` on flat arrays (scores already absolute if asked)."""
    k = int(y.sum())
    w = np.round(s, decimals) if decimals is not None else s.copy()
    w = np.abs(w)
    if k == 0:
        raise ValueError("the truth has no edge among the candidate pairs (self-loops are excluded)")
    nonzero = w[w != 0]
    if nonzero.size == 0:  # no prediction with a weight: BEELINE returns 0
        return 0.0
    kth = np.sort(w)[::-1][min(k, w.size) - 1]
    threshold = max(float(nonzero.min()), float(kth))
    selected = w >= threshold
    return float(y[selected].sum() / selected.sum())


@_doc("float", "Early precision in [0, 1].")
def early_precision(
    scores: Any, truth: Any, *, genes: Sequence[Any] | None = None, regulators: Sequence[Any] | None = None,
    targets: Sequence[Any] | None = None, absolute: bool = True, decimals: int | None = EARLY_PRECISION_DECIMALS,
) -> float:
    r"""BEELINE's early precision: the precision among the top-:math:`k` predictions, :math:`k = |E|`.

    Exactly BEELINE's ``computeEarlyPrec`` (``BLEval/computeEarlyPrec.py``), on the candidate edges:

    1. weights :math:`w = |\mathrm{round}(s, 6)|` (``decimals=None`` skips the rounding);
    2. :math:`k` = number of true edges among the candidates (self-loops excluded);
    3. threshold :math:`\tau = \max(w_{(k)}, \min\{w > 0\})`, with :math:`w_{(k)}` the :math:`k`-th largest
       weight: **ties with the k-th weight are all kept** (the selected set can exceed :math:`k`) and
       **zero weights are never selected** (fewer than :math:`k` may be selected);
    4. :math:`\mathrm{EP} = |\{w \ge \tau\} \cap E| \,/\, |\{w \ge \tau\}|`, and 0 if every weight is 0.
    """
    _, y, s = _ranked(scores, truth, genes, regulators, targets, absolute)
    return _beeline_early_precision(y, s, decimals)


@_doc("float", r":math:`\mathrm{EP} / \rho`; 1 for a random ranking, :math:`1/\rho` for a perfect one.")
def early_precision_ratio(
    scores: Any, truth: Any, *, genes: Sequence[Any] | None = None, regulators: Sequence[Any] | None = None,
    targets: Sequence[Any] | None = None, absolute: bool = True, decimals: int | None = EARLY_PRECISION_DECIMALS,
) -> float:
    r"""Early precision ratio (EPR): :func:`early_precision` divided by the edge density :math:`\rho`.

    The edge density is the early precision of a random predictor (BEELINE, Pratapa et al. 2020).
    """
    prob, y, s = _ranked(scores, truth, genes, regulators, targets, absolute)
    return _beeline_early_precision(y, s, decimals) / prob.density


@_doc("float", "Accuracy in [0, 1].", own={
    "signs": r"""Predicted signs or any signed matrix (e.g. the transposed mean Jacobian
        :math:`\bar J^T`, whose entry :math:`(i, j)` is :math:`\partial f_j / \partial x_i`), with
        ``signs[i, j]`` about regulator ``i`` -> target ``j``; or a table with columns ``regulator``,
        ``target`` and ``sign`` (or ``score``).""",
    "truth": "Signed adjacency matrix or edge table with a ``sign`` column. Self-loops are ignored.",
})
def signed_accuracy(
    signs: Any,
    truth: Any,
    *,
    genes: Sequence[Any] | None = None,
    regulators: Sequence[Any] | None = None,
    targets: Sequence[Any] | None = None,
) -> float:
    r"""Fraction of the true edges whose predicted sign is right.

    .. math::

        \mathrm{acc}_\pm = \frac{1}{|E_\pm|} \sum_{(i, j) \in E_\pm}
        \left[\operatorname{sign}(\hat\sigma_{ij}) = A_{ij}\right],

    over the true candidate edges :math:`E_\pm` whose sign is known (self-loops excluded). The
    prediction is read only on true edges, so it measures the sign given the edge, not the detection.
    A predicted 0 (or a pair absent from a prediction table) counts as wrong.
    """
    prob = _problem(signs, truth, genes, regulators, targets)
    if _is_edge_table(signs):
        cols = set(signs.columns) if isinstance(signs, pd.DataFrame) else set(signs)
        column = "sign" if ("sign" in cols or "Type" in cols) else "score"
        pred = _scores_from_table(signs, prob.genes, column)
    else:
        pred, _ = _as_square(signs, prob.genes, "signs")
    on = prob.present & prob.mask & (prob.sign != 0)
    if not on.any():
        raise ValueError("the truth has no signed edge among the candidate pairs: signed accuracy is undefined")
    return float(np.mean(np.sign(pred[on]) == prob.sign[on]))


@_doc("dict", """``auroc``, ``average_precision``, ``auprc`` (BEELINE's trapezoid), ``auprc_ratio``,
    ``early_precision``, ``early_precision_ratio``, ``signed_accuracy``, ``edge_density``,
    ``n_genes``, ``n_candidates``, ``n_true_edges``; all plain Python numbers.""", own={
    "signs": """Predicted signs for :func:`signed_accuracy` (``None``: reported as NaN). When the score
        matrix is itself signed (a transposed Jacobian), pass it here too.""",
})
def score_network(
    scores: Any,
    truth: Any,
    signs: Any | None = None,
    *,
    genes: Sequence[Any] | None = None,
    regulators: Sequence[Any] | None = None,
    targets: Sequence[Any] | None = None,
    absolute: bool = True,
    decimals: int | None = EARLY_PRECISION_DECIMALS,
) -> dict[str, float]:
    r"""Every score of a predicted network in one call.

    Examples
    --------
    >>> import numpy as np
    >>> truth = np.array([[0, 1, 0], [0, 0, -1], [0, 0, 0]])   # 0 -> 1 (+), 1 -> 2 (-)
    >>> s = np.array([[0, .9, .1], [.2, 0, .8], [.3, .4, 0]])
    >>> score_network(s, truth)["auroc"]
    1.0
    """
    prob, y, s = _ranked(scores, truth, genes, regulators, targets, absolute)
    _need_negatives(y)
    ap = _beeline_auprc(y, s)
    ep = _beeline_early_precision(y, s, decimals)
    out = {
        "auroc": float(roc_auc_score(y, s)),
        "average_precision": float(average_precision_score(y, s)),
        "auprc": ap,
        "auprc_ratio": ap / prob.density,
        "early_precision": ep,
        "early_precision_ratio": ep / prob.density,
        "signed_accuracy": float("nan"),
        "edge_density": prob.density,
        "n_genes": len(prob.genes),
        "n_candidates": prob.n_candidates,
        "n_true_edges": prob.n_true,
    }
    if signs is not None:
        out["signed_accuracy"] = signed_accuracy(
            signs, truth, genes=list(prob.genes), regulators=regulators, targets=targets
        )
    return out
