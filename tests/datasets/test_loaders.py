"""Tests of the public time-course loaders and of the file resolution behind them (never the network)."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest

import cellbridge as cb
from cellbridge.datasets import _fetch, _registry
from cellbridge.datasets._registry import REGISTRY, RemoteFile

# the project's reference data: ../shared/data from the repository root
SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _require_shared(relpath: str) -> Path:
    """The reference file ``relpath``; skips when it is missing, except under CI (env ``CI``), where it fails."""
    file = SHARED_DATA / relpath
    if not file.is_file():
        reason = f"reference data file {file} is missing (the shared data folder is not available here)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must provide {SHARED_DATA}")
        pytest.skip(reason)
    return file


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """Every test: an empty cache in tmp_path, no CELLBRIDGE_DATA_DIR, and a network that always fails."""
    monkeypatch.setenv(_fetch.ENV_CACHE, str(tmp_path / "cache"))
    monkeypatch.delenv(_fetch.ENV_DATA_DIR, raising=False)

    def no_network(url, timeout):
        raise AssertionError(f"tests must not touch the network (tried {url})")

    monkeypatch.setattr(_fetch, "_open_url", no_network)


def _entry(content: bytes, *, sha256: str | None = "auto", **kw) -> RemoteFile:
    """A test-only registry entry whose origin is a fake URL serving ``content``."""
    digest = hashlib.sha256(content).hexdigest() if sha256 == "auto" else sha256
    fields = dict(
        name="test_file",
        relpath="timecourse/test/file.bin",
        url="https://example.invalid/file.bin",
        sha256=digest,
        license="none",
        description="a test file",
    )
    fields.update(kw)
    return RemoteFile(**fields)


class _Response(io.BytesIO):
    headers = {"Content-Length": "0"}


# --------------------------------------------------------------------------------------------------
# registry


def test_registry_entries_are_complete():
    for entry in REGISTRY.values():
        assert entry.url.startswith("https://")
        assert not entry.relpath.startswith("/") and ".." not in entry.relpath
        assert entry.sha256 is None or (len(entry.sha256) == 64 and int(entry.sha256, 16) >= 0)
        assert entry.license and entry.description
        if not entry.direct:
            assert entry.note  # says how to obtain the file
    with pytest.raises(ValueError, match="known"):
        _registry.get("no_such_file")


def test_registry_matches_the_shared_manifest():
    manifest = _require_shared("MANIFEST.sha256")
    listed = {}
    for line in manifest.read_text().splitlines():
        digest, rel = line.split(maxsplit=1)
        listed[rel.removeprefix("./")] = digest
    for entry in REGISTRY.values():
        if entry.relpath in listed:
            assert entry.sha256 == listed[entry.relpath], entry.name


# --------------------------------------------------------------------------------------------------
# errors


def test_checksum_mismatch_names_both_hashes(tmp_path):
    bad = tmp_path / "EMT.npy"
    bad.write_bytes(b"not the TIGON file")
    actual = hashlib.sha256(b"not the TIGON file").hexdigest()
    expected = REGISTRY["tigon_emt"].sha256
    with pytest.raises(ValueError, match="checksum mismatch") as info:
        cb.datasets.emt(path=bad)
    assert expected in str(info.value) and actual in str(info.value) and "EMT.npy" in str(info.value)


def test_checksum_mismatch_of_a_registered_file_in_a_data_dir(tmp_path):
    entry = _entry(b"the right content")
    file = tmp_path / "data" / entry.relpath
    file.parent.mkdir(parents=True)
    file.write_bytes(b"the wrong content")
    with pytest.raises(ValueError) as info:
        _fetch.fetch(entry, data_dir=tmp_path / "data")
    msg = str(info.value)
    assert entry.sha256 in msg and hashlib.sha256(b"the wrong content").hexdigest() in msg
    assert _fetch.fetch(entry, data_dir=tmp_path / "data", verify=False) == file


def test_missing_file_without_download_says_where_to_put_it(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        cb.datasets.emt(data_dir=tmp_path / "nowhere", download=False)
    msg = str(info.value)
    entry = REGISTRY["tigon_emt"]
    assert entry.url in msg
    assert str(tmp_path / "nowhere" / entry.relpath) in msg  # the data dir
    assert str(tmp_path / "cache" / entry.relpath) in msg  # the cache
    assert "path=" in msg and "CELLBRIDGE_DATA_DIR" in msg


def test_failed_download_says_where_to_put_it(tmp_path, monkeypatch):
    import urllib.error

    def offline(url, timeout):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(_fetch, "_open_url", offline)
    with pytest.raises(FileNotFoundError) as info:
        cb.datasets.embryoid_body()
    msg = str(info.value)
    assert REGISTRY["embryoid_body"].url in msg and "no network" in msg
    assert str(tmp_path / "cache" / REGISTRY["embryoid_body"].relpath) in msg
    assert not any((tmp_path / "cache").rglob("*.part"))  # nothing half-written left behind


def test_source_that_is_not_a_download_says_how_to_make_the_file():
    with pytest.raises(FileNotFoundError, match="convert") as info:
        cb.datasets.hsmm()
    assert REGISTRY["hsmm"].url in str(info.value)


def test_explicit_path_must_exist_and_be_a_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        cb.datasets.emt(path=tmp_path / "EMT.npy")
    with pytest.raises(ValueError, match="directory"):
        cb.datasets.emt(path=tmp_path)


def test_unknown_checksum_warns(tmp_path):
    entry = _entry(b"x", sha256=None)
    file = tmp_path / "file.bin"
    file.write_bytes(b"x")
    with pytest.warns(UserWarning, match="cannot be verified"):
        assert _fetch.fetch(entry, path=file) == file


# --------------------------------------------------------------------------------------------------
# download into the cache (with a fake server)


def test_download_goes_to_the_cache_atomically(tmp_path, monkeypatch):
    content = b"payload" * 1000
    entry = _entry(content)
    monkeypatch.setattr(_fetch, "_open_url", lambda url, timeout: _Response(content))
    path = _fetch.fetch(entry)
    assert path == tmp_path / "cache" / entry.relpath
    assert path.read_bytes() == content
    assert [p.name for p in path.parent.iterdir()] == ["file.bin"]  # no temporary file left
    # the second call finds it in the cache and does not download again
    monkeypatch.setattr(_fetch, "_open_url", lambda url, timeout: pytest.fail("downloaded twice"))
    assert _fetch.fetch(entry) == path


def test_corrupt_download_is_discarded(tmp_path, monkeypatch):
    entry = _entry(b"expected content")
    monkeypatch.setattr(_fetch, "_open_url", lambda url, timeout: _Response(b"something else"))
    with pytest.raises(ValueError, match="checksum mismatch") as info:
        _fetch.fetch(entry)
    assert entry.sha256 in str(info.value)
    assert hashlib.sha256(b"something else").hexdigest() in str(info.value)
    folder = tmp_path / "cache" / "timecourse" / "test"
    assert not folder.exists() or not any(folder.iterdir())


# --------------------------------------------------------------------------------------------------
# the reference data in ../shared/data

_EXPECTED = {
    # loader: (registry name, shape, cells per time point, time labels, days)
    "ipsc_bifurcation": (
        "tigon_bifurcation",
        (1896, 4),
        [231, 166, 93, 211, 122, 258, 456, 359],
        [str(k) for k in range(8)],
        list(range(8)),
    ),
    "emt": ("tigon_emt", (3133, 3), [577, 885, 788, 754, 129], ["0d", "8h", "1d", "3d", "7d"], [0, 1 / 3, 1, 3, 7]),
    "tigon_simulation": (
        "tigon_simulation",
        (2947, 3),
        [400, 433, 518, 682, 914],
        ["0", "1", "2", "3", "4"],
        [0, 1, 2, 3, 4],
    ),
    "moscot_reprogramming": ("moscot_temporal", (250, 1479), [85, 81, 84], ["10", "10.5", "11"], [10, 10.5, 11]),
    "hsmm": ("hsmm", (271, 21532), [69, 74, 79, 49], ["0h", "24h", "48h", "72h"], [0, 1, 2, 3]),
}


def _check_layout(adata: ad.AnnData, loader: str, tmp_path: Path) -> None:
    name, shape, counts, labels, days = _EXPECTED[loader]
    assert adata.shape == shape
    assert adata.obs_names.is_unique
    assert adata.obs["day"].dtype == np.float64
    assert adata.obs["time_index"].dtype == np.int64
    assert adata.obs["time_label"].cat.ordered
    assert list(adata.obs["time_label"].cat.categories) == labels
    np.testing.assert_allclose(np.unique(adata.obs["day"]), days)
    assert adata.obs["time_index"].value_counts().sort_index().tolist() == counts
    assert adata.obs["time_label"].value_counts(sort=False).tolist() == counts
    # time_index, time_label and day tell the same story
    by_index = adata.obs.groupby("time_index", observed=True)
    assert (by_index["day"].nunique() == 1).all() and (by_index["time_label"].nunique() == 1).all()
    assert np.all(np.diff(by_index["day"].first().to_numpy()) > 0)
    record = adata.uns["dataset"]
    assert record["name"] == name and record["url"] == REGISTRY[name].url
    assert all(isinstance(v, str) and v for v in record.values())
    assert record["use_rep"] == "X" or record["use_rep"] == "X_pca"
    # writes to .h5ad and reads back
    out = tmp_path / f"{loader}.h5ad"
    adata.write_h5ad(out)
    back = ad.read_h5ad(out)
    assert back.shape == shape
    pd.testing.assert_series_equal(back.obs["day"], adata.obs["day"])
    assert back.uns["dataset"]["url"] == record["url"]


@pytest.mark.parametrize("loader", sorted(_EXPECTED))
def test_shared_data_loads_with_documented_layout(loader, tmp_path):
    _require_shared(REGISTRY[_EXPECTED[loader][0]].relpath)
    adata = getattr(cb.datasets, loader)(data_dir=SHARED_DATA, download=False)
    _check_layout(adata, loader, tmp_path)


def test_tigon_coordinates_in_x(tmp_path):
    file = _require_shared(REGISTRY["tigon_bifurcation"].relpath)
    adata = cb.datasets.ipsc_bifurcation(path=file)
    assert adata.X.dtype == np.float32
    assert list(adata.var_names) == ["dim_0", "dim_1", "dim_2", "dim_3"]
    assert "X_pca" not in adata.obsm  # not principal components
    raw = np.load(file, allow_pickle=True)[0]
    np.testing.assert_allclose(adata.X[: raw[0].shape[0]], raw[0], rtol=1e-6)
    np.testing.assert_allclose(adata.X[-raw[7].shape[0] :], raw[7], rtol=1e-6)
    np.testing.assert_array_equal(adata.obs["day"], adata.obs["time_index"])


def test_hsmm_keeps_fpkm_and_hours(tmp_path):
    _require_shared(REGISTRY["hsmm"].relpath)
    adata = cb.datasets.hsmm(data_dir=SHARED_DATA, download=False)
    np.testing.assert_allclose(adata.obs["day"], adata.obs["Hours"] / 24.0)
    assert adata.obs["time_label"].iloc[0] == f"{adata.obs['Hours'].iloc[0]}h"


def test_path_override_and_env_var(tmp_path, monkeypatch):
    file = _require_shared(REGISTRY["tigon_emt"].relpath)
    by_path = cb.datasets.emt(path=file, download=False)
    monkeypatch.setenv(_fetch.ENV_DATA_DIR, str(SHARED_DATA))
    by_env = cb.datasets.emt(download=False)
    np.testing.assert_array_equal(by_path.X, by_env.X)
    # a data_dir argument wins over the environment variable
    with pytest.raises(FileNotFoundError):
        cb.datasets.emt(data_dir=tmp_path / "empty", download=False)


def test_tigon_file_in_a_user_layout(tmp_path):
    """A directory with the registry layout works as data_dir (the file is linked, not copied)."""
    file = _require_shared(REGISTRY["tigon_simulation"].relpath)
    target = tmp_path / "mydata" / REGISTRY["tigon_simulation"].relpath
    target.parent.mkdir(parents=True)
    target.symlink_to(file)
    adata = cb.datasets.tigon_simulation(data_dir=tmp_path / "mydata", download=False)
    assert adata.shape == (2947, 3)


def test_emt_fits_the_package_time_parsing(tmp_path):
    _require_shared(REGISTRY["tigon_emt"].relpath)
    adata = cb.datasets.emt(data_dir=SHARED_DATA, download=False)
    cb.pp.prepare(adata, time_key="day", use_rep=adata.uns["dataset"]["use_rep"])
    np.testing.assert_allclose(np.unique(adata.obs["cellbridge_time"]), [0, 1 / 3, 1, 3, 7])


# --------------------------------------------------------------------------------------------------
# converters of the sets that are not available offline, on small files in the literature's format


def test_embryoid_body_converts_trajectorynet_npz(tmp_path):
    rng = np.random.default_rng(0)
    n = 50
    labels = np.repeat(np.arange(5), 10)
    file = tmp_path / "eb_velocity_v5.npz"
    np.savez(
        file,
        pcs=rng.normal(size=(n, 100)),
        phate=rng.normal(size=(n, 2)),
        sample_labels=labels.astype(np.float64),
        pcs_delta=rng.normal(size=(n, 100)),
        delta_embedding=rng.normal(size=(n, 2)),
    )
    with pytest.raises(ValueError, match="checksum mismatch"):
        cb.datasets.embryoid_body(path=file)
    adata = cb.datasets.embryoid_body(path=file, verify=False)
    assert adata.shape == (n, 100) and adata.X.dtype == np.float32
    np.testing.assert_array_equal(adata.X, adata.obsm["X_pca"])
    assert adata.obsm["X_phate"].shape == (n, 2)
    assert adata.obsm["velocity_pca"].shape == (n, 100) and adata.obsm["velocity_phate"].shape == (n, 2)
    eb_labels = ["Day 00-03", "Day 06-09", "Day 12-15", "Day 18-21", "Day 24-27"]
    assert list(adata.obs["time_label"].cat.categories) == eb_labels
    np.testing.assert_array_equal(np.unique(adata.obs["day"]), [0, 6, 12, 18, 24])
    np.testing.assert_array_equal(adata.obs["time_index"], labels)
    assert adata.uns["dataset"]["use_rep"] == "X_pca"
    adata.write_h5ad(tmp_path / "eb.h5ad")

    # string labels (as in the EB AnnData of the same authors) map to the same indices
    file2 = tmp_path / "eb_strings.npz"
    np.savez(file2, pcs=rng.normal(size=(n, 5)), sample_labels=np.array(["Day 00-03", "Day 24-27"] * 25))
    adata2 = cb.datasets.embryoid_body(path=file2, verify=False)
    assert list(adata2.obs["time_label"].cat.categories) == ["Day 00-03", "Day 24-27"]
    assert sorted(adata2.obs["time_index"].unique()) == [0, 1]
    np.testing.assert_array_equal(np.unique(adata2.obs["day"]), [0, 24])

    bad = tmp_path / "eb_bad.npz"
    np.savez(bad, phate=rng.normal(size=(n, 2)))
    with pytest.raises(ValueError, match="pcs"):
        cb.datasets.embryoid_body(path=bad, verify=False)


@pytest.mark.parametrize("loader", ["citeseq", "multiome"])
def test_openproblems_loaders_convert_the_literature_h5ad(loader, tmp_path):
    rng = np.random.default_rng(1)
    days = np.repeat([2, 3, 4, 7], 5)
    src = ad.AnnData(
        X=rng.poisson(1.0, size=(days.size, 30)).astype(np.float32),
        obs=pd.DataFrame({"day": pd.Categorical(days.astype(str))}, index=[f"c{i}" for i in range(days.size)]),
    )
    src.obsm["X_pca"] = rng.normal(size=(days.size, 10)).astype(np.float32)
    file = tmp_path / f"{loader}.h5ad"
    src.write_h5ad(file)
    adata = getattr(cb.datasets, loader)(path=file, verify=False)
    assert adata.obs["day"].dtype == np.float64
    np.testing.assert_array_equal(np.unique(adata.obs["day"]), [2, 3, 4, 7])
    assert list(adata.obs["time_label"].cat.categories) == ["2", "3", "4", "7"]
    assert adata.obs["time_index"].tolist() == np.repeat(np.arange(4), 5).tolist()
    assert adata.uns["dataset"]["use_rep"] == "X_pca"
    adata.write_h5ad(tmp_path / "out.h5ad")

    del src.obsm["X_pca"]
    src.write_h5ad(file)
    with pytest.raises(ValueError, match="X_pca"):
        getattr(cb.datasets, loader)(path=file, verify=False)


def test_missing_reference_data_skips_locally_and_fails_under_ci(tmp_path, monkeypatch):
    monkeypatch.setitem(globals(), "SHARED_DATA", tmp_path / "absent")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="missing"):
        _require_shared("timecourse/tigon/EMT.npy")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must provide"):
        _require_shared("timecourse/tigon/EMT.npy")
