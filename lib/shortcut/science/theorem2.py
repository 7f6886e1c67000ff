"""Theorem 2 in closed form: the loss of an n-shortcut network at the zero point (Section 4.2, Theorem 2;
its proof in Appendix A.2, Lemmas 3 and 4, Eqs. 8 and 10, Fig. 11).

Write ``R = X − Y`` (the residual of the identity map, which every shortcut network computes at
W = 0), ``U = σ_pre(X)`` and ``a = σ_mid'(0)·σ_post'(0)``. Then at θ = 0:

- n ≥ 3: gradient and Hessian vanish (every term of f that involves a unit is a product of ≥ n of
  its matrices), so 0 is an (n−1)-th order stationary point;
- n = 2: the gradient vanishes and ``H = I_L ⊗ [[0, Bᵀ], [B, 0]]`` with ``B`` the matrix of the
  bilinear form ``(W1, W2) ↦ tr(W2 W1 C)``, ``C = a·U Rᵀ/m``; its eigenvalues are ``±σ_k(C)`` with
  multiplicity ``d·L`` each, so cond(H) = σ_max(C)/σ_min(C) whatever the depth;
- n = 1: the gradient is ``b·R Uᵀ/m`` per unit (b = σ_post'(0)) and the Hessian is block Toeplitz —
  the same block ``A`` (≅ Σ_uu ⊗ I) couples every pair of units, plus a coupling ``B₁`` of each unit
  with every earlier one and, with a curved post activation (σ_post''(0) ≠ 0, e.g. silu), a within-unit
  term (:func:`curvature_block`) — the only place σ''(0) enters the Hessian at 0.

Everything is expressed in the flat parameter order of ``shortcut.science.models`` (unit, matrix, column,
row), so the closed form is compared with autograd entry by entry in the tests and the book.
"""

from __future__ import annotations

import torch
from torch.func import grad, vmap

from .models import Net, activation


def derivatives_at_zero(name: str, relu_convention: str = "autograd") -> tuple[float, float]:
    """(σ'(0), σ''(0)) of activation ``name``.

    ReLU has no derivative at 0. ``relu_convention='autograd'`` uses autograd's relu'(0) = 0 (what an
    autograd Hessian at the exact zero point sees); ``'paper'`` uses 1/2, the average of the one-sided
    slopes, which is the paper's local polynomial approximation.
    """
    if relu_convention not in ("autograd", "paper"):
        raise ValueError(f"unknown relu_convention {relu_convention!r}; allowed: autograd, paper")
    if name == "relu" and relu_convention == "paper":
        return 0.5, 0.0
    act = activation(name)
    d1 = grad(lambda z: act(z))
    zero = torch.zeros((), dtype=torch.float64)
    return float(d1(zero)), float(grad(d1)(zero))


def _pointwise_derivative(name: str, X: torch.Tensor) -> torch.Tensor:
    act = activation(name)
    return vmap(grad(lambda z: act(z)))(X.reshape(-1)).reshape(X.shape)


