"""The exact Hessian of a *linear* network's loss in closed form, block by block.

For ``f(x) = A(θ) x`` the loss is ``L = ½ tr(A Σxx Aᵀ) − tr(A Σxy) + c`` (``shortcut.science.loss``) and every
weight matrix ``W_m`` enters ``A`` linearly: ``∂A/∂W_m [E] = P_m E R_m``, with ``P_m`` the product of
everything after ``W_m`` and ``R_m`` of everything before it (shortcuts included). Two matrices
``W_m`` after ``W_n`` give ``∂²A [E, E'] = P_m E Q_mn E' R_n``. With ``G = ∂L/∂A = A Σxx − Σxyᵀ`` the
Hessian block of ``(W_m[a, b], W_n[c, e])`` is therefore

    (P_mᵀ P_n)[a, c] · (R_m Σxx R_nᵀ)[b, e]   +   Q_mn[b, c] · (R_n Gᵀ P_m)[e, a]      (m after n)

— outer products of d × d matrices (the first term is the Gauss–Newton part). Building all of them
costs O(D² d³) small matrix products plus writing the P² = (D d²)² entries, far below the O(P³)
eigendecomposition that follows, where the generic route (P Hessian-vector products through the
whole network) is not.
"""

from __future__ import annotations

import torch

from .models import Net, weights


def _chain(mats: list[torch.Tensor], eye: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """For factors applied in order ``mats[0], mats[1], …``: products of those after and before each."""
    k = len(mats)
    after, before = [eye] * k, [eye] * k
    for i in range(k - 2, -1, -1):
        after[i] = after[i + 1] @ mats[i + 1]
    for i in range(1, k):
        before[i] = mats[i - 1] @ before[i - 1]
    return after, before


def linear_hessian(net: Net, theta: torch.Tensor, Sxx: torch.Tensor, Sxy: torch.Tensor) -> torch.Tensor:
    """Exact P × P Hessian of ``½ tr(A Σxx Aᵀ) − tr(A Σxy)`` for a linear ``net`` at ``theta``."""
    if not net.linear:
        raise ValueError(f"linear_hessian needs a linear network; {net.label} has activations")
    d, L, n = net.d, net.L, net.n
    W = weights(net, theta)                                   # (L, n, d, d)
    eye = torch.eye(d, dtype=theta.dtype, device=theta.device)
    units, ups, downs = [], [], []
    for l in range(L):
        up, down = _chain([W[l, j] for j in range(n)], eye)   # inside the unit: after / before W[l, j]
        ups.append(up)
        downs.append(down)
        U = up[0] @ W[l, 0]                                   # W[l, n-1] ⋯ W[l, 0]
        units.append(eye + U if net.shortcut else U)
    left, right = _chain(units, eye)                          # units after / before unit l
    A = left[0] @ units[0]
    G = A @ Sxx - Sxy.T

    M = L * n
    P = torch.stack([left[l] @ ups[l][j] for l in range(L) for j in range(n)])       # (M, d, d)
    R = torch.stack([downs[l][j] @ right[l] for l in range(L) for j in range(n)])    # (M, d, d)
    # Gauss-Newton part for every pair: (P_mᵀ P_n)[a, c] (R_m Σxx R_nᵀ)[b, e]
    PtP = torch.einsum("mxa,nxc->mnac", P, P)
    RSR = torch.einsum("mbs,st,net->mnbe", R, Sxx, R)
    H = torch.einsum("mnac,mnbe->mbanec", PtP, RSR)
    # Second-order part, m after n: Q_mn[b, c] (R_n Gᵀ P_m)[e, a]
    mid = {}  # products of the units strictly between unit k and unit l (l > k)
    for k in range(L):
        acc = eye
        for l in range(k + 1, L):
            mid[l, k] = acc
            acc = units[l] @ acc
    pairs_m, pairs_n, Q = [], [], []
    for m in range(M):
        l, j = divmod(m, n)
        for nn in range(m):
            k, i = divmod(nn, n)
            if l == k:   # same unit: the matrices strictly between W[l, i] and W[l, j]
                q = eye
                for t in range(i + 1, j):
                    q = W[l, t] @ q
            else:
                q = downs[l][j] @ mid[l, k] @ ups[k][i]
            pairs_m.append(m)
            pairs_n.append(nn)
            Q.append(q)
    if Q:
        im = torch.tensor(pairs_m, device=theta.device)
        jn = torch.tensor(pairs_n, device=theta.device)
        Q = torch.stack(Q)
        T = R[jn] @ G.T @ P[im]                                                            # (pairs, e, a)
        block = torch.einsum("pbc,pea->pbaec", Q, T)
        H[im, :, :, jn] += block
        H[jn, :, :, im] += block.permute(0, 3, 4, 1, 2)
    return H.reshape(net.num_params, net.num_params)
