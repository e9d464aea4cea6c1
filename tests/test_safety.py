"""A package that cannot silently mislead: verified loading, checked simulate arguments, no NaN trajectories,
a warning when simulating far outside the fitted time range."""

import copy
import json
import logging
import shutil

import numpy as np
import pandas as pd
import pytest
import torch

import cellbridge as cb
from cellbridge.model import _FORMAT_VERSION

TINY = dict(n_steps=30, batch_size=32, hidden_dims=(16, 16), num_threads=1, progress=False, device="cpu")


@pytest.fixture(scope="module")
def fitted():
    adata = cb.datasets.bifurcation(n_cells=60, n_dims=3, rng=0)
    model = cb.tl.fit(adata, "day", rng=0, **TINY)
    return adata, model


@pytest.fixture(scope="module")
def saved(fitted, tmp_path_factory):
    return fitted[1].save(tmp_path_factory.mktemp("saved") / "model")


@pytest.fixture
def copy_of(saved, tmp_path):
    """A fresh copy of the saved model for a test to damage."""
    target = tmp_path / "model"
    shutil.copytree(saved, target)
    return target


@pytest.fixture
def records(caplog, monkeypatch):
    """caplog for the ``cellbridge`` logger, which does not propagate to the root logger outside tests."""
    monkeypatch.setattr(logging.getLogger("cellbridge"), "propagate", True)
    return caplog


def _edit_config(directory, edit):
    payload = json.loads((directory / "config.json").read_text())
    edit(payload)
    (directory / "config.json").write_text(json.dumps(payload))


# -- saving and loading ----------------------------------------------------------------------------------

def test_save_records_the_format_version_and_the_checksum_and_round_trips(fitted, saved):
    payload = json.loads((saved / "config.json").read_text())
    assert _FORMAT_VERSION == 2 and payload["config"]["format_version"] == 2
    import hashlib

    assert payload["weights_sha256"] == hashlib.sha256((saved / "weights.pt").read_bytes()).hexdigest()
    assert sorted(p.name for p in saved.iterdir()) == ["config.json", "weights.pt"]  # no temporary left
    adata, model = fitted
    x0 = adata.obsm["X_pca"][:10]
    np.testing.assert_array_equal(cb.load(saved).simulate(x0, [0.0, 1.0], rng=3), model.simulate(x0, [0.0, 1.0], rng=3))


def test_a_flipped_byte_in_the_weights_is_refused(copy_of):
    raw = bytearray((copy_of / "weights.pt").read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    (copy_of / "weights.pt").write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=r"weights\.pt: its SHA-256 .* is not the one config\.json records"):
        cb.load(copy_of)


