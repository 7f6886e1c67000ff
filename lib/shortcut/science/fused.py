"""The loss and its gradient for nets with ReLUs at the mid positions, fused into one CPU kernel.

Figures 3 and 8 train 2-layer-unit nets of width 10 with a ReLU between the two matrices of every
unit (2-shortcut, and plain nets with their ReLUs at the same places) on thousands of samples. With
autograd every step is a chain of tiny batched products, 10 × 10 by 10 × m, each a full pass over
memory: about 10 GFLOP/s on two cores. This module computes the same loss and gradient with a
hand-derived backward (two products per matrix, a mask for the ReLU) in one numba kernel that takes a
block of samples through every layer and back while it stays in cache, so that it runs at the speed of
the machine's matrix products (``benchmarks/hessian.py``, Table 2).

The backward of one unit ``h' = h + W₂ relu(W₁ h)`` (``h' = W₂ relu(W₁ h)`` for a plain net), with
``G = ∂L/∂h'``, ``a = relu(W₁ h)``::

    ∂L/∂W₂ = G aᵀ,   δ = (W₂ᵀ G) ⊙ [a > 0],   ∂L/∂W₁ = δ hᵀ,   ∂L/∂h = G + W₁ᵀ δ   (plain: W₁ᵀ δ)

(the ReLU's derivative at 0 is taken as 0, as torch does). Gradients are summed in float64 whatever
the parameters' precision.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from .models import Net, flatten, weights

log = logging.getLogger(__name__)

WIDTH = 10  # the paper's width d; the kernel is compiled for it (its loops over d unroll; a multiple of 10), others use autograd
CHUNK = 256  # samples taken through the whole net at once: a block's activations of a deep net fit in L2


def supports(net: Net) -> bool:
    """Whether :func:`value_and_grad` computes ``net``'s loss: units of two matrices with a ReLU between them
    and none elsewhere, width :data:`WIDTH`."""
    return net.n == 2 and net.mid == "relu" and net.pre == net.post == "id" and net.d == WIDTH


def value_and_grad(net: Net, theta: torch.Tensor, X: torch.Tensor, Y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(L(θ_b), ∇L(θ_b))`` for every row θ_b of ``theta`` (B, P): the loss ``1/(2m) Σ ‖f(x_i) − y_i‖²`` of
    ``net`` on ``X``, ``Y`` (d × m, samples as columns), on the CPU, in ``theta``'s dtype.

    The same numbers as ``torch.func.vmap(torch.func.grad_and_value(loss))`` to round-off; ValueError for
    a net that :func:`supports` does not cover.
    """
    if not supports(net):
        raise ValueError(f"the fused kernel computes nets with a ReLU at the mid positions of 2-matrix units and "
                         f"width {WIDTH}; {net.label} (d={net.d}) is not one")
    if theta.device.type != "cpu":
        raise ValueError(f"the fused kernel runs on the CPU; theta is on {theta.device}")
    dtype = theta.dtype
    if dtype not in (torch.float64, torch.float32):
        raise ValueError(f"theta must be float64 or float32, got {dtype}")
    W = weights(net, theta.reshape(-1, net.num_params)).contiguous().numpy()
    x = np.ascontiguousarray(X.detach().to("cpu", dtype).numpy())
    y = np.ascontiguousarray(Y.detach().to("cpu", dtype).numpy())
    grad = np.empty(W.shape, np.float64)
    value = np.empty(W.shape[0], np.float64)
    _kernel()(W, x, y, net.shortcut, grad, value)
    return (torch.from_numpy(value).to(dtype),
            flatten(torch.from_numpy(grad)).to(dtype).reshape(theta.shape))


_compiled = None


def _kernel():
    """The compiled kernel (numba is imported, and the kernel compiled or read from its cache, on first use)."""
    global _compiled
    if _compiled is None:
        log.info("fused ReLU kernel: compiling with numba, or reading numba's cache (about 30 s the first time)")
        _compiled = _build()
    return _compiled


