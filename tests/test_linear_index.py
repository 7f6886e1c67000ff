"""The derivation of a linear network's index (shortcut.science.linear_index) against exact spectra
(the closed-form Hessian of shortcut.science.linear_hessian) at random points, away from a minimum and
approaching one."""

import numpy as np
import pytest
import torch

from shortcut.science.hessian import summarize
from shortcut.science.linear_hessian import linear_hessian
from shortcut.science.linear_index import (Inertia, angle_count, fiber_inertia, gauss_newton, gradient_matrix,
                                           plain_fiber_negatives, predicted_index, second_order)
from shortcut.science.models import end_to_end, flatten, plain_net, shortcut_net

D64 = torch.float64


def data(d, seed, whitened=True):
    """(Σxx, Σxy): whitened (Σxx = I, the book's data) or a random positive definite Σxx."""
    g = torch.Generator().manual_seed(seed)
    if whitened:
        Sxx = torch.eye(d, dtype=D64)
    else:
        B = torch.randn(d, d, generator=g, dtype=D64)
        Sxx = B @ B.T / d + 0.5 * torch.eye(d, dtype=D64)
    return Sxx, torch.randn(d, d, generator=g, dtype=D64)


def random_point(net, seed, scale=1.0):
    g = torch.Generator().manual_seed(1000 + seed)
    return torch.randn(net.num_params, generator=g, dtype=D64) * scale / np.sqrt(net.d)


def minimum(net, Sxx, Sxy, seed):
    """A generic point with A = A* (G = 0), every weight matrix invertible."""
    d, g = net.d, torch.Generator().manual_seed(2000 + seed)
    eye = torch.eye(d, dtype=D64)
    Astar = torch.linalg.solve(Sxx, Sxy).T                      # A* Σxx = Σxyᵀ
    W = torch.zeros(net.L, net.n, d, d, dtype=D64)
    if not net.shortcut:                                        # W_D ⋯ W_2 near-orthogonal, W_1 solves the product
        for l in range(1, net.L):
            q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=D64))
            W[l, 0] = q @ torch.diag(1 + 0.3 * torch.rand(d, generator=g, dtype=D64))
        rest = eye
        for l in range(1, net.L):
            rest = W[l, 0] @ rest
        W[0, 0] = torch.linalg.solve(rest, Astar)
    else:                                                       # units 2..L small, unit 1 solves the product
        for l in range(1, net.L):
            W[l] = 0.3 * torch.randn(net.n, d, d, generator=g, dtype=D64) / np.sqrt(d)
        rest = eye
        for l in range(1, net.L):
            rest = (eye + W[l, 1] @ W[l, 0]) @ rest
        W[0, 0] = torch.randn(d, d, generator=g, dtype=D64) / np.sqrt(d) + eye
        W[0, 1] = (torch.linalg.solve(rest, Astar) - eye) @ torch.linalg.inv(W[0, 0])
    theta = flatten(W)
    assert torch.allclose(end_to_end(net, theta), Astar, atol=1e-10)
    return theta


NETS = [plain_net(2, d=4), plain_net(3, d=4), plain_net(5, d=4), plain_net(4, d=5),
        shortcut_net(2, 2, d=4), shortcut_net(2, 4, d=4), shortcut_net(2, 6, d=4), shortcut_net(2, 4, d=5)]


@pytest.mark.parametrize("net", NETS, ids=lambda n: f"{'2-shortcut' if n.shortcut else 'plain'}-D{n.depth}-d{n.d}")
def test_the_hessian_is_gauss_newton_plus_a_part_linear_in_g_with_zero_diagonal_blocks(net):
    d, P = net.d, net.num_params
    Sxx, Sxy = data(d, 0, whitened=False)
    theta = random_point(net, 0)
    GN = gauss_newton(net, theta, Sxx)
    lam = torch.linalg.eigvalsh(GN)
    assert lam.min() > -1e-10 * lam.max() and int((lam > 1e-10 * lam.max()).sum()) <= d * d  # PSD, rank ≤ d²
    S = second_order(net, theta, Sxx, Sxy)
    for m in range(net.L * net.n):                              # A is linear in each matrix alone
        block = S[m * d * d:(m + 1) * d * d, m * d * d:(m + 1) * d * d]
        assert block.abs().max() < 1e-12 * S.abs().max()
    # linear in G: Σxy enters G = AΣxx − Σxyᵀ affinely, and S vanishes where G does
    A = end_to_end(net, theta)
    at_zero = second_order(net, theta, Sxx, (A @ Sxx).T)
    assert at_zero.abs().max() < 1e-12 * S.abs().max()
    S2 = second_order(net, theta, Sxx, 2 * Sxy - (A @ Sxx).T)   # G doubled
    assert torch.allclose(S2, 2 * S, atol=1e-10 * S.abs().max())
    assert P == net.depth * d * d


