"""MinibatchCoupling with ``max_plan``: a large draw coupled as independent minibatches, each its own plan."""

import numpy as np
import ot as pot
import pytest
import torch

from cellbridge.ot import MinibatchCoupling, sq_euclidean

K, N, D, Q = 2, 64, 3, 16  # intervals, cells drawn per side, dimension, cells per plan (4 plans)


def _labelled(generator, n_points: int) -> torch.Tensor:
    """Cells ``(n_points, N, D)`` whose first coordinate is the index of the minibatch of Q they fall in."""
    x = torch.randn((n_points, N, D), generator=generator)
    x[..., 0] = torch.arange(N).div(Q, rounding_mode="floor").float()
    return x


@pytest.mark.parametrize("method", ["entropic", "exact"])
def test_pairs_stay_in_their_minibatch_and_share_the_pairs_equally(method):
    gen = torch.Generator().manual_seed(0)
    x0, x1 = _labelled(gen, K), _labelled(gen, K)
    coupling = MinibatchCoupling(method, sigma=1.0, max_plan=Q)
    p0, p1 = coupling.pairs(lambda: (x0, x1), torch.ones(K), 400, gen)
    assert p0.shape == p1.shape == (K, 400, D)
    assert torch.equal(p0[..., 0], p1[..., 0])  # never across minibatches
    counts = torch.stack([(p0[..., 0] == b).sum(1) for b in range(N // Q)], 1)
    assert (counts == 100).all()
    # one plan over all cells pairs across them (the labels' cost is small against the noise)
    q0, q1 = MinibatchCoupling(method, sigma=1.0).pairs(lambda: (x0, x1), torch.ones(K), 400, gen)
    assert (q0[..., 0] != q1[..., 0]).any()


def test_each_minibatch_pairs_by_its_own_entropic_plan():
    # pair frequencies within one minibatch follow POT's Sinkhorn plan of that minibatch's cells alone
    gen = torch.Generator().manual_seed(1)
    x0, x1 = torch.randn((1, 2 * Q, D), generator=gen), torch.randn((1, 2 * Q, D), generator=gen)
    coupling = MinibatchCoupling("entropic", sigma=1.0, tol=1e-6, max_iter=5000, max_plan=Q)
    n_pairs = 200_000
    p0, p1 = coupling.pairs(lambda: (x0, x1), torch.ones(1), n_pairs, gen)
    first = p0[0, :, 1:].unsqueeze(1).eq(x0[0, :Q, 1:]).all(-1).float().argmax(1)
    second = p1[0, :, 1:].unsqueeze(1).eq(x1[0, :Q, 1:]).all(-1)
    in_first = second.any(1)
    i, j = first[in_first], second[in_first].float().argmax(1)
    freq = torch.zeros(Q, Q).index_put_((i, j), torch.ones(len(i)), accumulate=True) / len(i)
    C = sq_euclidean(x0[0, :Q], x1[0, :Q]).double().numpy()
    ref = pot.sinkhorn(np.full(Q, 1 / Q), np.full(Q, 1 / Q), C, reg=2.0, stopThr=1e-10, numItermax=100_000)
    assert in_first.sum() == n_pairs // 2
    # each entry: a binomial frequency of n_pairs / 2 draws; 5 standard errors
    se = np.sqrt(ref * (1 - ref) / (n_pairs // 2))
    assert np.all(np.abs(freq.numpy() - ref) < 5 * se + 1e-4)


def test_chains_stay_in_one_minibatch_through_every_time_point():
    gen = torch.Generator().manual_seed(2)
    cells = _labelled(gen, K + 1)
    chains = MinibatchCoupling("entropic", sigma=1.0, max_plan=Q).chains(lambda: cells, torch.ones(K), 256, gen)
    assert chains.shape == (K + 1, 256, D)
    assert (chains[..., 0] == chains[:1, :, 0]).all()
    assert torch.equal(torch.bincount(chains[0, :, 0].long()), torch.full((N // Q,), 64))


@pytest.mark.parametrize("kind", ["pairs", "chains"])
def test_a_plan_as_large_as_the_draw_is_one_plan(kind):
    def run(max_plan):
        gen = torch.Generator().manual_seed(3)
        cells = torch.randn((K + 1, N, D), generator=gen)
        c = MinibatchCoupling("entropic", sigma=1.0, max_plan=max_plan)
        if kind == "pairs":
            return torch.cat(c.pairs(lambda: (cells[:-1], cells[1:]), torch.ones(K), 50, gen))
        return c.chains(lambda: cells, torch.ones(K), 50, gen)

    assert torch.equal(run(N), run(None))


def test_a_remainder_that_does_not_fill_a_minibatch_is_left_out():
    gen = torch.Generator().manual_seed(4)
    x0, x1 = torch.randn((1, 50, D), generator=gen), torch.randn((1, 50, D), generator=gen)
    p0, _ = MinibatchCoupling("entropic", sigma=1.0, max_plan=Q).pairs(lambda: (x0, x1), torch.ones(1), 90, gen)
    # 4 minibatches of 12 cells (ceil(50 / 16) = 4): cells 48 and 49 are never paired
    used = p0[0].unsqueeze(1).eq(x0[0]).all(-1).any(0)
    assert p0.shape == (1, 90, D) and used[:48].sum() > 40 and not used[48:].any()


@pytest.mark.parametrize("bad", [1, 0, 2.5])
def test_max_plan_must_be_an_integer_of_at_least_two(bad):
    with pytest.raises(ValueError, match="ot_max_plan"):
        MinibatchCoupling("entropic", sigma=1.0, max_plan=bad)
