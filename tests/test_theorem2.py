"""Theorem 2, checked: the closed form at W = 0 against autograd, its spectrum and conditioning."""

import math

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


# ----------------------------------------------------------------------------- part 1 at its own order


def test_directional_derivatives_against_closed_forms():
    g = torch.Generator().manual_seed(1)
    x, v, c = (torch.randn(5, generator=g, dtype=f64) for _ in range(3))
    # exp(c·θ): the k-th derivative along v is (c·v)ᵏ exp(c·θ), for every k
    D = theorem2.directional_derivatives(lambda t: torch.exp(c @ t), x, v, 5)
    assert torch.allclose(D, (c @ v) ** torch.arange(6, dtype=f64) * torch.exp(c @ x), rtol=1e-13)
    # Σθ⁴: 4Σθ³v, 12Σθ²v², 24Σθv³, 24Σv⁴, then 0
    D = theorem2.directional_derivatives(lambda t: (t ** 4).sum(), x, v, 5)
    expected = [(x ** 4).sum(), 4 * (x ** 3 * v).sum(), 12 * (x ** 2 * v ** 2).sum(), 24 * (x * v ** 3).sum(),
                24 * (v ** 4).sum(), 0.0]
    assert torch.allclose(D, torch.tensor(expected, dtype=f64), rtol=1e-13, atol=1e-13)
    assert float(theorem2.directional_derivative(lambda t: (t ** 4).sum(), x, v, 3)) == pytest.approx(float(expected[3]))


def test_directional_derivatives_against_finite_differences_and_the_hessian():
    """On a network's loss at a random point: order k is the central difference of order k − 1 (error
    O(h²) ≈ 1e-8 relative at h = 1e-4, round-off ~1e-12), and order 2 is vᵀHv of the autograd Hessian."""
    X, Y = problem()
    net = Net(d=4, n=2, L=2, mid="tanh", post="silu")
    loss = make_loss(net, X, Y)
    g = torch.Generator().manual_seed(2)
    theta, v = (0.5 * torch.randn(net.num_params, generator=g, dtype=f64) for _ in range(2))
    D = theorem2.directional_derivatives(loss, theta, v, 4)
    h = 1e-4
    ahead, behind = (theorem2.directional_derivatives(loss, theta + s * h * v, v, 3) for s in (1, -1))
    assert torch.allclose(D[1:], (ahead - behind) / (2 * h), rtol=1e-6)
    assert float(D[0]) == pytest.approx(float(loss(theta)), rel=1e-15)
    assert float(D[2]) == pytest.approx(float(v @ hessian(loss, theta) @ v), rel=1e-12)


def test_directional_derivatives_refuse_bad_arguments():
    x = torch.zeros(3, dtype=f64)
    with pytest.raises(ValueError, match="k must be"):
        theorem2.directional_derivatives(torch.sum, x, x, -1)
    with pytest.raises(ValueError, match="shape"):
        theorem2.directional_derivatives(torch.sum, x, torch.zeros(4, dtype=f64), 2)


def test_leading_term_rms_is_the_rms_over_gaussian_directions():
    """√(L·dⁿ⁻¹)·‖Cₙ‖_F against a Monte Carlo mean of T(v)² over 40 000 directions (relative error of the
    rms ≈ ½·√(excess kurtosis/N), a few per cent at most here)."""
    X, Y = problem(d=3)
    for acts in ({}, {"mid": "silu", "post": "tanh"}):
        net = Net(d=3, n=3, L=2, **acts)
        V = torch.randn(40_000, net.num_params, generator=torch.Generator().manual_seed(3), dtype=f64)
        rms = float(theorem2.leading_term(net, X, Y, V).pow(2).mean().sqrt())
        assert rms == pytest.approx(theorem2.leading_term_rms(net, X, Y), rel=0.05)


# Tolerances relative to σₙ = n!·leading_term_rms, the rms of the n-th derivative over N(0, 1) directions:
# 1e-10 is float64 round-off with room (measured: exact zeros below order n, ~1e-15 at order n); 1e-7 is
# 1000× that, so a zero n-th derivative fails by far, while a N(0, 1) direction lands below it with
# probability ~4e-5 even for a single product of four Gaussians.
ROUND_OFF, NONZERO = 1e-10, 1e-7
ORDER_ACTS = [{}, {"pre": "tanh"}, {"mid": "tanh"}, {"post": "tanh"}, {"pre": "silu", "mid": "silu", "post": "silu"}]


