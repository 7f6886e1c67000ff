"""Models, initialisations and the loss: shapes, parameter order, closed forms."""

import math

import pytest
import torch

from shortcut.science.init import SCHEMES, initialize, initialize_many
from shortcut.science.loss import make_loss
from shortcut.science.models import (Net, avg_frobenius, end_to_end, flatten, forward, plain_net, shortcut_net,
                             theorem1_forward, weights)

f64 = torch.float64


def data(d=4, m=25, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(d, m, generator=g, dtype=f64), torch.randn(d, m, generator=g, dtype=f64)


def test_parameter_order_is_unit_matrix_column_row():
    net = Net(d=3, n=2, L=2)
    theta = torch.arange(net.num_params, dtype=f64)
    W = weights(net, theta)
    # theta[9*(2l + j) + 3*col + row] is W[l, j][row, col]
    assert W[1, 0][2, 1] == 9 * 2 + 3 * 1 + 2
    assert W[0, 1][0, 2] == 9 * 1 + 3 * 2 + 0
    assert torch.equal(flatten(W), theta)


def test_forward_matches_a_hand_written_loop():
    X, _ = data()
    net = Net(d=4, n=2, L=3, pre="tanh", mid="relu", post="silu")
    theta = initialize(net, "xavier", seed=1)
    W = weights(net, theta)
    h = X.clone()
    for l in range(3):
        h = h + torch.nn.functional.silu(W[l, 1] @ torch.relu(W[l, 0] @ torch.tanh(h)))
    assert torch.allclose(forward(net, theta, X), h, atol=1e-14)


@pytest.mark.parametrize("shortcut", [True, False])
@pytest.mark.parametrize("n", [1, 2, 3])
def test_end_to_end_matrix_of_linear_nets(n, shortcut):
    X, _ = data()
    net = Net(d=4, n=n, L=3, shortcut=shortcut)
    theta = initialize(net, "orthogonal", seed=2)
    assert torch.allclose(end_to_end(net, theta) @ X, forward(net, theta, X), atol=1e-12)


@pytest.mark.parametrize("acts", [{}, {"mid": "relu"}])
def test_moment_loss_equals_the_sum_over_samples(acts):
    X, Y = data(m=40)
    net = Net(d=4, n=2, L=3, **acts)
    theta = initialize(net, "xavier", seed=3)
    direct = 0.5 * ((forward(net, theta, X) - Y) ** 2).sum() / 40
    assert torch.allclose(make_loss(net, X, Y, moments=False)(theta), direct, atol=1e-13)
    if not acts:
        assert torch.allclose(make_loss(net, X, Y)(theta), direct, atol=1e-12)
    else:
        with pytest.raises(ValueError, match="linear"):
            make_loss(net, X, Y, moments=True)


def test_plain_net_places_activations_like_the_shortcut_net():
    net = plain_net(8, d=5, group=2, mid="relu")
    assert (net.n, net.L, net.mid, net.shortcut, net.depth) == (2, 4, "relu", False, 8)
    assert shortcut_net(2, 8).L == 4


@pytest.mark.parametrize("kwargs, match", [
    (dict(d=10, n=2, L=0), "L must be an integer >= 1"),
    (dict(d=10, n=0, L=3), "n must be an integer >= 1"),
    (dict(d=10, n=2, L=3, mid="gelu"), "unknown activation 'gelu'; allowed: id, relu, tanh, silu"),
])
def test_bad_architectures_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Net(**kwargs)


def test_depth_must_be_a_multiple_of_n():
    with pytest.raises(ValueError, match="depth must be an integer >= 1, got 0"):
        shortcut_net(2, 0)
    with pytest.raises(ValueError, match="not a multiple"):
        shortcut_net(3, 8)


def test_initialisations_statistics_and_reproducibility():
    net = Net(d=10, n=1, L=400)
    W = {s: weights(net, initialize(net, s, seed=0)) for s in SCHEMES}
    assert abs(W["xavier"].std().item() - math.sqrt(1 / 10)) < 0.01
    assert abs(W["msra"].std().item() - math.sqrt(2 / 10)) < 0.01
    assert abs(W["zero"].std().item() - 1e-4 * math.sqrt(1 / 10)) < 1e-6
    eye = torch.eye(10, dtype=f64)
    assert torch.allclose(W["orthogonal"] @ W["orthogonal"].transpose(-1, -2), eye.expand_as(W["orthogonal"]), atol=1e-12)
    assert torch.equal(initialize(net, "xavier", seed=5), initialize(net, "xavier", seed=5))
    assert not torch.equal(initialize(net, "xavier", seed=5), initialize(net, "xavier", seed=6))
    assert initialize_many(net, "zero", [0, 1, 2], eps=1e-3).shape == (3, net.num_params)


def test_unknown_init_is_named():
    with pytest.raises(ValueError, match="unknown init 'he'; allowed: xavier, orthogonal, zero, msra"):
        initialize(Net(d=2, n=1, L=1), "he")


def test_avg_frobenius_batched():
    net = Net(d=3, n=2, L=2)
    thetas = torch.stack([torch.ones(net.num_params, dtype=f64), 2 * torch.ones(net.num_params, dtype=f64)])
    assert torch.allclose(avg_frobenius(net, thetas), torch.tensor([3.0, 6.0], dtype=f64))


def test_theorem1_forward_one_unit_by_hand():
    X, _ = data(d=3, m=5)
    W1, b, W2 = torch.randn(1, 4, 3, dtype=f64), torch.randn(1, 4, dtype=f64), torch.randn(1, 3, 4, dtype=f64)
    expected = X + W2[0] @ torch.relu(W1[0] @ X + b[0][:, None])
    assert torch.allclose(theorem1_forward(W1, b, W2, X), expected)
