"""The index of a linear network's Hessian (its fraction of negative eigenvalues), derived.

For ``f(x) = A(θ) x`` with ``P`` parameters and ``A`` of size ``d × d`` the loss is
``ℓ(A) = ½ tr(A Σxx Aᵀ) − tr(A Σxy) + c`` (``shortcut.science.loss``); with ``G = ∂ℓ/∂A = A Σxx − Σxyᵀ`` and
``J = ∂vec A/∂θ`` (``d² × P``) its Hessian splits as

    H = Jᵀ (I ⊗ Σxx) J  +  S(G),        S(G) = Σ_ab G_ab ∇²A_ab                          (1)

— the Gauss–Newton part, positive semi-definite of rank ``r = rank J ≤ d²``, and the second-order part,
linear in ``G`` and zero on the diagonal blocks (``A`` is linear in each weight matrix alone). Let ``K =
ker J`` (dimension ``P − r``: the directions along which ``A`` does not move to first order). On ``K`` the
Gauss–Newton part vanishes, so ``H|_K = S|_K``, and Cauchy's interlacing for a subspace of codimension
``r`` gives

    neg(S|_K) ≤ neg(H) ≤ neg(S|_K) + r.                                                   (2)

``S|_K`` is linear in ``G``: its eigenvalues scale with ``‖G‖`` and its inertia depends only on the
direction of ``G``. As ``G → 0`` at fixed ``J`` (of rank ``d²``) the ``d²`` Gauss–Newton eigenvalues stay
and, by the Schur complement on ``K⊥``, ``neg(H) = neg(S|_K)`` exactly once ``‖G‖`` is small beside them
(:func:`fiber_inertia`). So the index does *not* fall to zero as the loss approaches its minimum: it
stays at ``neg(S|_K)/P`` while ``P − d²`` eigenvalues shrink like ``‖G‖`` — with ``Σxx = I``,
``L − L* = ½‖G‖²`` — and only at ``G = 0`` itself is it 0, with ``P − d²`` zero eigenvalues. An index
measured with a tolerance (``shortcut.science.hessian.summarize``: ``|λ| ≤ rtol·max|λ|`` counts as zero) falls
only once those eigenvalues drop below it, at ``‖G‖`` of order ``rtol`` (``L − L*`` of order ``rtol²``),
far below what a float64 loss resolves.

**Plain networks** (``A = W_D ⋯ W_1``, every ``W_k`` invertible): ``K`` is the tangent of the orbit
``W_k ↦ M_k W_k M_{k−1}^{-1}`` (``M_0 = M_D = I``), and on it ``vᵀHv = −⟨∇L, γ''⟩`` along the orbit's
curves. With ``Z_k = P_k M_k P_k^{-1}`` (``P_k = W_D⋯W_{k+1}``) this is
``−Σ_k tr((Z_k² − 2 Z_k Z_{k−1} + Z_{k−1}²) M)`` with ``M = A Gᵀ``. Triangularising ``M`` splits this
form into hyperbolic pairs (one negative, one positive eigenvalue for each off-diagonal entry and
interface) and, for each eigenvalue ``λ = |λ| e^{iφ}`` of ``M``, a part whose negative count is
``ν_D(φ) = #{k ∈ 1…D−1 : kπ/D > |φ|}`` (the discrete Laplacian's modes against ``cos φ``; :func:`angle_count`).
Hence, exactly for generic ``M`` (:func:`plain_fiber_negatives`),

    neg(S|_K) = (D − 1)·d(d − 1)/2 + Σ_λ ν_D(arg λ),                                       (3)

between ``(D−1)d(d−1)/2`` and ``(D−1)d(d+1)/2``. With ``P = D d²`` the index after the Gauss–Newton part
dominates therefore lies in

    ½ − 1/(2D) ± (1 − 1/D)/(2d),                                                          (4)

centred on ``½ − 1/(2D) = (P − d²)/(2P)`` — the value where the angles of ``M``'s spectrum balance
(``Σ_λ ν_D = d(D − 1)/2``); by (2) it can exceed the upper end of (4) by at most ``1/D`` while the
Gauss–Newton part does not yet dominate. (3) is not derived for shortcut networks: (1), (2) and the
limit ``G → 0`` hold for every linear network, and the range (4) is what :func:`predicted_index`
states; for the 2-shortcut network it is observed (tests), not proven.

**The 2-shortcut network at its zero point** (Theorem 2): ``J = 0``, ``H = S`` has eigenvalues ``±σ_k(C)``
in equal numbers, so the index is exactly ½. Leaving the saddle turns on the Gauss–Newton part, which
takes ``d²`` directions; by (2)–(4) the index falls from ½ to about ``½ − 1/(2D)``: a fall of
``d²/(2P) = 1/(2D)`` at the centre of (4), about half of the ``d²`` directions it takes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.func import jacrev

from .linear_hessian import linear_hessian
from .models import Net, end_to_end


@dataclass(frozen=True)
class Inertia:
    """The numbers of negative, zero and positive eigenvalues of a symmetric matrix (``|λ| ≤ rtol·max|λ|``
    counts as zero, as in ``shortcut.science.hessian.summarize``)."""

    negative: int
    zero: int
    positive: int

    @classmethod
    def of(cls, M: torch.Tensor, rtol: float = 1e-10) -> "Inertia":
        lam = torch.linalg.eigvalsh(M).to(torch.float64)
        if lam.numel() == 0:
            return cls(0, 0, 0)
        tol = rtol * float(lam.abs().max())
        return cls(int((lam < -tol).sum()), int((lam.abs() <= tol).sum()), int((lam > tol).sum()))


def jacobian(net: Net, theta: torch.Tensor) -> torch.Tensor:
    """``J = ∂vec A/∂θ`` (``d² × P``; ``vec`` row by row) of a linear network at ``theta``."""
    d = net.d
    return jacrev(lambda th: end_to_end(net, th).reshape(d * d))(theta)


def gauss_newton(net: Net, theta: torch.Tensor, Sxx: torch.Tensor) -> torch.Tensor:
    """The Gauss–Newton part ``Jᵀ (I ⊗ Σxx) J`` of the Hessian (1): positive semi-definite, rank ≤ d²."""
    J = jacobian(net, theta)
    eye = torch.eye(net.d, dtype=theta.dtype, device=theta.device)
    return J.T @ torch.kron(eye, Sxx) @ J


def second_order(net: Net, theta: torch.Tensor, Sxx: torch.Tensor, Sxy: torch.Tensor) -> torch.Tensor:
    """The second-order part ``S(G) = H − Jᵀ(I ⊗ Σxx)J`` of the Hessian (1), linear in ``G = AΣxx − Σxyᵀ``."""
    return linear_hessian(net, theta, Sxx, Sxy) - gauss_newton(net, theta, Sxx)


def gradient_matrix(net: Net, theta: torch.Tensor, Sxx: torch.Tensor, Sxy: torch.Tensor) -> torch.Tensor:
    """The end-to-end gradient ``G = ∂ℓ/∂A = A Σxx − Σxyᵀ``."""
    return end_to_end(net, theta) @ Sxx - Sxy.T


def fiber_basis(net: Net, theta: torch.Tensor, rtol: float = 1e-10) -> torch.Tensor:
    """An orthonormal basis (``P × (P − r)``) of ``K = ker J``, ``r`` the rank of ``J`` (singular values
    above ``rtol`` times the largest)."""
    J = jacobian(net, theta)
    _, s, Vh = torch.linalg.svd(J, full_matrices=True)
    r = int((s > rtol * s[0]).sum()) if s.numel() and s[0] > 0 else 0
    return Vh[r:].T


def fiber_inertia(net: Net, theta: torch.Tensor, Sxx: torch.Tensor, Sxy: torch.Tensor,
                  rtol: float = 1e-10) -> Inertia:
    """The inertia of ``S|_K``, the Hessian on the directions that leave ``A`` unchanged to first order;
    by (2) ``neg(H)`` lies between its ``negative`` and that plus ``rank J``."""
    K = fiber_basis(net, theta, rtol)
    return Inertia.of(K.T @ second_order(net, theta, Sxx, Sxy) @ K, rtol)


def angle_count(phi: float, depth: int) -> int:
    """``ν_D(φ) = #{k ∈ 1…D−1 : kπ/D > |φ|}``: the negative directions an eigenvalue ``|λ|e^{iφ}`` of ``M = AGᵀ``
    adds to ``S|_K`` of a plain network of depth ``D`` (``D − 1`` for ``λ > 0``, none for ``λ < 0``)."""
    k = np.arange(1, depth)
    return int((k * np.pi / depth > abs(phi)).sum())


def plain_fiber_negatives(net: Net, theta: torch.Tensor, Sxx: torch.Tensor, Sxy: torch.Tensor) -> int:
    """``neg(S|_K)`` of a plain linear network in closed form (3), from the eigenvalues of ``M = A Gᵀ``
    (every weight matrix invertible, ``M`` generic)."""
    if net.shortcut or not net.linear:
        raise ValueError(f"the closed form (3) is derived for plain linear networks; got {net.label}")
    d, D = net.d, net.depth
    A = end_to_end(net, theta)
    M = (A @ gradient_matrix(net, theta, Sxx, Sxy).T).detach().cpu().numpy()
    return (D - 1) * d * (d - 1) // 2 + sum(angle_count(float(np.angle(lam)), D) for lam in np.linalg.eigvals(M))


@dataclass(frozen=True)
class IndexPrediction:
    """What (1)–(4) say of the index of a linear network of width ``d`` and depth ``D`` (``P = D d²``):

    * ``start``: ½, the 2-shortcut network's zero point (``J = 0``, eigenvalues ``±σ_k(C)``);
    * ``plateau``: ``½ − 1/(2D) = (P − d²)/(2P)``, the centre of (4);
    * ``low``, ``high``: the range (4) of ``neg(S|_K)/P``, ``½ − 1/(2D) ∓ (1 − 1/D)/(2d)`` — where the index
      lies once the Gauss–Newton part dominates (derived for plain networks; observed for 2-shortcut);
    * ``ceiling``: ``high + 1/D`` (``+ d²/P``), the most (2) allows before it dominates;
    * ``fall``: ``start − plateau = 1/(2D)``, the predicted fall from the zero point.
    """

    d: int
    depth: int

    @property
    def start(self) -> float:
        return 0.5

    @property
    def plateau(self) -> float:
        return 0.5 - 1 / (2 * self.depth)

    @property
    def spread(self) -> float:
        return (1 - 1 / self.depth) / (2 * self.d)

    @property
    def low(self) -> float:
        return self.plateau - self.spread

    @property
    def high(self) -> float:
        return self.plateau + self.spread

    @property
    def ceiling(self) -> float:
        return self.high + 1 / self.depth

    @property
    def fall(self) -> float:
        return self.start - self.plateau


def predicted_index(d: int, depth: int) -> IndexPrediction:
    """The index (1)–(4) predicts for a linear network of width ``d`` and ``depth`` weight layers.

    >>> p = predicted_index(10, 16)
    >>> round(p.plateau, 5), round(p.low, 5), round(p.high, 5), p.fall
    (0.46875, 0.42188, 0.51562, 0.03125)
    """
    if d < 1 or depth < 1:
        raise ValueError(f"need d >= 1 and depth >= 1, got d={d}, depth={depth}")
    return IndexPrediction(d=int(d), depth=int(depth))
