"""Theorem 2 in closed form: the loss of an n-shortcut network at the zero point (Section 4.2, Theorem 2;
its proof in Appendix A.2, Lemmas 3 and 4, Eqs. 8 and 10, Fig. 11).

Write ``R = X − Y`` (the residual of the identity map, which every shortcut network computes at
W = 0), ``U = σ_pre(X)`` and ``a = σ_mid'(0)·σ_post'(0)``. Then at θ = 0:

- n ≥ 2: along every direction v the loss is ``L(tv) = L(0) + tⁿ·T(v) + O(tⁿ⁺¹)`` with
  ``T(v) = Σ_l tr(V_{l,n} ⋯ V_{l,1} Cₙ)`` (:func:`leading_term`), so its first n − 1 directional
  derivatives vanish and the n-th is ``n!·T(v)`` (:func:`directional_derivatives` computes them by
  autograd): 0 is an (n−1)-th order stationary point, and not an n-th order one unless ``Cₙ = 0``;
- n ≥ 3: in particular gradient and Hessian vanish (every term of f that involves a unit is a product
  of ≥ n of its matrices);
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

import math
from typing import Callable

import torch
from torch.func import grad, jvp, vmap

from .models import Net, activation, weights


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


def directional_derivatives(fn: Callable[[torch.Tensor], torch.Tensor], theta: torch.Tensor, v: torch.Tensor,
                            k: int) -> torch.Tensor:
    """The directional derivatives of ``fn`` at ``theta`` along ``v`` of orders 0 … k, shape (k + 1,):
    entry j is ``dʲ/dtʲ fn(theta + t·v)`` at t = 0, the j-th derivative tensor contracted j times with v,
    ``Dʲfn(θ)[v, …, v]`` (0: ``fn(theta)``; 1: ``⟨∇fn, v⟩``; 2: ``vᵀHv``).

    k nested forward-mode passes (``torch.func.jvp``) through the scalar function ``t ↦ fn(θ + t·v)``,
    each returning every order below it too: exact to round-off (no step size), about 2ᵏ times the cost
    of ``fn``, and composable with ``vmap`` over directions. ``theta`` and ``v`` are flat vectors of one
    shape; use float64 (the Theorem 2 checks compare with closed forms to ~1e-10).

    >>> f = lambda x: (x ** 3).sum()
    >>> x, v = torch.tensor([1.0, 2.0], dtype=torch.float64), torch.tensor([1.0, -2.0], dtype=torch.float64)
    >>> directional_derivatives(f, x, v, 4).tolist()  # Σx³, 3Σx²v, 6Σxv², 6Σv³, 0
    [9.0, -21.0, 54.0, -42.0, 0.0]
    """
    if not isinstance(k, int) or isinstance(k, bool) or k < 0:
        raise ValueError(f"k must be an integer >= 0, got {k!r}")
    if v.shape != theta.shape:
        raise ValueError(f"v must have the shape of theta {tuple(theta.shape)}, got {tuple(v.shape)}")

    def along(t: torch.Tensor) -> torch.Tensor:
        return fn(theta + t * v).reshape(1)

    def one_more(g: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[torch.Tensor], torch.Tensor]:
        def h(t: torch.Tensor) -> torch.Tensor:
            orders, tangents = jvp(g, (t,), (torch.ones_like(t),))  # (D⁰ … Dʲ, D¹ … Dʲ⁺¹)
            return torch.cat([orders[:1], tangents])
        return h

    g = along
    for _ in range(k):
        g = one_more(g)
    return g(torch.zeros((), dtype=theta.dtype, device=theta.device))


def directional_derivative(fn: Callable[[torch.Tensor], torch.Tensor], theta: torch.Tensor, v: torch.Tensor,
                           k: int) -> torch.Tensor:
    """``Dᵏfn(θ)[v, …, v] = dᵏ/dtᵏ fn(theta + t·v)`` at t = 0, a 0-d tensor: the last entry of
    :func:`directional_derivatives` (same cost)."""
    return directional_derivatives(fn, theta, v, k)[k]


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


def leading_C(net: Net, X: torch.Tensor, Y: torch.Tensor, relu_convention: str = "autograd") -> torch.Tensor:
    """``Cₙ = σ_mid'(0)ⁿ⁻¹·σ_post'(0)·σ_pre(X) Rᵀ/m``: the matrix of the lowest-order term at 0 of an
    n-shortcut net (a unit's path passes n − 1 mid activations; for n = 2 this is :func:`C_matrix`)."""
    _require_shortcut(net)
    mid = derivatives_at_zero(net.mid, relu_convention)[0] if net.n > 1 else 1.0
    a = mid ** (net.n - 1) * derivatives_at_zero(net.post, relu_convention)[0]
    return a * activation(net.pre)(X) @ residual(X, Y).T / X.shape[1]


def leading_term(net: Net, X: torch.Tensor, Y: torch.Tensor, v: torch.Tensor,
                 relu_convention: str = "autograd") -> torch.Tensor:
    """``T(v) = Σ_l tr(V_{l,n} ⋯ V_{l,1} Cₙ)``: the degree-n term of the loss's Taylor series at 0 along
    the direction ``v`` (flat, P; batched over leading dims), ``L(tv) = L(0) + tⁿ·T(v) + O(tⁿ⁺¹)``.

    Why: at θ = tv a unit's path is ``tⁿ·a·V_{l,n}⋯V_{l,1} σ_pre(h) + O(tⁿ⁺¹)`` (``a = σ_mid'(0)ⁿ⁻¹σ_post'(0)``)
    and ``h = x + O(tⁿ)``, so ``f(x) = x + tⁿ a Σ_l M_l σ_pre(x) + O(tⁿ⁺¹)``, and the squared loss changes
    first by ``(1/m) Σ_i r_iᵀ (f(x_i) − x_i)``. Hence the directional derivatives of order 1 … n − 1 vanish
    and the n-th is ``n!·T(v)``; for n = 2, ``vᵀHv = 2·T(v)`` with H of :func:`hessian_at_zero`; for
    n = 1, ``T(v) = ⟨∇L(0), v⟩``. T is zero for every v exactly when ``Cₙ = 0``
    (:func:`leading_term_rms`).
    """
    _require_shortcut(net)
    if v.shape[-1] != net.num_params:
        raise ValueError(f"v must have {net.num_params} entries (the net's parameters), got {v.shape[-1]}")
    C = leading_C(net, X, Y, relu_convention).to(v.dtype)
    W = weights(net, v)                              # (..., L, n, d, d)
    M = W[..., 0, :, :]
    for j in range(1, net.n):
        M = W[..., j, :, :] @ M                      # V_{l,j} ⋯ V_{l,1}
    return (M * C.T).sum(dim=(-1, -2, -3))           # Σ_l tr(M_l C) = Σ_l Σ_ab M_l[a, b] C[b, a]


def leading_term_rms(net: Net, X: torch.Tensor, Y: torch.Tensor, relu_convention: str = "autograd") -> float:
    """``√(L·dⁿ⁻¹)·‖Cₙ‖_F``: the root mean square of :func:`leading_term` over directions v with
    independent standard normal entries (its mean is 0).

    Why: for independent d×d matrices with N(0, 1) entries, ``M = V_n⋯V_1`` has
    ``E[M_ab M_a'b'] = dⁿ⁻¹ δ_aa' δ_bb'`` (induction on n), so ``E[tr(M C)²] = dⁿ⁻¹‖C‖²_F``, and the L
    units are independent with mean 0. The n-th directional derivative's rms is ``n!`` times this.
    """
    C = leading_C(net, X, Y, relu_convention)
    return math.sqrt(net.L * net.d ** (net.n - 1)) * float(torch.linalg.matrix_norm(C))
