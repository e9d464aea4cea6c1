"""Tests of cellbridge.pp.refine_time."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pytest
from scipy.stats import spearmanr

from cellbridge._keys import PROGRESS, TIME_REFINED
from cellbridge.pp import refine_time


def make_adata(seed: int = 0) -> tuple[ad.AnnData, np.ndarray]:
    rng = np.random.default_rng(seed)
    tau = rng.uniform(0, 4, 400)
    adata = ad.AnnData((np.c_[tau, np.cos(tau)] + 0.05 * rng.normal(size=(400, 2))).astype(np.float32))
    adata.obs["day"] = [f"day{int(2 * np.floor(v))}" for v in tau]  # labels day0, day2, day4, day6
    return adata, tau


def test_refine_time_writes_finer_time_points_that_follow_the_hidden_time():
    adata, tau = make_adata()
    refine_time(adata, "day", n_sub=4, use_rep="X")
    refined = adata.obs[TIME_REFINED].to_numpy()
    # 4 snapshots 2 days apart -> 16 sub-snapshots half a day apart, centred on the labels' days
    np.testing.assert_allclose(np.unique(refined), np.arange(-0.75, 6.76, 0.5))
    # the refined time tracks the hidden continuous time far better than the labels do
    day = np.floor(tau) * 2
    assert spearmanr(refined, tau)[0] > 0.99 > spearmanr(day, tau)[0]
    assert PROGRESS in adata.obs


def test_refine_time_copy_and_errors_leave_the_input_untouched():
    adata, _ = make_adata()
    before = adata.obs.copy()
    out = refine_time(adata, "day", use_rep="X", key_added="fine", progress_key="p", copy=True)
    assert {"fine", "p"} <= set(out.obs.columns)
    assert list(adata.obs.columns) == list(before.columns)
    for kwargs, match in (({"time_key": "nope"}, "not a column"), ({"time_key": "day", "n_sub": 1000}, "smallest"),
                          ({"time_key": "day", "use_rep": "X_umap"}, "X_umap"),
                          ({"time_key": "day", "key_added": "p", "progress_key": "p"}, "differ")):
        kwargs = {"use_rep": "X", **kwargs}
        with pytest.raises(ValueError, match=match):
            refine_time(adata, **kwargs)
        assert list(adata.obs.columns) == list(before.columns)
