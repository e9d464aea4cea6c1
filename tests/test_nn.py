"""The time-conditioned MLP."""

import pytest
import torch

from cellbridge.nn import TimeMLP


def test_shapes_time_broadcast_and_time_dependence():
    torch.manual_seed(0)
    net = TimeMLP(3, hidden_dims=(16, 16), activation="silu", n_freqs=2)
    x = torch.randn(5, 3)
    out_scalar = net(0.4, x)
    out_vector = net(torch.full((5,), 0.4), x)
    assert out_scalar.shape == (5, 3)
    torch.testing.assert_close(out_scalar, out_vector)
    assert not torch.allclose(net(0.9, x), out_scalar)  # time reaches the output
    assert sum(isinstance(m, torch.nn.Linear) for m in net.modules()) == 3


def test_config_rebuilds_the_same_architecture():
    net = TimeMLP(4, hidden_dims=(8,), n_freqs=3, out_dim=2)
    clone = TimeMLP(**net.config)
    clone.load_state_dict(net.state_dict())
    x = torch.randn(6, 4)
    torch.testing.assert_close(clone(0.2, x), net(0.2, x))


def test_bad_activation():
    with pytest.raises(ValueError, match="unknown activation"):
        TimeMLP(2, activation="swish2")
