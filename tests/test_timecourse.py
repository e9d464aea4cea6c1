"""Tests of cellbridge.time_labels (time parsing) and cellbridge.timecourse (representation access, time-course checks)."""

from __future__ import annotations

import copy
import dataclasses
import logging

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from cellbridge.time_labels import parse_time
from cellbridge.timecourse import TimeCourse, get_rep, time_course


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------


def make_adata(n_obs: int = 60, n_vars: int = 20, seed: int = 0) -> ad.AnnData:
    rng = np.random.default_rng(seed)
    adata = ad.AnnData(rng.normal(size=(n_obs, n_vars)).astype(np.float32))
    adata.obs_names = [f"cell{i}" for i in range(n_obs)]
    adata.var_names = [f"gene{j}" for j in range(n_vars)]
    adata.obs["time"] = pd.Categorical(np.repeat(["day0", "day1", "day2"], n_obs // 3)[:n_obs])
    adata.obsm["X_pca"] = rng.normal(size=(n_obs, 5)).astype(np.float32)
    adata.uns["note"] = "x"
    return adata


def snapshot(adata: ad.AnnData) -> dict:
    X = adata.X
    return {
        "obs": adata.obs.copy(deep=True),
        "obsm": {k: copy.deepcopy(v) for k, v in adata.obsm.items()},
        "uns": sorted(adata.uns.keys()),
        "varm": sorted(adata.varm.keys()),
        "X": X.copy() if X is not None else None,
    }


def assert_unchanged(adata: ad.AnnData, snap: dict) -> None:
    pd.testing.assert_frame_equal(adata.obs, snap["obs"])
    assert sorted(adata.obsm.keys()) == sorted(snap["obsm"].keys())
    for key, value in snap["obsm"].items():
        got = adata.obsm[key]
        if sp.issparse(value):
            assert sp.issparse(got) and got.dtype == value.dtype
            np.testing.assert_array_equal(got.toarray(), value.toarray())  # NaN == NaN here
        elif isinstance(value, pd.DataFrame):
            pd.testing.assert_frame_equal(got, value)
        else:
            np.testing.assert_array_equal(got, value)
            assert got.dtype == value.dtype
    assert sorted(adata.uns.keys()) == snap["uns"]
    assert sorted(adata.varm.keys()) == snap["varm"]
    if snap["X"] is None:
        assert adata.X is None
    elif sp.issparse(snap["X"]):
        assert sp.issparse(adata.X) and adata.X.dtype == snap["X"].dtype
        np.testing.assert_array_equal(adata.X.toarray(), snap["X"].toarray())
    else:
        assert adata.X.dtype == snap["X"].dtype
        np.testing.assert_array_equal(adata.X, snap["X"])


# --------------------------------------------------------------------------------------------------
# parse_time
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("day3", 3.0),
        ("D2.5", 2.5),
        ("12h", 12.0),
        ("E12.5", 12.5),
        ("-1", -1.0),
        ("day -1", -1.0),
        ("t_-2", -2.0),
        ("day-1", 1.0),  # "-" after a letter separates, it is not a sign
        ("t-4", 4.0),
        ("1e-3", 1e-3),
        (" 7 ", 7.0),
        ("day03", 3.0),
    ],
)
def test_parse_time_single_label(label, expected):
    # a second, different label so that the column has two time points
    out = parse_time([label, "other100", label])
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, [expected, 100.0, expected])


def test_parse_time_strings_mixed_prefixes():
    out = parse_time(pd.Series(["day3", "D2.5", "12h", "day3"]))
    np.testing.assert_array_equal(out, [3.0, 2.5, 12.0, 3.0])


@pytest.mark.parametrize(
    "values",
    [
        np.array([0, 2, 4, 2]),
        np.array([0, 2, 4, 2], dtype=np.uint8),
        np.array([0.0, 2.0, 4.0, 2.0], dtype=np.float32),
        pd.Series([0, 2, 4, 2], dtype="Int64"),
        [0, 2, 4, 2],
    ],
)
def test_parse_time_numeric(values):
    out = parse_time(values)
    assert out.dtype == np.float64 and out.shape == (4,)
    np.testing.assert_array_equal(out, [0.0, 2.0, 4.0, 2.0])


def test_parse_time_returns_a_copy():
    values = np.array([0.0, 1.0, 2.0])
    out = parse_time(values)
    out[0] = 99.0
    assert values[0] == 0.0


@pytest.mark.parametrize(
    ("values", "n_bad"),
    [
        (np.array([0.0, np.nan, 1.0, np.nan]), 2),
        (np.array([0.0, np.inf, 1.0]), 1),
        (pd.Series([1, None, 2], dtype="Int64"), 1),
    ],
)
def test_parse_time_nonfinite_numeric(values, n_bad):
    with pytest.raises(ValueError, match=rf"'clock' has {n_bad} cell\(s\) with a missing or non-finite"):
        parse_time(values, name="clock")


