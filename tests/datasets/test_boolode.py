"""BoolODE-style simulator: rule parsing, edge lists, the Hill model, Boolean steady states."""

from __future__ import annotations

import itertools

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from cellbridge.datasets.boolode import (
    BooleanModel,
    BoolODEParams,
    boolean_attractors,
    boolean_fixed_points,
    boolean_state,
    hill_activity,
    load_boolode_model,
    read_ics,
    read_rule_table,
    read_strengths,
    rule_regulators,
    simulate_boolode,
)

from shared_data import SHARED
from shared_data import need as _need

MODELS = SHARED / "grn" / "boolode_models" / "data"
SIMS = SHARED / "grn" / "boolode_sims"


def _python_eval(rule: str, values: dict[str, bool]) -> bool:
    return bool(eval(rule, {"__builtins__": {}}, dict(values)))  # the rules are Python expressions


# --------------------------------------------------------------------------------------------------
# parsing
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rule",
    [
        "a or b and not c",  # precedence: a or (b and (not c))
        "not (a or b) and c",
        "not a and b",
        "not not a",
        "((a))",
        "not(a) and (b or not(c))",
        "(a and not b) or (not a and b)",
        "( ( a or b ) and not (c) )",
    ],
)
def test_rules_evaluate_like_python(rule):
    model = BooleanModel.from_rules({"t": rule, "a": "a", "b": "b", "c": "c"})
    for bits in itertools.product([False, True], repeat=3):
        state = dict(zip("abc", bits))
        x = np.array([[False, *bits]])  # gene order: t, a, b, c
        assert model.update(x)[0, 0] == _python_eval(rule, state), (rule, state)


def test_rule_regulators_and_signs():
    assert rule_regulators("((g3 or g4) and (not g6))") == {"g3": 1, "g4": 1, "g6": -1}
    assert rule_regulators("not ( g4 or g5 or g6 )") == {"g4": -1, "g5": -1, "g6": -1}
    assert rule_regulators("not (a and not b)") == {"a": -1, "b": 1}  # double negation activates
    assert rule_regulators("not a and b") == {"a": -1, "b": 1}  # after a 'not', but not negated
    # mixed appearances: the first (leftmost) decides
    assert rule_regulators("(a and not b) or (not a and b)") == {"a": 1, "b": -1}
    assert list(rule_regulators("c or a or b")) == ["c", "a", "b"]  # order of first appearance


@pytest.mark.parametrize("bad", ["a and", "(a or b", "a b", "a & b", "not", "and a", "()", ""])
def test_rule_syntax_errors(bad):
    with pytest.raises(ValueError):
        rule_regulators(bad)


def test_read_tables(tmp_path):
    f = tmp_path / "net.txt"
    f.write_text("Gene\tRule\nx\tnot (y)\ny\t( x or y )\n")
    df = read_rule_table(f)
    assert list(df["Gene"]) == ["x", "y"] and df["Rule"][0] == "not (y)"
    (tmp_path / "net_ics.txt").write_text("Genes\tValues\n['x','y']\t[1,0.5]\n")
    (tmp_path / "net_strengths.txt").write_text("Gene1\tGene2\tStrength\ny\tx\t4\n")  # Gene1 = target
    assert read_ics(tmp_path / "net_ics.txt") == {"x": 1.0, "y": 0.5}
    st = read_strengths(tmp_path / "net_strengths.txt")
    assert st.to_dict("records") == [{"regulator": "x", "target": "y", "strength": 4.0}]
    model = load_boolode_model(f)
    assert model.ics == {"x": 1.0, "y": 0.5} and model.strengths == {("x", "y"): 4.0}
    bare = load_boolode_model(f, ics=None, strengths=None)
    assert bare.ics == {} and bare.strengths == {}
    (tmp_path / "noheader.txt").write_text("x\tnot y\ny\tx\n")
    with pytest.raises(ValueError, match="Gene<TAB>Rule"):
        read_rule_table(tmp_path / "noheader.txt")


def test_edges_match_hand_written_table():
    rules = pd.DataFrame(
        {
            "Gene": ["g1", "g2", "g3", "g4"],
            "Rule": ["not (g4)", "g1 and not g3", "( g2 or g3 )", "g3 and (not (g1 or g2))"],
        }
    )
    model = BooleanModel.from_rules(rules)
    expected = {
        ("g4", "g1", -1),
        ("g1", "g2", 1),
        ("g3", "g2", -1),
        ("g2", "g3", 1),
        ("g3", "g3", 1),
        ("g3", "g4", 1),
        ("g1", "g4", -1),
        ("g2", "g4", -1),
    }
    edges = model.edges()
    assert list(edges.columns) == ["regulator", "target", "sign"]
    assert set(map(tuple, edges.itertuples(index=False))) == expected
    assert len(edges) == len(expected)
    # a regulator without a rule gets self-activation, as in BoolODE
    m2 = BooleanModel.from_rules({"a": "b and not c", "b": "a"})
    assert m2.genes == ("a", "b", "c") and m2.rules["c"] == "c"
    assert ("c", "c", 1) in set(map(tuple, m2.edges().itertuples(index=False)))
    with pytest.raises(ValueError, match="more than one rule"):
        BooleanModel.from_rules([("a", "a"), ("a", "not a")])


