"""The neural graphical model drift: shapes, per-target structure, group norms and the group lasso."""

import numpy as np
import pytest
import torch

from cellbridge.nn import NGMDrift, adaptive_weights


def _reference_forward(net: NGMDrift, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The same network evaluated target by target, with plain matrix products (a Python loop)."""
    t = t.reshape(-1, 1)
    angles = t * net.freqs
    feats = torch.cat([t, torch.sin(angles), torch.cos(angles)], dim=1)
    out = []
    for i in range(net.out_dim):
        h = x @ net.w_in[i].T + net.b_in[i]
        if net.n_time:
            h = h + feats @ net.w_time[i].T
        h = net.act(h)
        for w, b in zip(net.w_hidden, net.b_hidden):
            h = net.act(h @ w[i].T + b[i])
        out.append(h @ net.w_out[i] + net.b_out[i])
    return torch.stack(out, dim=1)


@pytest.mark.parametrize("time_conditioned", [True, False])
@pytest.mark.parametrize("hidden", [(8,), (8, 5)])
def test_forward_shape_and_equals_per_target_loop(time_conditioned, hidden):
    torch.manual_seed(0)
    net = NGMDrift(6, hidden, n_freqs=2, time_conditioned=time_conditioned)
    x, t = torch.randn(11, 6), torch.rand(11)
    y = net(t, x)
    assert y.shape == (11, 6)
    torch.testing.assert_close(y, _reference_forward(net, t, x), rtol=1e-5, atol=1e-6)
    # scalar time, like TimeMLP
    assert net(0.3, x).shape == (11, 6)
    # a different number of targets than inputs
    net2 = NGMDrift(6, hidden, out_dim=3, time_conditioned=time_conditioned)
    assert net2(t, x).shape == (11, 3)
    assert net2.group_norms().shape == (6, 3)


def test_target_depends_only_on_its_nonzero_columns():
    torch.manual_seed(1)
    net = NGMDrift(5, (8,), time_conditioned=False)
    with torch.no_grad():
        net.w_in[2, :, 4] = 0.0  # gene 4 cannot act on target 2
    x = torch.randn(7, 5)
    jac = torch.func.jacrev(lambda xx: net(0.0, xx).sum(0))(x)  # (targets, cells, inputs)
    assert torch.all(jac[2, :, 4] == 0)
    assert torch.all(jac[3, :, 4].abs() > 0)
    assert net.group_norms()[4, 2] == 0


def test_group_norms_are_the_first_layer_column_norms_in_regulator_target_orientation():
    torch.manual_seed(2)
    net = NGMDrift(4, (6, 3), out_dim=4)
    s = net.group_norms()
    w = net.w_in.detach()  # (targets, hidden, inputs)
    for i in range(4):  # target
        for j in range(4):  # regulator
            assert s[j, i].item() == pytest.approx(float(np.linalg.norm(w[i, :, j].numpy())), rel=1e-6)


def test_group_lasso_penalty_by_hand():
    torch.manual_seed(3)
    net = NGMDrift(3, (2,), time_conditioned=False)
    with torch.no_grad():
        net.w_in.zero_()
        net.w_in[0, :, 1] = torch.tensor([3.0, 4.0])  # 1 -> 0, norm 5
        net.w_in[1, :, 2] = torch.tensor([0.0, 2.0])  # 2 -> 1, norm 2
        net.w_in[2, :, 2] = torch.tensor([6.0, 8.0])  # self-column of target 2, norm 10, not penalised
    assert net.group_lasso_penalty().item() == pytest.approx(7.0)
    w = torch.ones(3, 3)
    w[1, 0] = 0.5  # the weight of regulator 1 -> target 0
    assert net.group_lasso_penalty(w).item() == pytest.approx(0.5 * 5 + 2)
    penal_self = NGMDrift(3, (2,), time_conditioned=False, penalize_self=True)
    penal_self.load_state_dict(net.state_dict())
    assert penal_self.group_lasso_penalty().item() == pytest.approx(17.0)
    with pytest.raises(ValueError, match="shape"):
        net.group_lasso_penalty(torch.ones(2, 3))
    # the penalty is differentiable and its gradient on a nonzero column is the unit column
    net.zero_grad()
    net.group_lasso_penalty().backward()
    torch.testing.assert_close(net.w_in.grad[0, :, 1], torch.tensor([0.6, 0.8]))


def test_adaptive_weights():
    norms = torch.tensor([[0.0, 1.0], [2.0, 1.0]])
    w = adaptive_weights(norms, gamma=1.0, eps=1e-3)
    assert w[0, 1].item() == pytest.approx(1.0, rel=1e-2)  # at the mean norm
    assert w[1, 0].item() < 1 < w[0, 0].item()
    assert torch.isfinite(w).all()


def test_config_rebuilds_the_same_network():
    torch.manual_seed(4)
    net = NGMDrift(5, (7, 4), activation="elu", n_freqs=3, time_conditioned=True)
    cfg = {k: v for k, v in net.config.items() if k != "kind"}
    twin = NGMDrift(**cfg)
    twin.load_state_dict(net.state_dict())
    x, t = torch.randn(4, 5), torch.rand(4)
    torch.testing.assert_close(net(t, x), twin(t, x))
    assert net.config["kind"] == "ngm"
    with pytest.raises(ValueError, match="activation"):
        NGMDrift(3, activation="nope")
