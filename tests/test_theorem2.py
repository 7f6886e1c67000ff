"""Theorem 2, checked: the closed form at W = 0 against autograd, its spectrum and conditioning."""

import pytest
import torch

from shortcut.science import theorem2
from shortcut.science.hessian import eigenvalues, hessian
from shortcut.science.loss import make_loss
from shortcut.science.models import Net

f64 = torch.float64


def problem(d=4, m=50, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(d, m, generator=g, dtype=f64)
    labels = torch.randint(0, d, (m,), generator=g)
    return X, torch.eye(d, dtype=f64)[:, labels]


ACTS = [{}, {"pre": "tanh"}, {"mid": "tanh"}, {"post": "tanh"}, {"pre": "silu", "mid": "silu", "post": "silu"}]


@pytest.mark.parametrize("acts", ACTS, ids=str)
@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_closed_form_equals_autograd_entry_by_entry(n, acts):
    X, Y = problem()
    net = Net(d=4, n=n, L=3, **acts)
    zero = torch.zeros(net.num_params, dtype=f64)
    loss = make_loss(net, X, Y)
    H = hessian(loss, zero)
    assert H.abs().max() > 0.1 or n >= 3
    assert torch.allclose(H, theorem2.hessian_at_zero(net, X, Y), atol=1e-12)
    assert torch.allclose(torch.func.grad(loss)(zero), theorem2.gradient_at_zero(net, X, Y), atol=1e-13)


@pytest.mark.parametrize("n", [3, 4])
def test_higher_shortcuts_are_flat_at_zero(n):
    X, Y = problem()
    net = Net(d=4, n=n, L=2, mid="tanh")
    zero = torch.zeros(net.num_params, dtype=f64)
    loss = make_loss(net, X, Y)
    assert hessian(loss, zero).abs().max() == 0
    assert torch.func.grad(loss)(zero).abs().max() == 0


@pytest.mark.parametrize("acts", [{}, {"pre": "tanh"}, {"post": "silu"}], ids=str)
def test_two_shortcut_spectrum_is_plus_minus_singular_values_of_C(acts):
    X, Y = problem()
    conds = []
    for L in (1, 2, 4, 8):
        net = Net(d=4, n=2, L=L, **acts)
        lam = eigenvalues(hessian(make_loss(net, X, Y), torch.zeros(net.num_params, dtype=f64)))
        assert torch.allclose(lam, theorem2.predicted_eigenvalues_n2(net, X, Y), atol=1e-12)
        # multiplicity d·L of each σ_k(C)
        s = torch.linalg.svdvals(theorem2.C_matrix(net, X, Y))
        assert int((lam - s[0]).abs().lt(1e-9).sum()) == 4 * L
        conds.append(float(lam.abs().max() / lam.abs().min()))
    assert max(conds) - min(conds) < 1e-9 * conds[0]
    assert conds[0] == pytest.approx(theorem2.condition_number_n2(Net(d=4, n=2, L=1, **acts), X, Y))


def test_one_shortcut_condition_number_grows_with_depth():
    X, Y = problem()
    conds = []
    for L in (1, 2, 4, 8):
        lam = eigenvalues(theorem2.hessian_at_zero(Net(d=4, n=1, L=L), X, Y))
        conds.append(float(lam.abs().max() / lam.abs().min()))
    assert all(b > a for a, b in zip(conds, conds[1:]))
    assert conds[-1] > 5 * conds[0]


def test_relu_conventions():
    X, Y = problem()
    net = Net(d=4, n=2, L=1, mid="relu")
    # autograd sees relu'(0) = 0: the Hessian at the exact zero point vanishes
    assert theorem2.hessian_at_zero(net, X, Y).abs().max() == 0
    assert hessian(make_loss(net, X, Y), torch.zeros(net.num_params, dtype=f64)).abs().max() == 0
    lin = Net(d=4, n=2, L=1)
    assert torch.allclose(theorem2.C_matrix(net, X, Y, relu_convention="paper"), 0.5 * theorem2.C_matrix(lin, X, Y))
    with pytest.raises(ValueError, match="relu_convention"):
        theorem2.derivatives_at_zero("relu", "average")


def test_plain_networks_are_refused():
    X, Y = problem()
    with pytest.raises(ValueError, match="plain"):
        theorem2.hessian_at_zero(Net(d=4, n=2, L=1, shortcut=False), X, Y)