@pytest.mark.parametrize("net", NETS, ids=lambda n: f"{'2-shortcut' if n.shortcut else 'plain'}-D{n.depth}-d{n.d}")
def test_interlacing_bounds_the_index_by_the_fiber_part_at_random_points(net):
    # (2): neg(S|K) ≤ neg(H) ≤ neg(S|K) + rank J, at points far from a minimum, whitened or not
    d = net.d
    for seed in range(6):
        Sxx, Sxy = data(d, seed, whitened=seed % 2 == 0)
        theta = random_point(net, seed, scale=0.5 + 0.3 * seed)
        fib = fiber_inertia(net, theta, Sxx, Sxy, rtol=1e-9)
        neg = Inertia.of(linear_hessian(net, theta, Sxx, Sxy)).negative
        assert fib.negative <= neg <= fib.negative + d * d, (seed, fib, neg)


@pytest.mark.parametrize("net", [n for n in NETS if not n.shortcut], ids=lambda n: f"plain-D{n.depth}-d{n.d}")
def test_the_closed_form_of_a_plain_net_s_fiber_index_is_exact(net):
    # (3): neg(S|K) = (D−1)d(d−1)/2 + Σ_λ ν_D(arg λ), λ the eigenvalues of M = AGᵀ — real of both signs and
    # complex among the points tried, so every branch of ν_D is exercised
    kinds = set()
    for seed in range(8):
        Sxx, Sxy = data(net.d, seed, whitened=seed % 2 == 0)
        theta = random_point(net, seed, scale=1.0 + 0.1 * seed)
        fib = fiber_inertia(net, theta, Sxx, Sxy, rtol=1e-9)
        assert fib.zero == 0
        assert plain_fiber_negatives(net, theta, Sxx, Sxy) == fib.negative, seed
        M = (end_to_end(net, theta) @ gradient_matrix(net, theta, Sxx, Sxy).T).numpy()
        for lam in np.linalg.eigvals(M):
            kinds.add("complex" if abs(lam.imag) > 1e-9 else "positive" if lam.real > 0 else "negative")
    assert kinds == {"complex", "positive", "negative"}


def test_the_angle_count():
    assert [angle_count(0.0, D) for D in (2, 5, 16)] == [1, 4, 15]          # λ > 0: D − 1
    assert [angle_count(np.pi, D) for D in (2, 5, 16)] == [0, 0, 0]         # λ < 0: none
    assert angle_count(np.pi / 2 - 0.01, 2) == 1 and angle_count(np.pi / 2 + 0.01, 2) == 0
    # a conjugate pair at angles ±φ and one at π − φ add up to D − 1 each: balanced angles give (P − d²)/2
    for phi in (0.3, 1.0, 2.0):
        assert angle_count(phi, 16) + angle_count(np.pi - phi, 16) == 15


@pytest.mark.parametrize("net", NETS, ids=lambda n: f"{'2-shortcut' if n.shortcut else 'plain'}-D{n.depth}-d{n.d}")
def test_the_fiber_index_lies_in_the_predicted_range(net):
    # (4): (D−1)d(d−1)/2 ≤ neg(S|K) ≤ (D−1)d(d+1)/2 — derived for plain nets (it follows from (3)),
    # observed for 2-shortcut nets at these points; and the index itself below the ceiling
    d, D, P = net.d, net.depth, net.num_params
    p = predicted_index(d, D)
    for seed in range(10):
        Sxx, Sxy = data(d, seed)
        theta = random_point(net, seed, scale=np.exp(0.4 * (seed - 5)))
        fib = fiber_inertia(net, theta, Sxx, Sxy, rtol=1e-9)
        assert (D - 1) * d * (d - 1) // 2 - fib.zero <= fib.negative <= (D - 1) * d * (d + 1) // 2, (seed, fib)
        assert p.low - fib.zero / P - 1e-12 <= fib.negative / P <= p.high + 1e-12
        assert summarize(torch.linalg.eigvalsh(linear_hessian(net, theta, Sxx, Sxy))).index <= p.ceiling + 1e-12


