"""The package logger prints what scanpy's verbosity says, read at every message, unless cb.settings.verbosity
is set."""

import io
import logging
import sys

import pytest
import scanpy as sc

import cellbridge as cb
from cellbridge import _logging
from cellbridge._logging import logger


@pytest.fixture
def printed():
    """What the package's own handler prints (its stream swapped for a buffer); both settings restored."""
    buffer = io.StringIO()
    before_sc, before_cb = sc.settings.verbosity, cb.settings.verbosity
    old = _logging.handler.setStream(buffer)
    try:
        yield buffer
    finally:
        _logging.handler.setStream(old)
        sc.settings.verbosity, cb.settings.verbosity = before_sc, before_cb


LEVELS = ("debug", "info", "warning", "error")


def _emit_all():
    for name in LEVELS:
        getattr(logger, name)(f"message at {name}")


def _levels(buffer):
    """The levels whose message the package's handler printed since the last call."""
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return [name for name in LEVELS if f"cellbridge: message at {name}\n" in text]


def test_by_default_cellbridge_follows_scanpy_and_a_later_change_takes_effect(printed):
    cb.settings.verbosity = None
    sc.settings.verbosity = 1  # scanpy's default
    _emit_all()
    assert _levels(printed) == ["warning", "error"]
    sc.settings.verbosity = "info"  # changed after cellbridge was imported and its handler made
    _emit_all()
    assert _levels(printed) == ["info", "warning", "error"]
    sc.settings.verbosity = 3  # hint: debug messages too
    _emit_all()
    assert _levels(printed) == ["debug", "info", "warning", "error"]
    sc.settings.verbosity = 0
    _emit_all()
    assert _levels(printed) == ["error"]


def test_cb_settings_verbosity_overrides_scanpy_until_reset_to_none(printed):
    sc.settings.verbosity = 3
    cb.settings.verbosity = 1
    _emit_all()
    assert _levels(printed) == ["warning", "error"]
    cb.settings.verbosity = "error"
    assert cb.settings.verbosity == 0
    _emit_all()
    assert _levels(printed) == ["error"]
    cb.settings.verbosity = None  # back to following scanpy (3)
    _emit_all()
    assert _levels(printed) == ["debug", "info", "warning", "error"]


def test_without_scanpy_imported_its_default_applies(printed, monkeypatch):
    cb.settings.verbosity = None
    sc.settings.verbosity = 3
    monkeypatch.delitem(sys.modules, "scanpy")  # as if nobody had imported it: its default, warnings
    _emit_all()
    assert _levels(printed) == ["warning", "error"]
    assert _logging.verbosity() == _logging.SCANPY_DEFAULT_VERBOSITY == 1


def test_records_reach_added_handlers_whatever_the_verbosity(printed, caplog, monkeypatch):
    """The verbosity decides what cellbridge prints; caplog (or any handler a user adds) gets every record."""
    monkeypatch.setattr(logger, "propagate", True)
    cb.settings.verbosity = 0
    with caplog.at_level(logging.DEBUG):
        _emit_all()
    assert [r.levelname for r in caplog.records if r.name == "cellbridge"] == ["DEBUG", "INFO", "WARNING", "ERROR"]
    assert _levels(printed) == ["error"]


def test_a_real_call_prints_its_info_line_only_at_info_verbosity(printed, tmp_path):
    model = cb.tl.fit(cb.datasets.bifurcation(n_cells=20, n_dims=2, rng=0), "day", n_steps=5, batch_size=16,
                      hidden_dims=(8,), num_threads=1, progress=False, device="cpu")
    cb.settings.verbosity = None
    sc.settings.verbosity = 1
    model.save(tmp_path / "quiet")
    assert "saved model" not in printed.getvalue()
    sc.settings.verbosity = 2
    model.save(tmp_path / "loud")
    assert f"cellbridge: saved model to {tmp_path / 'loud'}" in printed.getvalue()


@pytest.mark.parametrize("value, error, match", [
    ("loud", ValueError, "must be one of"),
    (7, ValueError, "between 0"),
    (-1, ValueError, "between 0"),
    (True, TypeError, "integer 0-4"),
    (2.0, TypeError, "integer 0-4"),
])
def test_bad_verbosity_values_are_refused(printed, value, error, match):
    with pytest.raises(error, match=match):
        cb.settings.verbosity = value
    assert cb.settings.verbosity is None or isinstance(cb.settings.verbosity, int)


def test_scanpy_verbosity_values_are_accepted(printed):
    from scanpy._settings import Verbosity

    cb.settings.verbosity = Verbosity.hint
    assert cb.settings.verbosity == 3 and type(cb.settings.verbosity) is int
    cb.settings.verbosity = "INFO"
    assert cb.settings.verbosity == 2
    from cellbridge._settings import settings

    assert "settings" in cb.__all__ and cb.settings is settings