def test_parse_time_bool_raises():
    with pytest.raises(ValueError, match="boolean"):
        parse_time(np.array([True, False, True]))
    with pytest.raises(ValueError, match="boolean"):
        parse_time(np.array([True, "day1"], dtype=object))


def test_parse_time_datetime_raises():
    with pytest.raises(ValueError, match="dates or durations"):
        parse_time(pd.Series(pd.to_datetime(["2024-01-01", "2024-01-02"])))


def test_parse_time_unorderable_labels():
    with pytest.raises(ValueError, match="cannot be ordered") as info:
        parse_time(["day1", "ctrl", "d1_rep2", "day2"])
    message = str(info.value)
    assert "'ctrl' (no number)" in message
    assert "'d1_rep2' (2 numbers)" in message
    assert "day2" not in message.split("number:")[1].split("Pass")[0]
    assert "numeric times" in message


def test_parse_time_unorderable_lists_at_most_five():
    labels = [f"ctrl_{c}" for c in "abcdefg"]
    with pytest.raises(ValueError, match=r"7 label\(s\).*and 2 more") as info:
        parse_time(labels)
    assert "ctrl_e" in str(info.value) and "ctrl_f" not in str(info.value)


def test_parse_time_duplicate_numbers_raise():
    with pytest.raises(ValueError, match=r"'day1', 'd1' both parse to 1"):
        parse_time(["day1", "d1", "day2"])
    with pytest.raises(ValueError, match="ambiguous"):
        parse_time(pd.Categorical(["D2.0", "day2", "day3"]))


def test_parse_time_missing_labels_raise():
    with pytest.raises(ValueError, match=r"missing for 1 cell"):
        parse_time(np.array(["day1", None, "day2"], dtype=object))
    with pytest.raises(ValueError, match=r"missing for 2 cell"):
        parse_time(pd.Categorical(["day1", np.nan, "day2", np.nan]))
    with pytest.raises(ValueError, match=r"missing for 1 cell"):
        parse_time(pd.Series(["day1", pd.NA], dtype="string"))


def test_parse_time_unordered_categorical_is_numeric_not_lexical():
    cat = pd.Categorical(["day10", "day2", "day10"])  # lexical category order: day10 < day2
    np.testing.assert_array_equal(parse_time(cat), [10.0, 2.0, 10.0])


def test_parse_time_ordered_categorical_parseable(cb_log):
    cat = pd.Categorical(["d2", "d10", "d2"], categories=["d2", "d10"], ordered=True)
    np.testing.assert_array_equal(parse_time(pd.Series(cat)), [2.0, 10.0, 2.0])
    assert not [r for r in cb_log if r.levelno >= logging.WARNING]