def residual(X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """``R = X − Y``: the residual of every shortcut network at W = 0 (samples as columns)."""
    return X - Y


def C_matrix(net: Net, X: torch.Tensor, Y: torch.Tensor, relu_convention: str = "autograd") -> torch.Tensor:
    """``C = σ_mid'(0)·σ_post'(0)·σ_pre(X) Rᵀ/m`` (for linear nets ``X Rᵀ/m = Σ_xx − XYᵀ/m``)."""
    a = derivatives_at_zero(net.mid, relu_convention)[0] * derivatives_at_zero(net.post, relu_convention)[0]
    return a * activation(net.pre)(X) @ residual(X, Y).T / X.shape[1]


def _require_shortcut(net: Net) -> None:
    if not net.shortcut:
        raise ValueError("Theorem 2 is about shortcut networks; got a plain network")


def gradient_at_zero(net: Net, X: torch.Tensor, Y: torch.Tensor, relu_convention: str = "autograd") -> torch.Tensor:
    """The gradient of the loss at θ = 0: ``b·R σ_pre(X)ᵀ/m`` for every unit when n = 1, zero when n ≥ 2."""
    _require_shortcut(net)
    g = torch.zeros(net.L, net.n, net.d, net.d, dtype=X.dtype, device=X.device)  # (l, j, col, row)
    if net.n == 1:
        b = derivatives_at_zero(net.post, relu_convention)[0]
        G = b * residual(X, Y) @ activation(net.pre)(X).T / X.shape[1]  # (row, col)
        g[:, 0] = G.T
    return g.reshape(-1)


def unit_block_n2(C: torch.Tensor) -> torch.Tensor:
    """The 2d² × 2d² Hessian block of one 2-shortcut unit at 0: ``[[0, Bᵀ], [B, 0]]``.

    ``B[(col j, row i) of W2, (col k, row j') of W1] = δ_{jj'} C[k, i]`` — the coefficients of
    ``tr(W2 W1 C) = Σ W2[i, j] W1[j, k] C[k, i]``; B is a permutation of ``C ⊗ I_d``.
    """
    d = C.shape[0]
    eye = torch.eye(d, dtype=C.dtype, device=C.device)
    B = torch.einsum("jJ,ki->jikJ", eye, C).reshape(d * d, d * d)
    Z = torch.zeros_like(B)
    return torch.cat([torch.cat([Z, B.T], 1), torch.cat([B, Z], 1)], 0)


def curvature_block(net: Net, X: torch.Tensor, Y: torch.Tensor, relu_convention: str = "autograd") -> torch.Tensor:
    """The one place σ''(0) enters the Hessian at 0: the within-unit block of a 1-shortcut unit with a
    curved post activation, ``δ_{aa'} σ_post''(0) Σ_i r_ia u_iq u_ip / m`` (d² × d², rows and columns
    (col, row) of the unit's matrix). Zero for σ_post''(0) = 0 (tanh, identity) and for n ≥ 2, where a
    second derivative of an activation at 0 multiplies at least three matrices."""
    _require_shortcut(net)
    d, m = net.d, X.shape[1]
    c = derivatives_at_zero(net.post, relu_convention)[1]
    if net.n != 1 or c == 0.0:
        return torch.zeros(d * d, d * d, dtype=X.dtype, device=X.device)
    U, R = activation(net.pre)(X), residual(X, Y)
    eye = torch.eye(d, dtype=X.dtype, device=X.device)
    return c * torch.einsum("ai,qi,pi,aA->qapA", R, U, U, eye).reshape(d * d, d * d) / m


def hessian_at_zero(net: Net, X: torch.Tensor, Y: torch.Tensor, relu_convention: str = "autograd") -> torch.Tensor:
    """Theorem 2's Hessian of the loss at θ = 0, P × P, in closed form (no autograd through the net)."""
    _require_shortcut(net)
    d, L, n, m = net.d, net.L, net.n, X.shape[1]
    P = net.num_params
    if n >= 3:
        return torch.zeros(P, P, dtype=X.dtype, device=X.device)
    if n == 2:
        block = unit_block_n2(C_matrix(net, X, Y, relu_convention))
        return torch.block_diag(*([block] * L))
    # n == 1: entries indexed (unit l, col q, row a) x (unit k, col p, row a').
    b = derivatives_at_zero(net.post, relu_convention)[0]
    U = activation(net.pre)(X)                       # (d, m)
    S = _pointwise_derivative(net.pre, X)            # σ_pre'(x), (d, m)
    R = residual(X, Y)
    eye = torch.eye(d, dtype=X.dtype, device=X.device)
    Suu = U @ U.T / m
    # A: b² δ_{aa'} Suu[q, p] between every pair of units (from ½ b² tr((ΣW) Suu (ΣW)ᵀ)).
    A = b * b * torch.einsum("qp,aA->qapA", Suu, eye).reshape(d * d, d * d)
    D = curvature_block(net, X, Y, relu_convention)
    # Unit l after unit k: coefficient of W_l[a, β] W_k[β', p] is δ_{ββ'} b² Σ_i r_ia s_iβ u_ip / m.
    K = b * b * torch.einsum("ai,bi,pi->abp", R, S, U) / m
    B1 = torch.einsum("abp,bB->bapB", K, eye).reshape(d * d, d * d)  # rows (col β, row a) of W_l; cols (col p, row β') of W_k
    H = A.repeat(L, L)
    for l in range(L):
        rows = slice(l * d * d, (l + 1) * d * d)
        H[rows, rows] += D
        for k in range(l):
            cols = slice(k * d * d, (k + 1) * d * d)
            H[rows, cols] += B1
            H[cols, rows] += B1.T
    return H


def predicted_eigenvalues_n2(net: Net, X: torch.Tensor, Y: torch.Tensor, relu_convention: str = "autograd") -> torch.Tensor:
    """Theorem 2 (n = 2): the Hessian's eigenvalues at 0, ``±σ_k(C)`` each repeated ``d·L`` times, ascending."""
    if net.n != 2:
        raise ValueError(f"predicted_eigenvalues_n2 is for n = 2, got n = {net.n}")
    s = torch.linalg.svdvals(C_matrix(net, X, Y, relu_convention))
    lam = torch.cat([s, -s]).repeat_interleave(net.d * net.L)
    return torch.sort(lam).values


def condition_number_n2(net: Net, X: torch.Tensor, Y: torch.Tensor, relu_convention: str = "autograd") -> float:
    """cond(H) = σ_max(C)/σ_min(C) for n = 2: independent of the number of units L."""
    s = torch.linalg.svdvals(C_matrix(net, X, Y, relu_convention))
    return float(s.max() / s.min())
