"""grn.infer_network on arrays: the same network as cb.tl.grn on the AnnData, and its checks of the arrays."""

import inspect

import anndata as ad
import numpy as np
import pandas as pd
import pytest

import cellbridge as cb
from cellbridge.grn import InferredNetwork, infer_network
from linear_system import linear_time_course


def _course():
    x, t, truth = linear_time_course(seed=2, n_cells=60)
    return x, t, [f"g{i}" for i in range(x.shape[1])], truth


def test_infer_network_on_arrays_is_what_tl_grn_writes():
    x, t, genes, _ = _course()
    adata = ad.AnnData(x, var=pd.DataFrame(index=genes))
    adata.obs["day"] = t
    adata.obs["half"] = np.where(np.arange(len(t)) % 2 == 0, "even", "odd")
    kw = dict(regulators=genes[:5], targets=genes[3:], time_bins=2, n_sub=2, n_cells=300, rng=1)
    edges = cb.tl.grn(adata, time_key="day", groupby="half", **kw)
    net = infer_network(x, t, genes, groups=adata.obs["half"].to_numpy(), **kw)
    assert isinstance(net, InferredNetwork) and net.network == "ot_velocity" and not net.ngm
    pd.testing.assert_frame_equal(net.edges, edges)
    np.testing.assert_array_equal(net.scores.astype(np.float32), adata.varp["cellbridge_grn"])
    assert net.n_cells == 300 and net.regulators.sum() == 5 and net.targets.sum() == 5
    # 0 outside the chosen regulators and targets, and on the diagonal
    assert not net.scores[5:].any() and not net.scores[:, :3].any() and not np.diag(net.scores).any()
    assert list(net.edges["group"].cat.categories)[0] == "all"


def test_infer_network_checks_its_arrays():
    x, t, genes, _ = _course()
    with pytest.raises(ValueError, match="one time per cell"):
        infer_network(x, t[:-1], genes)
    with pytest.raises(ValueError, match="names"):
        infer_network(x, t, genes[:-1])
    with pytest.raises(ValueError, match="one label per cell"):
        infer_network(x, t, genes, groups=["a"] * 3)
    with pytest.raises(ValueError, match="not among the genes"):
        infer_network(x, t, genes, targets=["zz"])
    with pytest.raises(TypeError, match="CellBridgeModel, a non-empty list of them, or None"):
        infer_network(x, t, genes, "model")


def test_every_parameter_is_documented():
    """The shared templates complete each docstring: one entry per parameter, in signature order."""
    for name in cb.grn.__all__:
        obj = getattr(cb.grn, name)
        if not inspect.isfunction(obj):
            continue
        doc = inspect.getdoc(obj)
        assert "\nParameters\n----------\n" in doc and "\nReturns\n-------\n" in doc, name
        lines = doc.split("\n")
        entries = [e for line in lines if line and not line.startswith(" ") for e in line.split(", ")]
        documented = [p for p in inspect.signature(obj).parameters if p in entries]
        assert documented == list(inspect.signature(obj).parameters), name
