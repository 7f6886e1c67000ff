"""The schemes after the paper (shortcut.science.schemes): the parameterisation reduces to the book's
networks, Fixup's scale, and the gradient and Hessian at each scheme's start against independent
computations (torch.autograd.functional on a hand-written network, finite differences)."""

import pytest
import torch

from shortcut.experiments.schemes import cond
from shortcut.science.hessian import eigenvalues, hessian
from shortcut.science.init import initialize
from shortcut.science.loss import make_loss
from shortcut.science.models import Net, shortcut_net, weights
from shortcut.science.schemes import (GatedLoss, fixup_scale, fold, gradient_at_start, initial_point,
                                      predicted_inertia, relus_active_on_fewer_than, scheme,
                                      scheme_loss)

f64 = torch.float64


def data(d=3, m=11, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(d, m, generator=g, dtype=f64), torch.randn(d, m, generator=g, dtype=f64)


def by_hand(n, L, d, mid, theta, X, Y):
    """The gated loss written out: h ← h + α_l W_{l,n} σ(⋯ σ(W_{l,1} h)), θ = [vec W (column-major,
    unit by unit) | α]."""
    act = torch.relu if mid == "relu" else (lambda z: z)
    W = theta[:L * n * d * d].reshape(L, n, d, d).transpose(-1, -2)
    alpha = theta[L * n * d * d:]
    h = X
    for l in range(L):
        z = W[l, 0] @ h
        for j in range(1, n):
            z = W[l, j] @ act(z)
        h = h + alpha[l] * z
    return 0.5 * ((h - Y) ** 2).sum() / X.shape[1]


@pytest.mark.parametrize("mid", ["id", "relu"])
@pytest.mark.parametrize("n", [1, 2, 3])
def test_gates_at_one_give_the_plain_n_shortcut_net(n, mid):
    X, Y = data()
    net = shortcut_net(n, 2 * n, d=3, mid=mid)
    W = initialize(net, "xavier", seed=3)
    gated = GatedLoss(make_loss(net, X, Y))
    assert torch.allclose(gated(torch.cat([W, torch.ones(net.L, dtype=f64)])), make_loss(net, X, Y)(W), rtol=1e-13)
    half = torch.cat([W, torch.full((net.L,), 0.5, dtype=f64)])
    assert not torch.allclose(gated(half), make_loss(net, X, Y)(W))  # the gates do something


def test_fold_scales_only_the_last_matrix_of_each_unit():
    net = Net(d=2, n=3, L=2)
    theta = torch.cat([torch.ones(net.num_params, dtype=f64), torch.tensor([2.0, -1.0], dtype=f64)])
    W = weights(net, fold(net, theta))
    assert torch.equal(W[:, :2], torch.ones(2, 2, 2, 2, dtype=f64))
    assert torch.equal(W[0, 2], 2 * torch.ones(2, 2, dtype=f64)) and torch.equal(W[1, 2], -torch.ones(2, 2, dtype=f64))
    with pytest.raises(ValueError, match="post=id"):
        fold(Net(d=2, n=2, L=1, post="relu"), theta[:9])


def test_fixup_scale_is_L_to_the_minus_one_over_2m_minus_2():
    assert fixup_scale(16, 2) == pytest.approx(16 ** -0.5)
    assert fixup_scale(16, 3) == pytest.approx(0.5)
    assert fixup_scale(81, 3) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="m >= 2"):
        fixup_scale(4, 1)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_fixup_start_zeroes_the_last_matrix_and_rescales_the_others(n):
    net = shortcut_net(n, 4 * n, d=3)
    theta = initial_point(scheme("fixup"), net, seed=5)
    W, he = weights(net, theta[:net.num_params]), weights(net, initialize(net, "msra", seed=5))
    assert torch.equal(W[:, -1], torch.zeros_like(W[:, -1]))
    if n > 1:
        assert torch.allclose(W[:, :-1], he[:, :-1] * 4 ** (-1 / (2 * n - 2)), rtol=1e-15)
    assert torch.equal(theta[net.num_params:], torch.ones(4, dtype=f64))  # the multipliers


def test_starting_points_of_the_gated_schemes():
    net = shortcut_net(2, 4, d=3)
    for name, init in (("skipinit", "msra"), ("rezero", "xavier")):
        theta = initial_point(scheme(name), net, seed=2)
        assert torch.equal(theta[:net.num_params], initialize(net, init, seed=2))
        assert torch.equal(theta[net.num_params:], torch.zeros(net.L, dtype=f64))
    assert torch.equal(initial_point(scheme("zero"), net, seed=2, eps=1e-3), initialize(net, "zero", seed=2, eps=1e-3))


CASES = [(name, n, mid) for name in ("skipinit", "rezero", "fixup", "zero") for n in (1, 2, 3) for mid in ("id", "relu")
         if not (mid == "relu" and n == 1)]


