"""Costs, exact plans, the coupling entry point and pair sampling."""

import numpy as np
import ot as pot
import pytest
import torch

from cellbridge.ot import coupling, exact_plan, sample_pairs, sq_euclidean


def test_sq_euclidean_matches_pairwise_differences():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(2, 7, 3, generator=g, dtype=torch.float64), torch.randn(2, 9, 3, generator=g, dtype=torch.float64)
    direct = ((x[:, :, None, :] - y[:, None, :, :]) ** 2).sum(-1)
    torch.testing.assert_close(sq_euclidean(x, y), direct)
    torch.testing.assert_close(sq_euclidean(x[0], y[0]), direct[0])
    assert (sq_euclidean(x[0], x[0]).diagonal() >= 0).all()


def test_exact_plan_matches_pot_and_recovers_a_shift():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 2))
    perm = rng.permutation(40)
    y = x[perm] + 0.01  # a small shift: the optimal plan undoes the permutation
    C = sq_euclidean(torch.tensor(x), torch.tensor(y))
    P = exact_plan(C).numpy()
    np.testing.assert_allclose(P, pot.emd(np.full(40, 1 / 40), np.full(40, 1 / 40), C.numpy()), atol=1e-12)
    assert (P.argmax(1) == np.argsort(perm)).all()


def test_exact_plans_keep_float64():
    # the two assignments differ by 2e-9 in cost, below float32 resolution (which picks the other one):
    # a float64 cost reaches the network simplex unrounded, and the plan comes back in float64
    C = torch.tensor([[1.0, 1.0 + 2e-9], [1.0, 1.0]], dtype=torch.float64)
    P = exact_plan(C)
    assert P.dtype == torch.float64
    torch.testing.assert_close(P, torch.eye(2, dtype=torch.float64) / 2, rtol=0, atol=0)
    # the same through the coupling entry point: |x_i - y_j|^2 with the swap cheaper by 2e-9
    x = torch.tensor([[0.0, 0.0], [1.0, 0.0]], dtype=torch.float64)
    y = torch.tensor([[1e-9, 0.0], [0.0, -1.0]], dtype=torch.float64)
    ex = coupling(x, y, "exact")
    assert ex.dtype == torch.float64
    torch.testing.assert_close(ex, torch.eye(2, dtype=torch.float64).flip(0) / 2, rtol=0, atol=0)


def test_exact_is_the_only_module_of_the_ot_core_that_imports_pot():
    # cellbridge.ot works on tensors; exact.py is its one exit to POT (the network simplex on the host)
    import ast
    from pathlib import Path

    import cellbridge.ot

    importers = set()
    for path in Path(cellbridge.ot.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            if any(n == "ot" or n.startswith("ot.") for n in names):
                importers.add(path.name)
    assert importers == {"exact.py"}

def test_coupling_methods():
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(20, 3, generator=g), torch.randn(30, 3, generator=g)
    indep = coupling(x, y, "independent")
    assert indep.shape == (20, 30) and torch.allclose(indep, torch.full((20, 30), 1 / 600))
    ent = coupling(x, y, "entropic", eps_rel=0.05)
    assert torch.allclose(ent.sum(1), torch.full((20,), 1 / 20), atol=1e-5)
    ex = coupling(x, y, "exact")
    assert torch.allclose(ex.sum(0), torch.full((30,), 1 / 30), atol=1e-6)
    with pytest.raises(ValueError, match="eps"):
        coupling(x, y, "entropic")


def test_sample_pairs_frequencies_match_plan():
    """Empirical pair frequencies agree with the plan within 5 binomial standard errors per cell."""
    P = torch.tensor([[0.1, 0.2, 0.0], [0.05, 0.15, 0.5]], dtype=torch.float64)
    n = 200_000
    i, j = sample_pairs(P, n, generator=torch.Generator().manual_seed(0))
    counts = torch.zeros_like(P)
    counts.index_put_((i, j), torch.ones(n, dtype=torch.float64), accumulate=True)
    freq = counts / n
    se = (P * (1 - P) / n).sqrt()
    assert ((freq - P).abs() <= 5 * se + 1e-12).all()
    assert counts[0, 2] == 0  # zero-probability pairs are never drawn


def test_sample_pairs_batched_unnormalised_and_reproducible():
    P = torch.rand(3, 8, 9, generator=torch.Generator().manual_seed(2)) * 7.0  # need not sum to one
    i1, j1 = sample_pairs(P, 50, generator=torch.Generator().manual_seed(3))
    i2, j2 = sample_pairs(P, 50, generator=torch.Generator().manual_seed(3))
    assert i1.shape == (3, 50) and (i1 == i2).all() and (j1 == j2).all()
    assert i1.max() < 8 and j1.max() < 9


@pytest.mark.parametrize("m", [1, 3, 64, 106])
def test_sample_pairs_frequencies_any_width(m):
    """Exact frequencies whatever the column count: one block (m = 1, 3), square blocks (64), padded blocks
    (106 = 2 x 53 has no divisor near its square root), with zero entries in all of them."""
    gen = torch.Generator().manual_seed(m)
    P = torch.rand(4, m, generator=gen, dtype=torch.float64) * (torch.rand(4, m, generator=gen) > 0.3)
    P[0, 0] = 1.0  # at least one positive entry
    P = P / P.sum()
    n = 200_000
    i, j = sample_pairs(P.float(), n, generator=torch.Generator().manual_seed(1))
    assert int(j.max()) < m
    counts = torch.zeros_like(P)
    counts.index_put_((i, j), torch.ones(n, dtype=torch.float64), accumulate=True)
    freq = counts / n
    se = (P * (1 - P) / n).sqrt()
    # 5 binomial standard errors per cell, plus float32 rounding of the plan (relative 1e-7)
    assert ((freq - P).abs() <= 5 * se + 1e-6).all()
    assert (counts[P == 0] == 0).all()  # zero-probability pairs are never drawn


def test_pair_and_chain_draws_return_ordinary_tensors():
    """The draws run in inference mode; the indices handed back can still be updated in place."""
    from cellbridge.ot import sample_chains

    i, j = sample_pairs(torch.rand(5, 6), 10)
    chains = sample_chains(torch.rand(2, 4, 4), 7)
    for t in (i, j, chains):
        assert not t.is_inference()
        t += 1  # would raise on an inference tensor