@pytest.mark.parametrize("acts", ORDER_ACTS, ids=str)
@pytest.mark.parametrize("n", [2, 3, 4])
def test_zero_is_stationary_to_order_n_minus_1_and_not_to_order_n(n, acts):
    """Theorem 2, part 1, at its own order: along random directions the derivatives of orders 1 … n − 1
    at 0 vanish and the n-th is n!·T(v) = n!·Σ_l tr(V_{l,n}⋯V_{l,1} Cₙ), bounded away from zero."""
    X, Y = problem()
    net = Net(d=4, n=n, L=2, **acts)
    loss, zero = make_loss(net, X, Y), torch.zeros(net.num_params, dtype=f64)
    scale = math.factorial(n) * theorem2.leading_term_rms(net, X, Y)
    assert scale > 1.0  # Cₙ ≠ 0 on these data
    V = torch.randn(4, net.num_params, generator=torch.Generator().manual_seed(n), dtype=f64)
    for v in V:
        D = theorem2.directional_derivatives(loss, zero, v, n)[1:]
        T = math.factorial(n) * float(theorem2.leading_term(net, X, Y, v))
        assert D[:-1].abs().max() <= ROUND_OFF * scale
        assert abs(float(D[-1]) - T) <= ROUND_OFF * scale
        assert abs(float(D[-1])) >= NONZERO * scale


def test_order_two_is_the_closed_form_hessians_quadratic_form():
    X, Y = problem()
    for acts in ({}, {"pre": "tanh", "post": "silu"}):
        net = Net(d=4, n=2, L=3, **acts)
        v = torch.randn(net.num_params, generator=torch.Generator().manual_seed(4), dtype=f64)
        D2 = float(theorem2.directional_derivative(make_loss(net, X, Y), torch.zeros_like(v), v, 2))
        vHv = float(v @ theorem2.hessian_at_zero(net, X, Y) @ v)
        assert D2 == pytest.approx(vHv, rel=1e-12) and D2 == pytest.approx(2 * float(theorem2.leading_term(net, X, Y, v)), rel=1e-12)


def test_leading_term_of_one_shortcut_is_the_gradient_and_mid_slopes_enter_n_minus_1_times():
    X, Y = problem()
    net = Net(d=4, n=1, L=3, pre="tanh", post="silu")
    v = torch.randn(net.num_params, generator=torch.Generator().manual_seed(5), dtype=f64)
    assert float(theorem2.leading_term(net, X, Y, v)) == pytest.approx(float(theorem2.gradient_at_zero(net, X, Y) @ v))
    # silu'(0) = 1/2 at each of the n − 1 mid positions of a 4-shortcut unit: Cₙ is (1/2)³ of the linear one
    assert torch.allclose(theorem2.leading_C(Net(d=4, n=4, L=1, mid="silu"), X, Y),
                          theorem2.leading_C(Net(d=4, n=4, L=1), X, Y) / 8)
    assert torch.allclose(theorem2.leading_C(Net(d=4, n=2, L=1, pre="tanh", post="silu"), X, Y),
                          theorem2.C_matrix(Net(d=4, n=2, L=1, pre="tanh", post="silu"), X, Y))


def test_relu_at_the_exact_zero_point_vanishes_at_order_n_under_autograd():
    """Outside the theorem (Assumption 3 fails): with autograd's relu'(0) = 0, the n-th derivative at 0 and
    Cₙ both vanish; the paper's σ'(0) = 1/2 gives Cₙ = (1/2)ⁿ⁻¹ C of the linear net."""
    X, Y = problem()
    net = Net(d=4, n=3, L=2, mid="relu")
    v = torch.randn(net.num_params, generator=torch.Generator().manual_seed(6), dtype=f64)
    assert theorem2.directional_derivatives(make_loss(net, X, Y), torch.zeros_like(v), v, 3).abs()[1:].max() == 0
    assert theorem2.leading_term_rms(net, X, Y) == 0
    assert torch.allclose(theorem2.leading_C(net, X, Y, relu_convention="paper"),
                          theorem2.leading_C(Net(d=4, n=3, L=2), X, Y) / 4)
