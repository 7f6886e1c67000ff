"""The exact Hessian against finite differences and torch.autograd.functional.hessian."""

import pytest
import torch

from shortcut.science.hessian import eigenvalues, hessian, hvp, spectrum, summarize
from shortcut.science.init import initialize
from shortcut.science.loss import make_loss
from shortcut.science.models import Net

f64 = torch.float64


def problem(net, m=30, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(net.d, m, generator=g, dtype=f64)
    Y = torch.randn(net.d, m, generator=g, dtype=f64)
    return X, Y


NETS = [
    Net(d=3, n=2, L=2),
    Net(d=3, n=1, L=3),
    Net(d=3, n=2, L=2, shortcut=False),
    Net(d=3, n=2, L=2, pre="tanh", mid="silu", post="tanh"),
    Net(d=3, n=3, L=1, mid="tanh"),
]


@pytest.mark.parametrize("net", NETS, ids=lambda n: n.label)
@pytest.mark.parametrize("point", ["zero", "random"])
def test_hessian_matches_autograd_functional_and_finite_differences(net, point):
    X, Y = problem(net)
    loss = make_loss(net, X, Y)
    theta = torch.zeros(net.num_params, dtype=f64) if point == "zero" else initialize(net, "xavier", seed=1)
    H = hessian(loss, theta)
    ref = torch.autograd.functional.hessian(make_loss(net, X, Y, moments=False), theta)
    assert torch.allclose(H, ref, atol=1e-11, rtol=1e-9)
    # central differences of the gradient, column by column
    g = torch.func.grad(loss)
    h = 1e-5
    fd = torch.stack([(g(theta + h * e) - g(theta - h * e)) / (2 * h) for e in torch.eye(net.num_params, dtype=f64)])
    assert torch.allclose(H, fd, atol=1e-6 * max(1.0, H.abs().max().item()))


def test_hvp_and_chunking_agree():
    net = Net(d=3, n=2, L=3, mid="tanh")
    X, Y = problem(net)
    loss = make_loss(net, X, Y)
    theta = initialize(net, "xavier", seed=0)
    H = hessian(loss, theta)
    assert torch.allclose(hessian(loss, theta, chunk_size=7), H, atol=1e-13)
    v = torch.randn(net.num_params, dtype=f64)
    assert torch.allclose(hvp(loss, theta, v), H @ v, atol=1e-12)


def test_summary_of_a_known_spectrum():
    lam = torch.tensor([-3.0, -1.0, 0.0, 1e-14, 0.5, 1.0, 2.0, 4.0, 6.0, 8.0], dtype=f64)
    s = summarize(lam)
    assert s.max_abs == 8.0 and s.size == 10
    assert s.index == pytest.approx(0.2)          # the exact zero and 1e-14 are not negative
    assert s.n_zero == 2
    assert s.p10_abs == pytest.approx(torch.quantile(lam.abs(), 0.1).item())
    assert s.cond == pytest.approx(8.0 / s.p10_abs)
    assert s.cond_exact == float("inf")


def test_spectrum_of_a_quadratic():
    M = torch.tensor([[2.0, 1.0], [1.0, 3.0]], dtype=f64)
    s = spectrum(lambda t: 0.5 * t @ M @ t, torch.zeros(2, dtype=f64))
    assert s.max_abs == pytest.approx(torch.linalg.eigvalsh(M).max().item())
    assert torch.allclose(eigenvalues(M), torch.linalg.eigvalsh(M))


@pytest.mark.parametrize("net", [Net(d=3, n=1, L=1), Net(d=3, n=1, L=4), Net(d=3, n=2, L=3), Net(d=3, n=3, L=2),
                                 Net(d=3, n=1, L=4, shortcut=False), Net(d=3, n=2, L=3, shortcut=False)],
                         ids=lambda n: n.label)
@pytest.mark.parametrize("point", ["zero", "random"])
def test_structured_linear_hessian_equals_the_hvp_route(net, point):
    X, Y = problem(net)
    loss = make_loss(net, X, Y)
    theta = torch.zeros(net.num_params, dtype=f64) if point == "zero" else initialize(net, "orthogonal", seed=2)
    H = hessian(loss, theta, method="structured")
    ref = hessian(loss, theta, method="hvp")
    assert torch.allclose(H, ref, atol=1e-12 * max(1.0, ref.abs().max().item()))
    assert torch.equal(hessian(loss, theta), H)  # 'auto' takes the structured route for linear nets


def test_structured_route_needs_a_linear_moment_loss():
    net = Net(d=3, n=2, L=1, mid="tanh")
    X, Y = problem(net)
    with pytest.raises(ValueError, match="second-moment loss"):
        hessian(make_loss(net, X, Y), torch.zeros(net.num_params, dtype=f64), method="structured")
    with pytest.raises(ValueError, match="unknown method 'qr'"):
        hessian(make_loss(net, X, Y), torch.zeros(net.num_params, dtype=f64), method="qr")