def test_truncated_weights_are_refused(copy_of):
    raw = (copy_of / "weights.pt").read_bytes()
    (copy_of / "weights.pt").write_bytes(raw[: len(raw) // 3])
    with pytest.raises(ValueError, match=r"weights\.pt: its SHA-256 .*corrupted or truncated"):
        cb.load(copy_of)


def test_truncated_weights_of_an_unverified_format_1_save_give_a_clear_error(copy_of):
    def to_v1(p):
        p["config"]["format_version"] = 1
        del p["weights_sha256"]

    _edit_config(copy_of, to_v1)
    raw = (copy_of / "weights.pt").read_bytes()
    (copy_of / "weights.pt").write_bytes(raw[: len(raw) // 3])
    with pytest.raises(ValueError, match=r"weights\.pt: cannot be read as saved weights"):
        cb.load(copy_of)


def test_a_format_1_save_without_checksum_still_loads_unverified(fitted, copy_of, records):
    def to_v1(p):
        p["config"]["format_version"] = 1
        del p["weights_sha256"]

    _edit_config(copy_of, to_v1)
    loaded = cb.load(copy_of)
    assert any("without a checksum" in r.getMessage() and r.levelno == logging.INFO for r in records.records)
    x0 = fitted[0].obsm["X_pca"][:5]
    np.testing.assert_array_equal(loaded.simulate(x0, [0.0, 2.0], rng=1), fitted[1].simulate(x0, [0.0, 2.0], rng=1))
    # saved again, it is written in the current format, with a checksum
    resaved = loaded.save(copy_of.parent / "again")
    payload = json.loads((resaved / "config.json").read_text())
    assert payload["config"]["format_version"] == _FORMAT_VERSION and len(payload["weights_sha256"]) == 64


def _set(*keys_and_value):
    *path, value = keys_and_value

    def edit(payload):
        d = payload
        for k in path[:-1]:
            d = d[k]
        if value is _DELETE:
            del d[path[-1]]
        else:
            d[path[-1]] = value

    return edit


_DELETE = object()

BAD_CONFIGS = {
    "wrong dim": (_set("config", "dim", 5), r"dim is 5, but the normalization's center holds 3 numbers"),
    "network of another dim": (_set("config", "networks", "flow", "dim", 4), r"network 'flow' takes states of dimension 4, but dim is 3"),
    "dim not an int": (_set("config", "dim", 3.0), r"dim must be a positive integer, got 3\.0"),
    "missing time_points": (_set("config", "time_points", _DELETE), r"lacks the required field\(s\) 'time_points'"),
    "unsorted time_points": (_set("config", "time_points", [0.0, 2.0, 1.0, 3.0, 4.0]), "strictly increasing"),
    "nan time point": (_set("config", "time_points", [0.0, 1.0, float("nan"), 3.0, 4.0]), "finite numbers only"),
    "scale 0": (_set("normalization", "scale", 0), r"the normalization's scale must be a positive finite number, got 0"),
    "t_span negative": (_set("normalization", "t_span", -4.0), r"t_span must be a positive finite number"),
    "short center": (_set("normalization", "center", [0.0, 0.0]), r"dim is 3, but the normalization's center holds 2 numbers"),
    "unknown method": (_set("config", "method", "magic"), r"method 'magic', which this cellbridge does not know"),
    "negative sigma": (_set("config", "sigma", -0.1), r"sigma must be a positive finite number, got -0\.1"),
    "missing network config": (_set("config", "networks", "score", _DELETE), r"no config of network 'score'"),
    "newer format": (_set("config", "format_version", 99), r"model format 99 is newer than this cellbridge"),
    "missing checksum": (_set("weights_sha256", _DELETE), r"records no valid SHA-256 of weights\.pt"),
}


@pytest.mark.parametrize("kind", list(BAD_CONFIGS))
def test_a_bad_config_is_refused_naming_the_file_and_the_problem(copy_of, kind):
    edit, match = BAD_CONFIGS[kind]
    _edit_config(copy_of, edit)
    with pytest.raises(ValueError, match=match) as info:
        cb.load(copy_of)
    assert "config.json" in str(info.value)


def test_a_config_that_is_not_json_is_refused(copy_of):
    (copy_of / "config.json").write_text('{"config": {"method": "sf2m", ')
    with pytest.raises(ValueError, match=r"config\.json: is not valid JSON"):
        cb.load(copy_of)


def test_weights_that_do_not_fit_the_networks_are_refused(fitted, copy_of):
    """A consistent config (and checksum) over weights of another shape: load_state_dict's error, as a ValueError."""
    model = fitted[1]
    states = {k: {n: p.detach().clone() for n, p in v.state_dict().items()} for k, v in model.networks.items()}
    first = next(iter(states["flow"]))
    states["flow"][first] = torch.zeros(7, 7)
    torch.save(states, copy_of / "weights.pt")
    import hashlib

    _edit_config(copy_of, _set("weights_sha256", hashlib.sha256((copy_of / "weights.pt").read_bytes()).hexdigest()))
    with pytest.raises(ValueError, match=r"weights\.pt: the weights of network 'flow' do not fit the network config\.json"):
        cb.load(copy_of)


# -- simulate: arguments -----------------------------------------------------------------------------------

def _snapshot(adata):
    return {"obs": adata.obs.copy(), "obsm": set(adata.obsm), "uns": set(adata.uns), "X": np.array(adata.X, copy=True)}


def _assert_unchanged(adata, snap):
    pd.testing.assert_frame_equal(adata.obs, snap["obs"])
    assert set(adata.obsm) == snap["obsm"] and set(adata.uns) == snap["uns"]
    np.testing.assert_array_equal(adata.X, snap["X"])


BAD_SIMULATE = [
    (dict(model=None), TypeError, "model must be a fitted cellbridge.CellBridgeModel"),
    (dict(model="model/"), TypeError, "model must be a fitted"),
    (dict(steps_per_interval=0), ValueError, "steps_per_interval"),
    (dict(steps_per_interval=2.5), ValueError, "steps_per_interval"),
    (dict(steps_per_interval=True), ValueError, "steps_per_interval"),
    (dict(to_time=float("nan")), ValueError, "to_time must be a finite number"),
    (dict(from_time=float("inf")), ValueError, "from_time must be a finite number"),
    (dict(t_eval=[1.0, float("nan")]), ValueError, "t_eval holds NaN"),
    (dict(t_eval=["late"]), ValueError, "t_eval"),
    (dict(n_cells=0), ValueError, "n_cells must be positive"),
    (dict(n_cells=-3), ValueError, "n_cells must be positive"),
    (dict(n_cells=2.5), ValueError, "n_cells"),
    (dict(stochastic="yes"), TypeError, "stochastic"),
    (dict(stochastic=None), TypeError, "stochastic"),
    (dict(direction="sideways"), ValueError, "direction"),
    (dict(rng="seed"), TypeError, "rng"),
    (dict(rng=1.5), TypeError, "rng"),
    (dict(rng=-1), ValueError, "rng"),
]


@pytest.mark.parametrize("kwargs, error, match", BAD_SIMULATE, ids=[str(k) for k, _, _ in BAD_SIMULATE])
def test_bad_simulate_arguments_name_the_argument_and_leave_adata_unchanged(fitted, kwargs, error, match):
    adata, model = fitted
    snap = _snapshot(adata)
    args = {"model": model, **kwargs}
    with pytest.raises(error, match=match):
        cb.tl.simulate(adata, **args)
    _assert_unchanged(adata, snap)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(steps_per_interval=0), ValueError, "steps_per_interval"),
    (dict(steps_per_interval=2.5), ValueError, "steps_per_interval"),
    (dict(steps_per_interval=True), ValueError, "steps_per_interval"),
    (dict(stochastic=1), TypeError, "stochastic"),
    (dict(direction="up"), ValueError, "direction"),
    (dict(rng="seed"), TypeError, "rng"),
    (dict(method="midpoint", stochastic=False), ValueError, "method .the ODE scheme. must be"),
    (dict(t_eval=[0.0, float("nan")]), ValueError, "t_eval holds NaN"),
    (dict(x0=np.full((4, 3), np.nan)), ValueError, "x0 holds NaN"),
    (dict(x0=np.zeros((4, 2))), ValueError, r"x0 must have shape \(n_cells, 3\)"),
])
def test_bad_model_simulate_arguments_name_the_argument(fitted, kwargs, error, match):
    adata, model = fitted
    args = {"x0": adata.obsm["X_pca"][:4], "t_eval": [0.0, 1.0], **kwargs}
    with pytest.raises(error, match=match):
        model.simulate(args.pop("x0"), args.pop("t_eval"), **args)


def test_good_arguments_of_other_integer_and_bool_types_are_accepted(fitted):
    adata, model = fitted
    sim = cb.tl.simulate(adata, model, n_cells=np.int64(4), steps_per_interval=np.int32(5), stochastic=np.bool_(False),
                         rng=np.random.default_rng(0), t_eval=np.array([1.0, 2.0]))
    assert sim.n_obs == 4 * 3 and np.isfinite(sim.obsm["X_pca"]).all()


# -- simulate: no silent nonsense --------------------------------------------------------------------------

def test_a_diverging_drift_raises_instead_of_returning_nan(fitted, saved):
    adata, _ = fitted
    broken = cb.load(saved)
    with torch.no_grad():
        for net in broken.networks.values():
            last = [m for m in net.modules() if isinstance(m, torch.nn.Linear)][-1]
            last.weight.mul_(1e30)
    x0 = adata.obsm["X_pca"][:20]
    with pytest.raises(FloatingPointError, match=r"became NaN or infinite between t=0 and t=1"):
        broken.simulate(x0, [0.0, 1.0, 2.0], steps_per_interval=10)
    with pytest.raises(FloatingPointError, match="NaN or infinite"):
        broken.simulate(x0, [0.0, 1.0], stochastic=False, steps_per_interval=10)
    snap = _snapshot(adata)
    with pytest.raises(FloatingPointError, match="NaN or infinite"):
        cb.tl.simulate(adata, broken, n_cells=10, steps_per_interval=10)
    _assert_unchanged(adata, snap)


def test_simulating_far_past_the_last_time_point_warns(fitted, records):
    adata, model = fitted
    cb.tl.simulate(adata, model, n_cells=5, to_time=4.3, steps_per_interval=5)  # within the 10% margin
    assert not [r for r in records.records if r.levelno >= logging.WARNING]
    sim = cb.tl.simulate(adata, model, n_cells=5, to_time=9.0, steps_per_interval=5)
    warnings = [r.getMessage() for r in records.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "t=9" in warnings[0] and "extrapolates" in warnings[0]
    assert "fitted time range [0, 4]" in warnings[0]
    assert np.isfinite(sim.obsm["X_pca"]).all()
    records.clear()
    model.simulate(adata.obsm["X_pca"][:3], [-2.0, 0.0], steps_per_interval=5)  # before the first point, too
    assert any("t=-2" in r.getMessage() for r in records.records if r.levelno == logging.WARNING)


def test_the_checks_do_not_change_a_good_simulation(fitted):
    """Same seed, same trajectories, twice; the record in uns is what was asked for."""
    adata, model = fitted
    a = cb.tl.simulate(adata, model, n_cells=6, rng=2, steps_per_interval=20)
    b = cb.tl.simulate(adata, copy.deepcopy(model), n_cells=6, rng=2, steps_per_interval=20)
    np.testing.assert_array_equal(a.obsm["X_pca"], b.obsm["X_pca"])
    assert a.uns["cellbridge_simulation"]["steps_per_interval"] == 20
