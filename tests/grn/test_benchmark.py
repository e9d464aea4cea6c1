"""The GRN benchmark (cellbridge.grn.benchmark) and its command, ``cellbridge benchmark grn``."""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import cellbridge as cb
from cellbridge.cli import main
from cellbridge.datasets import read_beeline, simulate_boolode
from cellbridge.grn import benchmark as gb

RULES = {"a": "a", "b": "a", "c": "b and not d", "d": "not a", "e": "c or d"}
ROOT = Path(__file__).resolve().parents[2]


def _write_beeline(directory: Path, seed: int = 0) -> Path:
    """A tiny BoolODE simulation written as BEELINE writes its inputs (cell ids E<cell>_<step>)."""
    directory.mkdir(parents=True)
    adata, edges = simulate_boolode(RULES, 20, np.linspace(0.5, 5.0, 10), rng=seed)
    steps = np.rint(adata.obs["time"].to_numpy() / 0.01).astype(int)
    cells = [f"E{i}_{s}" for i, s in enumerate(steps)]
    pd.DataFrame(np.asarray(adata.X, dtype=np.float64).T, index=adata.var_names, columns=cells).to_csv(
        directory / "ExpressionData.csv")
    pd.DataFrame({"PseudoTime": steps / steps.max()}, index=cells).to_csv(directory / "PseudoTime.csv")
    pd.DataFrame({"Gene2": edges["target"], "Gene1": edges["regulator"],  # BEELINE's stored column order
                  "Type": np.where(edges["sign"] > 0, "+", "-")}).to_csv(directory / "refNetwork.csv", index=False)
    return directory


def test_command_gives_the_metrics_called_directly(tmp_path, capsys):
    data = _write_beeline(tmp_path / "tiny")
    out = tmp_path / "res"
    assert main(["benchmark", "grn", "--data", str(data), "--methods", "pearson", "cellbridge_ot",
                 "--out", str(out), "--no-progress"]) == 0
    df = pd.read_csv(tmp_path / "res.csv")
    assert set(df["method"]) == {"pearson", "cellbridge_ot"} and set(df["network"]) == {"tiny"}
    assert (df["seed"] == 0).all()  # deterministic methods run once

    adata, truth = read_beeline(data, n_time_bins=5)
    genes = list(adata.var_names)
    # pandas' correlation matrix is exactly symmetric (numpy's corrcoef is not, to 1e-16), so that the
    # two directions of a pair tie, as the benchmark ranks them
    pearson = np.abs(pd.DataFrame(np.asarray(adata.X, dtype=np.float64)).corr().to_numpy())
    np.fill_diagonal(pearson, 0.0)
    cb.tl.grn(adata, time_key="time")  # the model-free route at its defaults
    ot = np.asarray(adata.varp["cellbridge_grn"], dtype=np.float64)
    for method, scores in (("pearson", pearson), ("cellbridge_ot", ot)):
        row = df[df["method"] == method].iloc[0]
        assert abs(row["auroc"] - cb.grn.auroc(scores, truth, genes=genes)) < 1e-12
        direct = cb.grn.score_network(scores, truth, genes=genes)
        for key in ("auprc_ratio", "early_precision_ratio", "edge_density"):
            assert abs(row[key] - direct[key]) < 1e-12, key

    md = (tmp_path / "res.md").read_text()
    assert "Command: `cellbridge benchmark grn --data" in md and "wall clock on" in md
    assert "| method | tiny |" in md and "| Pearson \\|r\\| | " in md
    assert md in capsys.readouterr().out


def test_folders_of_folders_and_rule_files(tmp_path):
    _write_beeline(tmp_path / "data" / "netA")
    _write_beeline(tmp_path / "data" / "x" / "netB", seed=1)  # found below, in path order
    (tmp_path / "data" / "notes").mkdir()  # neither layout: skipped
    rules = tmp_path / "tiny.txt"
    rules.write_text("Gene\tRule\n" + "".join(f"{g}\t{r}\n" for g, r in RULES.items()))
    out = tmp_path / "out" / "res"
    assert main(["benchmark", "grn", "--data", str(tmp_path / "data"), "--rules", str(rules), "--end-time", "5",
                 "--methods", "pearson", "ot_ridge", "--seeds", "1", "--out", str(out), "--no-progress"]) == 0
    df = pd.read_csv(out.with_suffix(".csv"))
    assert list(dict.fromkeys(df["network"])) == ["netA", "netB", "sim-tiny"]
    assert df["auroc"].between(0, 1).all() and df.loc[df.method == "ot_ridge", "signed_accuracy"].notna().all()
    md = out.with_suffix(".md").read_text()
    assert "| method | netA | netB | sim-tiny | mean AUROC (BoolODE) |" in md

    # BEELINE's own layout <net>/<net>-<cells>-<k>/ is named after the network
    _write_beeline(tmp_path / "sims" / "dyn-XY" / "dyn-XY-200-1")
    assert list(gb.find_networks(tmp_path / "sims")) == ["dyn-XY"]


def test_bad_input_is_a_clear_error(tmp_path, capsys):
    assert main(["benchmark", "grn", "--data", str(tmp_path / "missing")]) == 2
    assert "no such folder" in capsys.readouterr().err
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "refNetwork.csv").write_text("Gene1,Gene2,Type\na,b,+\n")
    assert main(["benchmark", "grn", "--data", str(partial)]) == 2
    err = capsys.readouterr().err
    assert "ExpressionData.csv" in err and "gt_GRN.csv" in err
    assert main(["benchmark", "grn", "--data", str(partial), "--methods", "pearson", "magic"]) == 2
    err = capsys.readouterr().err
    assert "unknown method(s) magic" in err and "cellbridge_ot" in err
    rules = tmp_path / "mine.txt"
    rules.write_text("Gene\tRule\na\tnot a\n")
    assert main(["benchmark", "grn", "--rules", str(rules)]) == 2
    assert "--end-time" in capsys.readouterr().err
    assert main(["benchmark", "grn"]) == 2
    assert main(["benchmark"]) == 1
    with pytest.raises(FileNotFoundError, match="ExpressionData.csv"):
        gb.load_network(partial)
    with pytest.raises(ValueError, match="unknown method"):
        gb.run_benchmark({}, ["magic"])


def test_table_of_grn_md_from_its_csv():
    """results_table rebuilds the table of benchmarks/results/grn.md from grn.csv, line for line."""
    df = pd.read_csv(ROOT / "benchmarks" / "results" / "grn.csv")
    md = (ROOT / "benchmarks" / "results" / "grn.md").read_text().split("\n")
    nets = ["dyn-LI", "dyn-CY", "dyn-LL", "dyn-BF", "dyn-TF", "SERGIO-DS4"]
    table = gb.results_table(df, nets, nets[:5])
    start = md.index(table[0])
    assert md[start:start + len(table)] == table
    assert gb.results_table(df, mean_over=nets[:5]) == table  # the networks in their known order by default


def test_every_parameter_is_documented():
    for name in gb.__all__:
        obj = getattr(gb, name)
        if not (inspect.isfunction(obj) or inspect.isclass(obj)):
            continue
        doc = inspect.getdoc(obj)
        assert "\nParameters\n----------\n" in doc and "\nReturns\n-------\n" in doc, name
        entries = [e for line in doc.split("\n") if line and not line.startswith(" ") for e in line.split(", ")]
        params = [p for p in inspect.signature(obj).parameters]
        assert [p for p in params if p in entries] == params, name
