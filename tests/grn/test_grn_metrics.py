"""GRN metrics against values computed by hand on a toy network, orientation and self-loops included."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cellbridge.grn import (
    as_edge_table,
    auprc,
    auprc_ratio,
    auroc,
    average_precision,
    candidate_mask,
    early_precision,
    early_precision_ratio,
    edge_density,
    edges_to_matrix,
    matrix_to_edges,
    score_network,
    signed_accuracy,
)

GENES = ["a", "b", "c", "d"]
# Truth: a -> b (+), b -> c (-), c -> d (+). 4 genes: 12 candidate pairs (no self-loops), density 3/12.
TRUTH = pd.DataFrame({"regulator": ["a", "b", "c"], "target": ["b", "c", "d"], "sign": ["+", "-", "+"]})

# Scores S[i, j] of regulator i -> target j; the 12 off-diagonal values are distinct. Ranked:
#   1 a->b .90 T | 2 a->c .80 | 3 b->c .70 T | 4 d->a .60 | 5 c->d .50 T | 6 b->a .40 | 7 c->b .30 |
#   8 d->c .20 | 9 a->d .15 | 10 b->d .12 | 11 c->a .10 | 12 d->b .05
# The diagonal is huge: self-loops must be ignored.
S = np.array(
    [
        #  a     b     c     d
        [1e6, 0.90, 0.80, 0.15],  # a
        [0.40, 1e6, 0.70, 0.12],  # b
        [0.10, 0.30, 1e6, 0.50],  # c
        [0.60, 0.05, 0.20, 1e6],  # d
    ]
)
A = np.array([[0, 1, 0, 0], [0, 0, -1, 0], [0, 0, 0, 1], [0, 0, 0, 0]])


def test_edge_table_matrix_round_trip():
    mat = edges_to_matrix(TRUTH, GENES)
    np.testing.assert_array_equal(mat, A)
    back = matrix_to_edges(mat, GENES)
    assert list(back["regulator"]) == ["a", "b", "c"]
    assert list(back["target"]) == ["b", "c", "d"]
    assert list(back["sign"]) == [1, -1, 1]
    # BEELINE's refNetwork columns, read by name whatever their order (stored files: Gene2,Gene1,Type)
    ref = pd.DataFrame({"Gene2": ["b", "c", "d"], "Gene1": ["a", "b", "c"], "Type": ["+", "-", "+"]})
    np.testing.assert_array_equal(edges_to_matrix(ref, GENES), A)
    np.testing.assert_array_equal(edges_to_matrix(ref, GENES, signed=False), np.abs(A))
    scores = matrix_to_edges(S, GENES, value="score")
    assert list(scores.iloc[0][["regulator", "target"]]) == ["a", "b"]  # sorted, diagonal dropped
    assert len(scores) == 12


def test_edge_table_validation():
    with pytest.raises(ValueError, match="not in the gene list"):
        edges_to_matrix(TRUTH, ["a", "b", "c"])
    clash = pd.DataFrame({"regulator": ["a", "a"], "target": ["b", "b"], "sign": [1, -1]})
    with pytest.raises(ValueError, match="both activation and repression"):
        edges_to_matrix(clash, GENES)
    with pytest.raises(ValueError, match="regulator"):
        as_edge_table(pd.DataFrame({"source": ["a"], "dest": ["b"]}))
    with pytest.raises(ValueError, match="no sign"):
        edges_to_matrix(TRUTH[["regulator", "target"]], GENES)


def test_hand_computed_toy_ranking():
    # density = 3 true edges / (4 * 3) candidates
    assert edge_density(TRUTH, genes=GENES) == pytest.approx(0.25)
    # AUROC: 9 negatives; the true edges at ranks 1, 3, 5 outrank 9, 8 and 7 of them: 24 / 27
    assert auroc(S, TRUTH, genes=GENES) == pytest.approx(24 / 27)
    # AP (step-wise): mean precision at the true ranks, (1/1 + 2/3 + 3/5) / 3 = 34/45
    assert average_precision(S, TRUTH, genes=GENES) == pytest.approx(34 / 45)
    # BEELINE AUPRC (trapezoid) over the points (R, P): (0, 1) (1/3, 1) (1/3, 1/2) (2/3, 2/3) (2/3, 1/2)
    # (1, 3/5) (1, 3/6) ...: 1/3 * 1 + 1/3 * (1/2 + 2/3)/2 + 1/3 * (1/2 + 3/5)/2 = 1/3 + 7/36 + 11/60 = 32/45
    assert auprc(S, TRUTH, genes=GENES) == pytest.approx(32 / 45)
    assert auprc_ratio(S, TRUTH, genes=GENES) == pytest.approx((32 / 45) / 0.25)
    # early precision: top k = 3 are a->b (T), a->c (F), b->c (T): 2/3; ratio (2/3) / 0.25 = 8/3
    assert early_precision(S, TRUTH, genes=GENES) == pytest.approx(2 / 3)
    assert early_precision_ratio(S, TRUTH, genes=GENES) == pytest.approx(8 / 3)


def test_orientation_transpose():
    # S.T scores the pair (i, j) with S[j, i]: the true edges a->b, b->c, c->d get .40, .30, .20, ranked
    # 6, 7, 8 behind five false edges: each beats the 4 negatives ranked 9..12 -> AUROC 12 / 27
    assert auroc(S.T, TRUTH, genes=GENES) == pytest.approx(12 / 27)
    assert early_precision_ratio(S.T, TRUTH, genes=GENES) == 0.0
    # AP: (1/6 + 2/7 + 3/8) / 3
    assert average_precision(S.T, TRUTH, genes=GENES) == pytest.approx((1 / 6 + 2 / 7 + 3 / 8) / 3)
    # the truth transposed with the scores gives the original numbers back
    assert auroc(S.T, A.T, genes=GENES) == pytest.approx(24 / 27)


def test_self_loops_ignored_in_scores_and_truth():
    diag0 = S.copy()
    np.fill_diagonal(diag0, 0.0)
    r_big, r_zero = score_network(S, TRUTH, genes=GENES), score_network(diag0, TRUTH, genes=GENES)
    for key in r_big:
        assert r_big[key] == pytest.approx(r_zero[key], nan_ok=True), key
    # a self-loop in the truth (BoolODE's refNetwork lists them) changes nothing, not even the density
    with_loop = pd.concat([TRUTH, pd.DataFrame({"regulator": ["d"], "target": ["d"], "sign": ["+"]})])
    r_loop = score_network(S, with_loop, genes=GENES)
    assert r_loop["n_true_edges"] == 3 and r_loop["edge_density"] == pytest.approx(0.25)
    assert r_loop["auprc"] == pytest.approx(32 / 45)


def test_matrix_table_and_dataframe_inputs_agree():
    ref = score_network(S, A, genes=GENES)
    labelled = pd.DataFrame(S, index=GENES, columns=GENES)
    shuffled = labelled.loc[["c", "a", "d", "b"], ["b", "d", "a", "c"]]  # order must not matter
    table = matrix_to_edges(S, GENES, value="score")
    beeline_ranked = table.rename(columns={"regulator": "Gene1", "target": "Gene2", "score": "EdgeWeight"})
    for pred in (labelled, shuffled, table, beeline_ranked):
        got = score_network(pred, TRUTH, genes=GENES)
        for key in ("auroc", "average_precision", "auprc", "early_precision_ratio"):
            assert got[key] == pytest.approx(ref[key]), (type(pred), key)
    # two tables and no genes: the universe is the truth's genes (BEELINE); pairs of other genes ignored
    extra = pd.concat([table, pd.DataFrame({"regulator": ["zz"], "target": ["a"], "score": [9.0]})])
    assert score_network(extra, TRUTH)["auroc"] == pytest.approx(24 / 27)
    with pytest.raises(ValueError, match="genes="):
        auroc(S, TRUTH)  # a plain matrix needs the gene order


def test_early_precision_ties_and_zeros_follow_beeline():
    s = S.copy()
    s[3, 0] = 0.70  # d->a ties with b->c at rank 3: both kept, 4 selected, EP = 2/4
    assert early_precision(s, A) == pytest.approx(0.5)
    s = np.zeros((4, 4))
    s[0, 1], s[0, 2] = 0.9, 0.8  # only two non-zero weights: zero weights are never selected, EP = 1/2
    assert early_precision(s, A) == pytest.approx(0.5)
    assert early_precision(np.zeros((4, 4)), A) == 0.0
    # rounding to 6 decimals (BEELINE): 0.7000001 ties with 0.7
    s = S.copy()
    s[3, 0] = 0.7000001
    assert early_precision(s, A) == pytest.approx(0.5)
    # unrounded, d->a (F) outranks b->c: the top 3 are a->b (T), a->c, d->a -> 1/3
    assert early_precision(s, A, decimals=None) == pytest.approx(1 / 3)
    # a constant prediction: everything selected, EP = density, EPR = 1
    assert early_precision_ratio(np.ones((4, 4)), A) == pytest.approx(1.0)


def test_absolute_scores_and_signed_accuracy():
    # BEELINE ranks |score|: flipping signs changes nothing unless absolute=False
    signs = np.where(np.arange(16).reshape(4, 4) % 2 == 0, 1.0, -1.0)
    assert auroc(S * signs, A) == pytest.approx(24 / 27)
    assert auroc(S * signs, A, absolute=False) != pytest.approx(24 / 27)
    # predicted signs: a->b +, b->c + (wrong, truth -), c->d + -> 2/3; off-edge entries do not matter
    pred = np.full((4, 4), -1.0)
    pred[0, 1], pred[1, 2], pred[2, 3] = 1.0, 1.0, 1.0
    assert signed_accuracy(pred, TRUTH, genes=GENES) == pytest.approx(2 / 3)
    assert signed_accuracy(A, TRUTH, genes=GENES) == 1.0
    # a zero (no sign) is wrong; a transposed sign matrix is read in the regulator -> target orientation
    pred[2, 3] = 0.0
    assert signed_accuracy(pred, TRUTH, genes=GENES) == pytest.approx(1 / 3)
    assert signed_accuracy(A.T, TRUTH, genes=GENES) == 0.0
    res = score_network(S, TRUTH, signs=A, genes=GENES)
    assert res["signed_accuracy"] == 1.0
    assert np.isnan(score_network(S, TRUTH, genes=GENES)["signed_accuracy"])
    with pytest.raises(ValueError, match="signed"):
        signed_accuracy(A, TRUTH[["regulator", "target"]], genes=GENES)


def test_restricted_candidates():
    mask = candidate_mask(GENES, regulators=["a", "b"])
    assert mask.sum() == 6 and not mask[2:].any()
    # candidates a->{b,c,d}, b->{a,c,d}; true: a->b, b->c (c->d dropped): density 2/6
    assert edge_density(TRUTH, genes=GENES, regulators=["a", "b"]) == pytest.approx(1 / 3)
    # ranked: a->b .9 T, a->c .8, b->c .7 T, b->a .4, a->d .15, b->d .12: AUROC (4 + 3) / 8
    assert auroc(S, TRUTH, genes=GENES, regulators=["a", "b"]) == pytest.approx(7 / 8)
    assert early_precision(S, TRUTH, genes=GENES, regulators=["a", "b"]) == pytest.approx(1 / 2)
    with pytest.raises(ValueError, match="not in the gene list"):
        candidate_mask(GENES, targets=["zz"])


def test_errors_are_clear():
    with pytest.raises(ValueError, match="square"):
        auroc(np.ones((4, 3)), A)
    with pytest.raises(ValueError, match="finite"):
        auroc(np.full((4, 4), np.nan), A)
    with pytest.raises(ValueError, match="no edge"):
        auroc(S, np.zeros((4, 4)))
    with pytest.raises(ValueError, match="4 rows but 3 genes"):
        auroc(S, A, genes=["a", "b", "c"])
