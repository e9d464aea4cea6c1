"""The minibatch sampler over time intervals."""

import numpy as np
import pytest
import torch

from cellbridge.methods import IntervalSampler


def test_batches_come_from_the_right_time_points():
    # cell i at time t carries the value t in every coordinate, so membership is visible in the batch
    t = np.repeat([0.0, 1.5, 4.0], [3, 50, 7])
    x = np.repeat(t[:, None], 2, axis=1) + np.arange(len(t))[:, None] * 1e-3
    s = IntervalSampler(x, t[::-1].copy() * 0 + t, device="cpu")
    x0, x1 = s.sample(64, torch.Generator().manual_seed(0))
    assert x0.shape == (2, 64, 2) and x1.shape == (2, 64, 2)
    assert torch.equal(x0[0].round(), torch.zeros(64, 2)) and torch.equal(x1[1].round(), torch.full((64, 2), 4.0))
    assert (x0[1].floor() == 1).all() and (x1[0].floor() == 1).all()
    # the 3-cell snapshot is drawn with replacement: all of its cells appear in a batch of 64
    assert len(torch.unique(x0[0][:, 0])) == 3
    torch.testing.assert_close(s.t1 - s.t0, torch.tensor([1.5, 2.5]))


def test_needs_two_time_points():
    with pytest.raises(ValueError, match="two time points"):
        IntervalSampler(np.zeros((4, 2)), np.zeros(4))