@pytest.mark.parametrize(
    ("table", "sim"),
    [
        ("dyn-linear", "dyn-LI"),
        ("dyn-cycle", "dyn-CY"),
        ("dyn-linear-long", "dyn-LL"),
        ("dyn-bifurcating", "dyn-BF"),
        ("dyn-trifurcating", "dyn-TF"),
    ],
)
def test_edges_match_shared_tables_and_beeline_reference(table, sim):
    model = load_boolode_model(_need(MODELS / f"{table}.txt"))
    edges = model.edges()
    # every regulator named in a rule, with its sign, and nothing else
    rules = read_rule_table(MODELS / f"{table}.txt")
    from_rules = {(r, g, s) for g, rule in zip(rules["Gene"], rules["Rule"]) for r, s in rule_regulators(rule).items()}
    assert set(map(tuple, edges.itertuples(index=False))) == from_rules
    # BoolODE's own refNetwork of the stored simulation (Gene1 = regulator, read by name)
    ref = pd.read_csv(_need(SIMS / sim / f"{sim}-1000-1" / "refNetwork.csv"))
    ref_set = {(a, b, 1 if t == "+" else -1) for a, b, t in zip(ref["Gene1"], ref["Gene2"], ref["Type"])}
    assert set(map(tuple, edges.itertuples(index=False))) == ref_set


def test_dyn_linear_files():
    model = load_boolode_model(_need(MODELS / "dyn-linear.txt"))
    assert model.genes == tuple(f"g{i}" for i in range(1, 8))
    assert model.ics == {"g1": 1.0}
    assert model.strengths == {("g7", "g7"): 5.0, ("g7", "g1"): 5.0}
    assert dict(zip(zip(model.edges()["regulator"], model.edges()["target"]), model.edges()["sign"])) == {
        ("g7", "g1"): -1,
        ("g1", "g2"): 1,
        ("g2", "g3"): 1,
        ("g3", "g4"): 1,
        ("g4", "g5"): 1,
        ("g5", "g6"): 1,
        ("g6", "g7"): 1,
        ("g7", "g7"): 1,
    }


# --------------------------------------------------------------------------------------------------
# the Hill model
# --------------------------------------------------------------------------------------------------


def test_hill_activity_equals_boolode_subset_sum():
    rule = "(a or b) and not c"
    model = BooleanModel.from_rules({"t": rule, "a": "a", "b": "b", "c": "c"}, strengths={("b", "t"): 2.0})
    par = BoolODEParams()
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 25, size=(50, 4))
    got = hill_activity(model, p, par)[:, 0]
    # BoolODE's generated expression: (alpha + sum_S a_S prod h) / (1 + sum_S prod h), h_r = (p_r / k_r)^n
    regs = ["a", "b", "c"]
    k = {"a": 10.0, "b": 10.0 / 2.0, "c": 10.0}
    for row in range(p.shape[0]):
        h = {r: (p[row, 1 + i] / k[r]) ** par.n for i, r in enumerate(regs)}
        num = float(_python_eval(rule, dict.fromkeys(regs, False)))
        den = 1.0
        for size in range(1, 4):
            for subset in itertools.combinations(regs, size):
                prod = np.prod([h[r] for r in subset])
                den += prod
                num += _python_eval(rule, {r: r in subset for r in regs}) * prod
        assert got[row] == pytest.approx(num / den, rel=1e-9, abs=1e-12)


# --------------------------------------------------------------------------------------------------
# simulation
# --------------------------------------------------------------------------------------------------

TOGGLE = {"a": "not b", "b": "not a"}
CHAIN = {"g1": "g1", "g2": "g1", "g3": "g2"}


def test_simulation_layout_and_h5ad(tmp_path):
    adata, edges = simulate_boolode(TOGGLE, 30, [0.5, 1.0, 2.0], ics={"a": 2.0}, rng=0)
    assert adata.shape == (90, 2) and list(adata.var_names) == ["a", "b"]
    assert adata.X.dtype == np.float32 and adata.layers["protein"].shape == (90, 2)
    np.testing.assert_array_equal(np.unique(adata.obs["time"]), [0.5, 1.0, 2.0])
    assert (adata.obs["time"].value_counts() == 30).all()
    assert np.all(adata.X >= 0) and np.all(adata.layers["protein"] >= 0)
    truth = adata.uns["grn_truth"]
    assert list(truth["regulator"]) == list(edges["regulator"]) == ["b", "a"]
    assert list(truth["sign"]) == [-1, -1]
    f = tmp_path / "sim.h5ad"
    adata.write_h5ad(f)
    back = ad.read_h5ad(f)
    assert list(back.uns["grn_truth"]["target"]) == ["a", "b"]
    assert back.uns["boolode"]["params"]["noise"] == 0.25