def test_parse_time_ordered_categorical_uses_order(cb_log):
    cat = pd.Categorical(
        ["late", "ctrl", "early", "late"], categories=["ctrl", "unused", "early", "late"], ordered=True
    )
    out = parse_time(cat)
    # the unused category takes no slot: 0, 1, 2 over the categories that occur
    np.testing.assert_array_equal(out, [2.0, 0.0, 1.0, 2.0])
    warnings = [r.getMessage() for r in cb_log if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "order of the ordered categorical" in warnings[0]
    assert "'ctrl'=0" in warnings[0] and "'late'=2" in warnings[0]


def test_parse_time_ordered_categorical_contradicting_numbers_uses_order(cb_log):
    cat = pd.Categorical(["E9.5", "P0", "E8.5"], categories=["E8.5", "E9.5", "P0"], ordered=True)
    np.testing.assert_array_equal(parse_time(cat), [1.0, 2.0, 0.0])
    assert any(r.levelno == logging.WARNING for r in cb_log)


def test_parse_time_unordered_categorical_unparseable_raises():
    with pytest.raises(ValueError, match="cannot be ordered.*ordered pandas Categorical"):
        parse_time(pd.Categorical(["ctrl", "treated"]))


def test_parse_time_numeric_categories():
    cat = pd.Categorical([4, 0, 4, 2])
    np.testing.assert_array_equal(parse_time(cat), [4.0, 0.0, 4.0, 2.0])


# --------------------------------------------------------------------------------------------------
# get_rep
# --------------------------------------------------------------------------------------------------


def test_get_rep_obsm_is_float32_copy():
    adata = make_adata()
    snap = snapshot(adata)
    x = get_rep(adata, "X_pca")
    assert x.dtype == np.float32 and x.flags.c_contiguous and x.shape == (60, 5)
    np.testing.assert_array_equal(x, adata.obsm["X_pca"])
    assert not np.shares_memory(x, adata.obsm["X_pca"])
    x[:] = 0.0
    assert_unchanged(adata, snap)


def test_get_rep_sparse_float64_X():
    adata = make_adata()
    dense = sp.random(60, 20, density=0.3, format="csr", random_state=1, dtype=np.float64)
    adata.X = sp.csr_matrix(dense)
    snap = snapshot(adata)
    x = get_rep(adata, "X")
    assert isinstance(x, np.ndarray) and x.dtype == np.float32 and x.flags.c_contiguous
    np.testing.assert_allclose(x, dense.toarray().astype(np.float32))
    assert_unchanged(adata, snap)
    assert adata.X.dtype == np.float64  # not cast in place


def test_get_rep_dense_float64_and_int():
    adata = make_adata()
    adata.obsm["f64"] = np.arange(120, dtype=np.float64).reshape(60, 2) / 7
    adata.obsm["i64"] = np.arange(120, dtype=np.int64).reshape(60, 2)
    snap = snapshot(adata)
    f = get_rep(adata, "f64")
    assert f.dtype == np.float32
    np.testing.assert_allclose(f, adata.obsm["f64"], rtol=1e-6)
    np.testing.assert_array_equal(get_rep(adata, "i64"), np.arange(120).reshape(60, 2))
    assert_unchanged(adata, snap)


def test_get_rep_dataframe_and_sparse_obsm():
    adata = make_adata()
    values = np.arange(180, dtype=np.float64).reshape(60, 3)
    adata.obsm["df"] = pd.DataFrame(values, index=adata.obs_names, columns=["a", "b", "c"])
    adata.obsm["sp"] = sp.csr_matrix(values)
    for key in ("df", "sp"):
        x = get_rep(adata, key)
        assert x.dtype == np.float32 and x.shape == (60, 3)
        np.testing.assert_array_equal(x, values.astype(np.float32))


def test_get_rep_missing_key():
    adata = make_adata()
    adata.obsm["X_umap"] = np.zeros((60, 2))
    del adata.obsm["X_pca"]
    snap = snapshot(adata)
    with pytest.raises(ValueError, match=r"no key 'X_pca'.*X_umap.*cellbridge\.pp\.prepare\(adata, time_key="):
        get_rep(adata, "X_pca")
    with pytest.raises(ValueError, match=r"no key 'X_scvi'"):
        get_rep(adata, "X_scvi")
    assert_unchanged(adata, snap)


def test_get_rep_zero_columns_and_3d():
    adata = make_adata()
    adata.obsm["empty"] = np.zeros((60, 0))
    adata.obsm["cube"] = np.zeros((60, 2, 2))
    snap = snapshot(adata)
    with pytest.raises(ValueError, match="zero columns"):
        get_rep(adata, "empty")
    with pytest.raises(ValueError, match="two-dimensional"):
        get_rep(adata, "cube")
    assert_unchanged(adata, snap)


@pytest.mark.parametrize("sparse", [False, True])
def test_get_rep_nonfinite(sparse):
    adata = make_adata()
    values = np.ones((60, 4))
    values[3, 1] = np.nan
    values[3, 2] = np.inf
    values[10, 0] = -np.inf
    adata.obsm["bad"] = sp.csr_matrix(values) if sparse else values
    snap = snapshot(adata)
    with pytest.raises(ValueError, match=r"NaN or infinite values in 2 cell\(s\)"):
        get_rep(adata, "bad")
    assert_unchanged(adata, snap)


def test_get_rep_nan_in_X():
    adata = make_adata()
    adata.X[5, 5] = np.nan
    snap = snapshot(adata)
    with pytest.raises(ValueError, match=r"adata\.X has NaN or infinite values in 1 cell"):
        get_rep(adata, "X")
    assert_unchanged(adata, snap)


def test_get_rep_float32_overflow():
    adata = make_adata()
    values = np.ones((60, 2))
    values[0, 0] = 1e39
    values[7, 1] = -1e300
    adata.obsm["huge"] = values
    snap = snapshot(adata)
    with pytest.raises(ValueError, match=r"too large for float32.*in 2 cell"):
        get_rep(adata, "huge")
    assert_unchanged(adata, snap)


def test_get_rep_non_numeric_and_wrong_types():
    adata = make_adata()
    adata.obsm["text"] = pd.DataFrame({"a": ["x"] * 60}, index=adata.obs_names)
    with pytest.raises(ValueError, match="not numeric"):
        get_rep(adata, "text")
    with pytest.raises(TypeError, match="AnnData"):
        get_rep(np.zeros((3, 3)), "X")
    with pytest.raises(TypeError, match="use_rep"):
        get_rep(adata, 0)


def test_get_rep_X_none():
    adata = ad.AnnData(obs=pd.DataFrame(index=[f"c{i}" for i in range(4)]))
    with pytest.raises(ValueError, match=r"adata\.X is empty"):
        get_rep(adata, "X")


# --------------------------------------------------------------------------------------------------
# time_course
# --------------------------------------------------------------------------------------------------


def test_time_course_fields():
    adata = make_adata()
    adata.obs["time"] = pd.Categorical(np.repeat(["day2", "D0.5", "day10"], [30, 20, 10]))
    snap = snapshot(adata)
    tc = time_course(adata, "time", "X_pca")
    assert isinstance(tc, TimeCourse)
    assert tc.x.dtype == np.float32 and tc.x.shape == (60, 5)
    np.testing.assert_array_equal(tc.x, adata.obsm["X_pca"])
    assert tc.t.dtype == np.float64
    np.testing.assert_array_equal(tc.t, np.repeat([2.0, 0.5, 10.0], [30, 20, 10]))
    np.testing.assert_array_equal(tc.time_points, [0.5, 2.0, 10.0])
    assert tc.time_points.dtype == np.float64
    np.testing.assert_array_equal(tc.counts, [20, 30, 10])
    assert np.issubdtype(tc.counts.dtype, np.integer)
    assert tc.labels == {0.5: "D0.5", 2.0: "day2", 10.0: "day10"}
    assert tc.n_time_points == 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        tc.x = None
    assert_unchanged(adata, snap)


def test_time_course_numeric_time_labels():
    adata = make_adata()
    adata.obs["hours"] = np.repeat([0, 12, 24], 20)
    tc = time_course(adata, "hours", "X")
    assert tc.labels == {0.0: "0", 12.0: "12", 24.0: "24"}
    assert tc.x.shape == (60, 20)


def test_time_course_not_anndata():
    with pytest.raises(TypeError, match="expected an AnnData"):
        time_course(pd.DataFrame({"time": [0, 1]}), "time", "X")


def test_time_course_missing_time_key():
    adata = make_adata()
    snap = snapshot(adata)
    with pytest.raises(ValueError, match=r"'day' is not a column of adata\.obs.*'time'"):
        time_course(adata, "day", "X_pca")
    assert_unchanged(adata, snap)


def test_time_course_too_few_time_points():
    adata = make_adata()
    adata.obs["time"] = "day4"
    snap = snapshot(adata)
    with pytest.raises(ValueError, match=r"1 distinct time point\(s\) \('day4'\).*min_time_points=2"):
        time_course(adata, "time", "X_pca")
    with pytest.raises(ValueError, match=r"3 distinct time point.*min_time_points=4"):
        time_course(make_adata(), "time", "X_pca", min_time_points=4)
    assert_unchanged(adata, snap)


def test_time_course_too_few_cells():
    adata = make_adata()
    adata.obs["time"] = pd.Categorical(["day0"] * 30 + ["day1"] * 29 + ["day9"])
    snap = snapshot(adata)
    with pytest.raises(ValueError, match=r"'day9' \(t=9\) has 1 cell;.*min_cells=2"):
        time_course(adata, "time", "X_pca")
    with pytest.raises(ValueError, match=r"'day1' \(t=1\) has 29 cells.*min_cells=30"):
        time_course(adata, "time", "X_pca", min_cells=30)
    # allowed when the user asks for it
    assert time_course(adata, "time", "X_pca", min_cells=1).counts.tolist() == [30, 29, 1]
    assert_unchanged(adata, snap)


def test_time_course_bad_arguments():
    with pytest.raises(ValueError, match="min_cells must be an integer >= 1"):
        time_course(make_adata(), "time", "X_pca", min_cells=0)
    with pytest.raises(ValueError, match="min_time_points"):
        time_course(make_adata(), "time", "X_pca", min_time_points=2.5)


def test_time_course_propagates_parse_and_rep_errors():
    adata = make_adata()
    adata.obs["time"] = np.repeat(["day1", "d1", "day2"], 20)
    snap = snapshot(adata)
    with pytest.raises(ValueError, match="ambiguous"):
        time_course(adata, "time", "X_pca")
    assert_unchanged(adata, snap)

    adata = make_adata()
    adata.obsm["X_pca"][0, 0] = np.nan
    snap = snapshot(adata)
    with pytest.raises(ValueError, match=r"NaN or infinite values in 1 cell"):
        time_course(adata, "time", "X_pca")
    with pytest.raises(ValueError, match=r"no key 'X_other'"):
        time_course(adata, "time", "X_other")
    assert_unchanged(adata, snap)
