"""The fused CPU kernel of ReLU-net training against autograd: the loss, the gradient, and whole runs."""

import numpy as np
import pytest
import torch

from shortcut.experiments.gd import train_gd
from shortcut.experiments.zoo import make_net
from shortcut.science import fused
from shortcut.science.init import initialize
from shortcut.science.loss import make_loss
from shortcut.science.models import Net

f64 = torch.float64


def data(m: int, d: int = fused.WIDTH, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(d, m, generator=g, dtype=f64)
    return X, torch.eye(d, dtype=f64)[:, torch.randint(0, d, (m,), generator=g)]


def autograd(loss, theta):
    g, v = torch.func.vmap(torch.func.grad_and_value(loss))(theta)
    return v, g


# m: less than one block of samples, several blocks and a remainder
@pytest.mark.parametrize("m", [37, 2 * fused.CHUNK + 5])
@pytest.mark.parametrize("model", ["2-shortcut", "xavier"])
def test_loss_and_gradient_equal_autograd(model, m):
    net, _ = make_net(model, 6, mid="relu")
    X, Y = data(m)
    loss = make_loss(net, X, Y)
    theta = torch.stack([initialize(net, scheme, seed=s) for s, scheme in enumerate(["xavier", "orthogonal", "msra"])])
    value, grad = fused.value_and_grad(net, theta, X, Y)
    ref_value, ref_grad = autograd(loss, theta)
    torch.testing.assert_close(value, ref_value, rtol=1e-12, atol=0)
    torch.testing.assert_close(grad, ref_grad, rtol=1e-10, atol=1e-14)
    assert float(ref_grad.abs().max()) > 1e-3  # a gradient worth comparing


def test_relu_derivative_at_zero_is_zero_as_in_torch():
    # every weight zero: every pre-activation is exactly 0, where relu'(0) = 0 (torch's convention)
    net, _ = make_net("2-shortcut", 4, mid="relu")
    X, Y = data(50)
    theta = torch.zeros(2, net.num_params, dtype=f64)
    theta[1, : net.d**2] = 0.3  # a first matrix that is not zero: its unit's mask is not all zero
    value, grad = fused.value_and_grad(net, theta, X, Y)
    ref_value, ref_grad = autograd(make_loss(net, X, Y), theta)
    torch.testing.assert_close(grad, ref_grad, rtol=1e-10, atol=1e-15)
    torch.testing.assert_close(value, ref_value, rtol=1e-12, atol=0)


def test_float32_parameters_agree_with_float64():
    net, _ = make_net("2-shortcut", 8, mid="relu")
    X, Y = data(300)
    theta = initialize(net, "xavier", seed=3)[None]
    value, grad = fused.value_and_grad(net, theta, X, Y)
    value32, grad32 = fused.value_and_grad(net, theta.float(), X, Y)
    assert value32.dtype == grad32.dtype == torch.float32
    torch.testing.assert_close(grad32.double(), grad, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(value32.double(), value, rtol=1e-5, atol=0)


@pytest.mark.parametrize("net", [Net(d=10, n=1, L=3, mid="relu"), Net(d=10, n=2, L=3, mid="tanh"),
                                 Net(d=10, n=2, L=3, mid="relu", pre="relu"), Net(d=4, n=2, L=3, mid="relu"),
                                 Net(d=10, n=3, L=2, mid="relu")], ids=str)
def test_nets_the_kernel_does_not_cover_are_refused(net):
    assert not fused.supports(net)
    X, Y = data(20, d=net.d)
    with pytest.raises(ValueError, match="fused kernel computes nets with a ReLU at the mid positions"):
        fused.value_and_grad(net, torch.zeros(1, net.num_params, dtype=f64), X, Y)


@pytest.mark.parametrize("model", ["2-shortcut", "orthogonal"])
def test_training_with_the_kernel_equals_training_with_autograd(model):
    """The same runs, records and divergences; the largest rate diverges, so the kernel's skipping of
    dead runs is exercised."""
    net, scheme = make_net(model, 4, mid="relu")
    X, Y = data(300, seed=1)
    loss = make_loss(net, X, Y)
    theta0 = initialize(net, scheme, seed=0)
    lrs = [0.01, 0.3, 100.0]
    fast = train_gd(loss, theta0, lrs, 25, progress=False, kernel="fused")
    slow = train_gd(loss, theta0, lrs, 25, progress=False, kernel="autograd")
    assert fast.diverged_at[-1] > 0 and list(fast.diverged_at) == list(slow.diverged_at)
    for name in ("loss", "grad_norm", "frob"):
        np.testing.assert_allclose(getattr(fast, name), getattr(slow, name), rtol=1e-9, atol=1e-300, err_msg=name)


def test_auto_picks_the_kernel_only_where_it_applies(monkeypatch):
    calls = []
    real = fused.value_and_grad
    monkeypatch.setattr(fused, "value_and_grad", lambda *a: calls.append(1) or real(*a))
    X, Y = data(40)
    relu, _ = make_net("2-shortcut", 2, mid="relu")
    linear, _ = make_net("2-shortcut", 2)
    train_gd(make_loss(relu, X, Y), initialize(relu, "xavier"), [0.1], 2, progress=False)
    assert len(calls) == 3
    train_gd(make_loss(linear, X, Y), initialize(linear, "xavier"), [0.1], 2, progress=False)
    train_gd(make_loss(relu, X.float(), Y.float()), initialize(relu, "xavier").float(), [0.1], 2, progress=False)
    assert len(calls) == 3


def test_bad_kernel_arguments_are_named():
    X, Y = data(40)
    linear, _ = make_net("2-shortcut", 2)
    loss = make_loss(linear, X, Y)
    with pytest.raises(ValueError, match="unknown kernel 'banana'; allowed: auto, fused, autograd"):
        train_gd(loss, initialize(linear, "xavier"), [0.1], 2, progress=False, kernel="banana")
    with pytest.raises(ValueError, match="kernel='fused' needs .* ReLUs at the mid positions"):
        train_gd(loss, initialize(linear, "xavier"), [0.1], 2, progress=False, kernel="fused")