def _build():
    import numba
    from numba import njit, prange

    D = WIDTH
    jit = njit(fastmath=True, cache=True, nogil=True)

    @jit
    def product(Wm, src, dst, c, zero):
        """dst[:, :c] = Wm src[:, :c]"""
        for i in range(D):
            for s in range(c):
                acc = zero
                for k in range(D):
                    acc += Wm[i, k] * src[k, s]
                dst[i, s] = acc

    @jit
    def product_relu(Wm, src, dst, c, zero):
        """dst[:, :c] = relu(Wm src[:, :c])"""
        for i in range(D):
            for s in range(c):
                acc = zero
                for k in range(D):
                    acc += Wm[i, k] * src[k, s]
                dst[i, s] = max(acc, zero)

    @jit
    def product_add(Wm, src, base, dst, c):
        """dst[:, :c] = base[:, :c] + Wm src[:, :c]"""
        for i in range(D):
            for s in range(c):
                acc = base[i, s]
                for k in range(D):
                    acc += Wm[i, k] * src[k, s]
                dst[i, s] = acc

    @jit
    def product_t(Wm, src, dst, c, zero):
        """dst[:, :c] = Wmᵀ src[:, :c]"""
        for i in range(D):
            for s in range(c):
                acc = zero
                for k in range(D):
                    acc += Wm[k, i] * src[k, s]
                dst[i, s] = acc

    @jit
    def product_t_add(Wm, src, base, dst, c):
        """dst[:, :c] = base[:, :c] + Wmᵀ src[:, :c]"""
        for i in range(D):
            for s in range(c):
                acc = base[i, s]
                for k in range(D):
                    acc += Wm[k, i] * src[k, s]
                dst[i, s] = acc

    @jit
    def product_t_masked(Wm, src, mask, dst, c, zero):
        """dst[:, :c] = (Wmᵀ src[:, :c]) ⊙ [mask > 0]: the gradient through the ReLU whose output is ``mask``"""
        for i in range(D):
            for s in range(c):
                acc = zero
                for k in range(D):
                    acc += Wm[k, i] * src[k, s]
                dst[i, s] = acc if mask[i, s] > zero else zero

    @jit
    def outer(A, Bm, out, c, zero):
        """out += A[:, :c] Bm[:, :c]ᵀ, in 2 × 5 blocks of ``out`` held in registers (7 loads per 10 products)."""
        for i in range(0, D, 2):
            for j in range(0, D, 5):
                a00 = a01 = a02 = a03 = a04 = a10 = a11 = a12 = a13 = a14 = zero
                for s in range(c):
                    x0, x1 = A[i, s], A[i + 1, s]
                    b0, b1, b2, b3, b4 = Bm[j, s], Bm[j + 1, s], Bm[j + 2, s], Bm[j + 3, s], Bm[j + 4, s]
                    a00 += x0 * b0
                    a01 += x0 * b1
                    a02 += x0 * b2
                    a03 += x0 * b3
                    a04 += x0 * b4
                    a10 += x1 * b0
                    a11 += x1 * b1
                    a12 += x1 * b2
                    a13 += x1 * b3
                    a14 += x1 * b4
                out[i, j] += a00
                out[i, j + 1] += a01
                out[i, j + 2] += a02
                out[i, j + 3] += a03
                out[i, j + 4] += a04
                out[i + 1, j] += a10
                out[i + 1, j + 1] += a11
                out[i + 1, j + 2] += a12
                out[i + 1, j + 3] += a13
                out[i + 1, j + 4] += a14

    @njit(fastmath=True, cache=True, nogil=True, parallel=True)
    def kernel(W, X, Y, shortcut, grad, value):
        B, L = W.shape[0], W.shape[1]
        m = X.shape[1]
        zero = X[0, 0] * 0
        scale = zero + 1.0 / m
        for b in prange(B):
            hs = np.empty((L + 1, D, CHUNK), X.dtype)  # the input of every unit, and the output
            acts = np.empty((L, D, CHUNK), X.dtype)    # relu(W₁ h) of every unit
            G = np.empty((D, CHUNK), X.dtype)
            G2 = np.empty((D, CHUNK), X.dtype)
            tmp = np.empty((D, CHUNK), X.dtype)
            acc = np.zeros((L, 2, D, D), np.float64)
            total = 0.0
            for c0 in range(0, m, CHUNK):
                c = min(CHUNK, m - c0)
                hs[0, :, :c] = X[:, c0:c0 + c]
                for l in range(L):
                    product_relu(W[b, l, 0], hs[l], acts[l], c, zero)
                    if shortcut:
                        product_add(W[b, l, 1], acts[l], hs[l], hs[l + 1], c)
                    else:
                        product(W[b, l, 1], acts[l], hs[l + 1], c, zero)
                for i in range(D):
                    for s in range(c):
                        r = hs[L, i, s] - Y[i, c0 + s]
                        total += np.float64(r) * np.float64(r)
                        G[i, s] = r * scale
                for l in range(L - 1, -1, -1):
                    outer(G, acts[l], acc[l, 1], c, zero)
                    product_t_masked(W[b, l, 1], G, acts[l], tmp, c, zero)
                    outer(tmp, hs[l], acc[l, 0], c, zero)
                    if shortcut:
                        product_t_add(W[b, l, 0], tmp, G, G2, c)
                    else:
                        product_t(W[b, l, 0], tmp, G2, c, zero)
                    G, G2 = G2, G
            grad[b] = acc
            value[b] = 0.5 * total / m

    numba.config.THREADING_LAYER = "workqueue"  # no second OpenMP runtime beside torch's
    return kernel
