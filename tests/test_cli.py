"""Tests of the command line (``cellbridge demo``, ``cellbridge --version``)."""

from __future__ import annotations

import re

import pytest

from cellbridge.cli import main


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.startswith("cellbridge ")


def test_no_command_prints_help(capsys):
    assert main([]) == 1
    assert "demo" in capsys.readouterr().out


def test_demo_runs_and_reports(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--n-steps", "50"]) == 0
    png = out / "cellbridge_demo.png"
    assert png.stat().st_size > 1000
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr().out
    assert str(png) in printed
    assert "final loss" in printed
    # the W1 table: a header, then one row per time point of the bifurcation data (days 0..4):
    # day, number of cells, W1 to the simulation, W1 to the previous day ("-" for the first)
    lines = printed.splitlines()
    header = next(i for i, line in enumerate(lines) if "W1(sim, obs)" in line)
    rows = [line.split() for line in lines[header + 1 :] if line.strip()]
    rows = [r for r in rows if re.fullmatch(r"-?[0-9.]+", r[0]) and len(r) == 4]
    assert [r[0] for r in rows] == ["0", "1", "2", "3", "4"]
    assert all(r[1] == "200" for r in rows)
    assert rows[0][3] == "-"
    for r in rows:
        assert float(r[2]) >= 0.0
    for r in rows[1:]:
        assert float(r[3]) > 0.0
    # the simulation starts from the observed cells of the first day
    assert float(rows[0][2]) < 0.5 * float(rows[1][3])
