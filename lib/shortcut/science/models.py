"""The paper's networks, written functionally: parameters are one flat vector ``theta``.

Conventions (Section 3, Definitions 1 and 2): width ``d`` everywhere, samples are the *columns* of
``X`` (d × m), and the loss is ``L = 1/(2m) Σ_i ‖f(x_i) − y_i‖²``. ``theta`` is ordered as in the
paper's Definition 5 (Appendix A.2) —
by unit, then by matrix inside the unit, then by column, then by row (column-major ``vec``) — so that
Theorem 2's block formulas can be compared with autograd entry by entry.

Because every function here is a pure function of ``theta``, ``torch.func`` (grad, jvp, vmap)
applies directly: Hessians, Hessian-vector products and many models trained at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

Activation = Callable[[torch.Tensor], torch.Tensor]

ACTIVATIONS: dict[str, Activation] = {
    "id": lambda z: z,
    "relu": torch.relu,
    "tanh": torch.tanh,
    "silu": torch.nn.functional.silu,  # smooth, σ(0) = 0, σ''(0) ≠ 0: exercises every term of Theorem 2
}


def activation(name: str) -> Activation:
    """The element-wise activation called ``name`` (one of ACTIVATIONS)."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; allowed: {', '.join(ACTIVATIONS)}") from None


@dataclass(frozen=True)
class Net:
    """An n-shortcut network of ``L`` units of width ``d`` (Definitions 1 and 2), or its plain twin.

    Each unit has ``n`` d×d matrices on its transformation path and activations at the *pre*
    (before the first matrix), *mid* (between two matrices) and *post* (after the last) positions::

        h_l = h_{l-1} + σ_post(W_{l,n} σ_mid(⋯ σ_mid(W_{l,1} σ_pre(h_{l-1}))))     (shortcut=True)
        h_l =           σ_post(W_{l,n} σ_mid(⋯ σ_mid(W_{l,1} σ_pre(h_{l-1}))))     (shortcut=False)

    With ``shortcut=False`` this is the plain deep network of depth ``D = n·L`` used as the baseline
    (with activations at the positions the n-shortcut network would have them).
    """

    d: int
    n: int
    L: int
    pre: str = "id"
    mid: str = "id"
    post: str = "id"
    shortcut: bool = True

    def __post_init__(self) -> None:
        for name in ("d", "n", "L"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        for pos in ("pre", "mid", "post"):
            activation(getattr(self, pos))

    @property
    def depth(self) -> int:
        """Number of weight layers, D = n·L (the paper's x-axis)."""
        return self.n * self.L

    @property
    def num_params(self) -> int:
        return self.L * self.n * self.d * self.d

    @property
    def linear(self) -> bool:
        return self.pre == self.mid == self.post == "id"

    @property
    def label(self) -> str:
        kind = f"{self.n}-shortcut" if self.shortcut else "plain"
        acts = [f"{pos}={getattr(self, pos)}" for pos in ("pre", "mid", "post") if getattr(self, pos) != "id"]
        return f"{kind} D={self.depth}" + (f" ({', '.join(acts)})" if acts else "")


def shortcut_net(n: int, depth: int, d: int = 10, **acts: str) -> Net:
    """The n-shortcut network with ``depth`` weight layers (depth must be a multiple of n)."""
    if not isinstance(depth, int) or depth < 1:
        raise ValueError(f"depth must be an integer >= 1, got {depth!r}")
    if depth % n:
        raise ValueError(f"depth={depth} is not a multiple of the shortcut length n={n}")
    return Net(d=d, n=n, L=depth // n, **acts)


def plain_net(depth: int, d: int = 10, group: int = 1, **acts: str) -> Net:
    """The plain network with ``depth`` layers; activations placed as in a ``group``-shortcut net."""
    net = shortcut_net(group, depth, d, **acts)
    return Net(d=d, n=net.n, L=net.L, pre=net.pre, mid=net.mid, post=net.post, shortcut=False)


def weights(net: Net, theta: torch.Tensor) -> torch.Tensor:
    """View ``theta`` (..., P) as the weight matrices, shape (..., L, n, d, d) with W[l, j][row, col]."""
    d = net.d
    return theta.reshape(*theta.shape[:-1], net.L, net.n, d, d).transpose(-1, -2)


def _units(net: Net, theta: torch.Tensor) -> list[tuple[torch.Tensor, ...]]:
    """The weight matrices of one network (``theta`` of shape (P,)), unit by unit: [(W_l1, …, W_ln)].

    ``unbind`` rather than indexing ``W[l, j]``: the backward of an index writes into a zero tensor of
    the full parameter size, once per matrix, which made every gradient cost O(depth²); the backward
    of ``unbind`` is one ``stack``.
    """
    return [unit.unbind(0) for unit in weights(net, theta).unbind(0)]


def flatten(W: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`weights`: (..., L, n, d, d) → (..., P) in the paper's parameter order."""
    return W.transpose(-1, -2).reshape(*W.shape[:-4], -1)


def forward(net: Net, theta: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """The network's output ``f(X)`` for inputs ``X`` (d × m, samples as columns)."""
    pre, mid, post = activation(net.pre), activation(net.mid), activation(net.post)
    h = X
    for unit in _units(net, theta):
        z = unit[0] @ pre(h)
        for Wj in unit[1:]:
            z = Wj @ mid(z)
        z = post(z)
        h = h + z if net.shortcut else z
    return h


def end_to_end(net: Net, theta: torch.Tensor) -> torch.Tensor:
    """The matrix ``A`` with ``f(x) = A x`` of a *linear* network (a product of d × d matrices)."""
    if not net.linear:
        raise ValueError(f"end_to_end needs a linear network; {net.label} has activations")
    eye = torch.eye(net.d, dtype=theta.dtype, device=theta.device)
    A = eye
    for unit in _units(net, theta):
        M = unit[0]
        for Wj in unit[1:]:
            M = Wj @ M
        A = (eye + M if net.shortcut else M) @ A
    return A


def avg_frobenius(net: Net, theta: torch.Tensor) -> torch.Tensor:
    """Average Frobenius norm of the weight matrices (Figs 2, 3), batched over leading dims."""
    return torch.linalg.matrix_norm(weights(net, theta)).mean(dim=(-1, -2))


# ---------------------------------------------------------------------------------------------
# Theorem 1's network (Eq. 3): 2-shortcut, ReLU at mid position, a bias in each unit.


def theorem1_forward(W1: torch.Tensor, b: torch.Tensor, W2: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """``h_l = h_{l-1} + W2[l] ReLU(W1[l] h_{l-1} + b[l])`` for l = 1..L; W1 (L, k, d), b (L, k), W2 (L, d, k)."""
    if not (W1.shape[0] == b.shape[0] == W2.shape[0]):
        raise ValueError(f"W1, b, W2 must have the same number of units, got {W1.shape[0]}, {b.shape[0]}, {W2.shape[0]}")
    h = X
    for l in range(W1.shape[0]):
        h = h + W2[l] @ torch.relu(W1[l] @ h + b[l][:, None])
    return h