@pytest.mark.parametrize("net", [plain_net(4, d=4), shortcut_net(2, 4, d=4)], ids=["plain-D4", "2-shortcut-D4"])
def test_approaching_a_minimum_the_index_stays_until_the_tolerance_takes_it(net):
    # G → 0 along a fixed direction: neg(H) = neg(S|K) exactly, the same at every distance (the inertia depends
    # on G's direction only); P − d² eigenvalues shrink like |G| and P10|λ| with them (Fig 5); at G = 0 the
    # index is 0 with P − d² zero eigenvalues; a measured index (rtol 1e-10) loses them once |G| ~ 1e-10
    d, P = net.d, net.num_params
    Sxx, Sxy = data(d, 3)
    star = minimum(net, Sxx, Sxy, 3)
    delta = random_point(net, 7)
    negs, indices, p10_over_g, max_abs = [], [], [], []
    for t in (1e-2, 1e-4, 1e-6):
        theta = star + t * delta
        H = linear_hessian(net, theta, Sxx, Sxy)
        s = summarize(torch.linalg.eigvalsh(H))
        fib = fiber_inertia(net, theta, Sxx, Sxy)
        assert Inertia.of(H).negative == fib.negative
        negs.append(fib.negative)
        indices.append(s.index)
        p10_over_g.append(s.p10_abs / float(gradient_matrix(net, theta, Sxx, Sxy).norm()))
        max_abs.append(s.max_abs)
    assert len(set(negs)) == 1 and negs[0] > 0 and indices == [negs[0] / P] * 3
    assert np.ptp(p10_over_g[1:]) < 1e-3 * p10_over_g[-1]       # P10|λ| ∝ |G| = sqrt(2(L − L*))
    assert np.ptp(max_abs) < 1e-2 * max_abs[-1]                  # the Gauss–Newton end stays
    if not net.shortcut:
        assert plain_fiber_negatives(net, star + 1e-6 * delta, Sxx, Sxy) == negs[0]
    at_min = summarize(torch.linalg.eigvalsh(linear_hessian(net, star, Sxx, Sxy)))
    assert at_min.index == 0 and at_min.n_zero == P - d * d
    tiny = summarize(torch.linalg.eigvalsh(linear_hessian(net, star + 1e-13 * delta, Sxx, Sxy)))
    assert tiny.index == 0 and tiny.n_zero == P - d * d           # below the tolerance: counted as zeros


def test_the_zero_point_of_a_two_shortcut_net_has_index_one_half():
    net = shortcut_net(2, 6, d=4)
    Sxx, Sxy = data(4, 5)
    theta = torch.zeros(net.num_params, dtype=D64)
    s = summarize(torch.linalg.eigvalsh(linear_hessian(net, theta, Sxx, Sxy)))
    assert s.index == predicted_index(4, 6).start == 0.5
    assert float(gauss_newton(net, theta, Sxx).abs().max()) == 0.0   # J = 0: no Gauss–Newton part


def test_predicted_index_values():
    p = predicted_index(10, 16)
    assert p.plateau == 0.46875 and p.fall == 0.03125 and p.start == 0.5
    assert p.low == pytest.approx(675 / 1600) and p.high == pytest.approx(825 / 1600)
    assert p.ceiling == pytest.approx(925 / 1600)
    with pytest.raises(ValueError):
        predicted_index(0, 4)
    with pytest.raises(ValueError, match="plain linear"):
        plain_fiber_negatives(shortcut_net(2, 2, d=2), torch.zeros(8, dtype=D64), torch.eye(2, dtype=D64),
                              torch.eye(2, dtype=D64))