def test_simulation_is_reproducible():
    a1, _ = simulate_boolode(CHAIN, 20, [0.3, 0.6], ics={"g1": 2.0}, rng=5)
    a2, _ = simulate_boolode(CHAIN, 20, [0.3, 0.6], ics={"g1": 2.0}, rng=np.random.default_rng(5))
    a3, _ = simulate_boolode(CHAIN, 20, [0.3, 0.6], ics={"g1": 2.0}, rng=6)
    np.testing.assert_array_equal(a1.X, a2.X)
    assert not np.array_equal(a1.X, a3.X)
    # every cell is its own trajectory: no two recorded cells coincide
    assert len(np.unique(a1.X[:, 1])) == a1.n_obs


def test_simulation_validation():
    with pytest.raises(ValueError, match="strictly increasing"):
        simulate_boolode(TOGGLE, 5, [1.0, 0.5])
    with pytest.raises(ValueError, match="noise"):
        simulate_boolode(TOGGLE, 5, [1.0], noise=-1)
    with pytest.raises(ValueError, match="unknown genes"):
        simulate_boolode(TOGGLE, 5, [1.0], ics={"zz": 1.0})


@pytest.mark.parametrize(
    ("rules", "ics", "expected"),
    [
        (TOGGLE, {"a": 2.0}, [1, 0]),
        (TOGGLE, {"b": 2.0}, [0, 1]),
        (CHAIN, {"g1": 2.0}, [1, 1, 1]),
        (CHAIN, {"g2": 2.0}, [0, 0, 0]),  # g2 decays without g1, and so does g3
    ],
)
def test_ode_reaches_boolean_fixed_point(rules, ics, expected):
    model = BooleanModel.from_rules(rules, ics=ics)
    adata, _ = simulate_boolode(model, 3, [20.0], noise=0.0)
    state = boolean_state(adata.X)
    assert np.all(state == state[0])  # no noise: identical cells
    np.testing.assert_array_equal(state[0], expected)
    fixed = boolean_fixed_points(model)
    assert any(np.array_equal(state[0], fp) for fp in fixed)
    # and it is the attractor the synchronous Boolean network reaches from the initial state
    (attractor,) = boolean_attractors(model)
    np.testing.assert_array_equal(attractor, [expected])
    # the mRNA settles at its ODE steady state x = m f / l_x: 2 when ON, 0 when OFF
    np.testing.assert_allclose(adata.X[0], 2.0 * np.asarray(expected), atol=5e-3)


def test_dyn_linear_ode_reaches_its_fixed_point():
    model = load_boolode_model(_need(MODELS / "dyn-linear.txt"))
    fixed = boolean_fixed_points(model)
    np.testing.assert_array_equal(fixed, [[0, 0, 0, 0, 0, 0, 1]])
    adata, _ = simulate_boolode(model, 2, [15.0], noise=0.0)
    np.testing.assert_array_equal(boolean_state(adata.X), fixed[[0, 0]])
    for update in ("synchronous", "asynchronous"):
        np.testing.assert_array_equal(np.concatenate(boolean_attractors(model, update=update)), fixed)


def test_dyn_bifurcating_cells_settle_in_both_fixed_points():
    # as BEELINE simulated it: initial conditions, no interaction strengths
    model = load_boolode_model(_need(MODELS / "dyn-bifurcating.txt"), strengths=None)
    fixed = boolean_fixed_points(model)
    assert len(fixed) == 2
    adata, _ = simulate_boolode(model, 100, [10.0], rng=0)
    state = boolean_state(adata.X)
    which = np.array([[np.array_equal(s, f) for f in fixed] for s in state])
    assert which.any(axis=1).mean() >= 0.95  # a few cells may sit on a threshold at the instant
    assert which.mean(axis=0).min() >= 0.25  # both branches are taken


def test_boolean_attractors_of_an_oscillator():
    model = BooleanModel.from_rules({"a": "not b", "b": "a"})
    assert boolean_fixed_points(model).shape == (0, 2)
    (cycle,) = boolean_attractors(model, [True, False])
    # (1,0) -> (1,1) -> (0,1) -> (0,0) -> (1,0)
    np.testing.assert_array_equal(cycle, [[1, 0], [1, 1], [0, 1], [0, 0]])
    (async_attr,) = boolean_attractors(model, [True, False], update="asynchronous")
    assert len(async_attr) == 4  # the same four states, a cyclic attractor
    # toggle switch, asynchronous from (1, 1): both fixed points are reachable
    toggle = BooleanModel.from_rules(TOGGLE)
    attrs = boolean_attractors(toggle, [True, True], update="asynchronous")
    np.testing.assert_array_equal(np.concatenate(attrs), [[1, 0], [0, 1]])
    with pytest.raises(ValueError, match="update"):
        boolean_attractors(toggle, [True, True], update="random")