@pytest.mark.parametrize("name, n, mid", CASES)
def test_gradient_and_hessian_at_the_start_against_autograd_functional(name, n, mid):
    X, Y = data()
    s, net = scheme(name), shortcut_net(n, 2 * n, d=3, mid=mid)
    theta = initial_point(s, net, seed=1, eps=1e-2)
    loss = scheme_loss(s, net, X, Y)
    if not s.gated:
        theta_g = torch.cat([theta, torch.ones(net.L, dtype=f64)])  # the hand-written net has gates: hold them at 1
        ref = lambda t: by_hand(n, net.L, 3, mid, torch.cat([t, theta_g[net.num_params:]]), X, Y)  # noqa: E731
    else:
        ref = lambda t: by_hand(n, net.L, 3, mid, t, X, Y)  # noqa: E731
    g_ref = torch.autograd.functional.jacobian(ref, theta)
    H_ref = torch.autograd.functional.hessian(ref, theta)
    assert torch.allclose(torch.func.grad(loss)(theta), g_ref, atol=1e-12)
    assert torch.allclose(hessian(loss, theta), H_ref, atol=1e-10)
    closed = gradient_at_start(s, net, theta, X, Y)
    if closed is not None:
        assert torch.allclose(closed, g_ref, atol=1e-12)
        assert closed.norm() > 1e-3  # none of the schemes starts at a critical point


def test_gradient_at_a_gated_start_by_finite_differences():
    X, Y = data(m=9, seed=4)
    s, net = scheme("rezero"), shortcut_net(2, 6, d=3, mid="relu")
    theta = initial_point(s, net, seed=0)
    loss, g = scheme_loss(s, net, X, Y), gradient_at_start(s, net, theta, X, Y)
    h = 1e-6
    for i in [0, net.num_params - 1, net.num_params, net.num_params + 2]:
        e = torch.zeros_like(theta)
        e[i] = h
        assert float((loss(theta + e) - loss(theta - e)) / (2 * h)) == pytest.approx(float(g[i]), abs=1e-8)


@pytest.mark.parametrize("name, n, mid", [c for c in CASES if predicted_inertia(scheme(c[0]), shortcut_net(c[1], c[1], d=3))])
def test_the_predicted_inertia_at_the_start(name, n, mid):
    X, Y = data(m=40)
    s, net = scheme(name), shortcut_net(n, 3 * n, d=3, mid=mid)
    theta = next(t for t in (initial_point(s, net, seed=seed) for seed in range(20)) if relus_active_on_fewer_than(net, t, X, 3) == 0)
    lam = eigenvalues(hessian(scheme_loss(s, net, X, Y), theta))
    tol = 1e-10 * lam.abs().max()
    want = predicted_inertia(s, net)
    assert int((lam < -tol).sum()) == want["negative"] and int((lam.abs() <= tol).sum()) == want["zero"]
    assert int((lam > tol).sum()) == want["negative"]
    assert want["size"] == lam.numel()


def test_a_dead_relu_at_fixups_start_breaks_the_count():
    X, Y = data(m=40)
    s, net = scheme("fixup"), shortcut_net(3, 9, d=3, mid="relu")
    theta = initial_point(s, net, seed=2)  # second-layer ReLUs dead on all 40 samples: 1, 2 and 1 in the three units
    assert relus_active_on_fewer_than(net, theta, X, 1) == 4
    lam = eigenvalues(hessian(scheme_loss(s, net, X, Y), theta))
    assert int((lam < -1e-10 * lam.abs().max()).sum()) < predicted_inertia(s, net)["negative"]


def test_a_relu_active_on_fewer_than_d_samples_breaks_the_count_too():
    """One Fixup unit of three matrices, d = 3, first matrix I: the first second-layer ReLU,
    relu(z_0 − 100 (z_1 + z_2)) with z = relu(x), is active on two samples only (fewer than d) but
    dead on none of the others' count — and its unit's coupling loses rank."""
    X, Y = data(d=3, m=40, seed=1)
    X[1:, 2:] = X[1:, 2:].abs() + 0.1                             # samples 2…: z_1, z_2 > 0, the ReLU is off
    X[:, :2] = torch.tensor([[1.0, 1.2], [-1.0, -0.8], [-1.0, -1.1]], dtype=f64)  # samples 0, 1: on
    s, net = scheme("fixup"), shortcut_net(3, 3, d=3, mid="relu")
    theta = initial_point(s, net, seed=0)
    W = weights(net, theta[:net.num_params]).clone()
    W[0, 0] = torch.eye(3, dtype=f64)
    W[0, 1][0] = torch.tensor([1.0, -100.0, -100.0], dtype=f64)
    theta = torch.cat([W.transpose(-1, -2).reshape(-1), theta[net.num_params:]])
    assert relus_active_on_fewer_than(net, theta, X, 1) == 0 and relus_active_on_fewer_than(net, theta, X, 3) == 1
    lam = eigenvalues(hessian(scheme_loss(s, net, X, Y), theta))
    assert int((lam < -1e-10 * lam.abs().max()).sum()) == predicted_inertia(s, net)["negative"] - 1


def test_no_predicted_inertia_where_the_algebra_does_not_fix_it():
    assert predicted_inertia(scheme("zero"), shortcut_net(2, 4, d=3)) is None
    assert predicted_inertia(scheme("fixup"), shortcut_net(1, 4, d=3)) is None


def test_condition_number_is_infinite_when_p10_is_zero():
    assert cond(4.0, 2.0) == 2.0
    assert cond(4.0, 1e-12) == float("inf")


def test_unknown_scheme():
    with pytest.raises(ValueError, match="allowed: zero, skipinit, rezero, fixup"):
        scheme("batchnorm")
