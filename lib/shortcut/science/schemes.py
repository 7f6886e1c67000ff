"""The zero-initialised residual schemes that came after the paper — Fixup (Zhang, Dauphin and Ma 2019),
SkipInit (De and Smith 2020), ReZero (Bachlechner et al. 2020) — as initialisations and
parameterisations of the book's n-shortcut networks (Definitions 1 and 2).

A *gated* unit multiplies its branch by a learnable scalar ``α_l``::

    h_l = h_{l−1} + α_l · F_l(h_{l−1}),    F_l(h) = W_{l,n} σ_mid(⋯ σ_mid(W_{l,1} h))

With ``σ_post = id`` (the paper's linear and ReLU-mid nets) ``α_l F_l`` is the branch with its last
matrix scaled by ``α_l``, so a gated loss is the book's loss of the *folded* weights (:func:`fold`):
the networks, the loss and its second-moment form are reused unchanged, and the gates are parameters
of their own — the Hessian gets ``L`` more rows and columns.

Flat parameters: ``θ = [vec W | α_1 … α_L]``, ``W`` in the paper's order (``shortcut.science.models``);
a scheme without a gate uses ``θ = vec W`` and the book's :class:`~.loss.Loss` as it is.

The schemes (:data:`RESIDUAL_SCHEMES`; weights drawn by ``shortcut.science.init``):

* ``zero`` — the paper's: Xavier × ε, no gate (the reference);
* ``skipinit`` — a gate per unit at 0, He (MSRA) weights, as in De and Smith's residual networks;
* ``rezero`` — a gate per unit at 0, Xavier weights, as in ReZero's fully connected networks;
* ``fixup`` — the last matrix of each branch at 0, the others He × ``L^(−1/(2n−2))`` (``n`` matrices
  per branch, ``L`` branches; a one-matrix branch is only its zero last matrix), and a multiplier per
  unit at 1 (Fixup's third rule). Fixup's scalar biases are left out: the testbed has no biases.

In a network without biases or normalisation SkipInit and ReZero are the same parameterisation; they
differ only in the branch weights' scale (He: ×√2 per matrix).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .init import initialize
from .loss import Loss, make_loss
from .models import Net, avg_frobenius, flatten, forward, weights


@dataclass(frozen=True)
class Scheme:
    """How a scheme starts an n-shortcut network: ``weights`` (an init of ``shortcut.science.init``),
    ``gate`` (the initial value of a learnable scalar per unit; ``None``: no gate) and ``fixup`` (last
    matrix of each branch at 0, the others rescaled by :func:`fixup_scale`)."""

    name: str
    weights: str
    gate: float | None = None
    fixup: bool = False

    @property
    def gated(self) -> bool:
        return self.gate is not None


RESIDUAL_SCHEMES: dict[str, Scheme] = {
    "zero": Scheme("zero", "zero"),
    "skipinit": Scheme("skipinit", "msra", gate=0.0),
    "rezero": Scheme("rezero", "xavier", gate=0.0),
    "fixup": Scheme("fixup", "msra", gate=1.0, fixup=True),
}


def scheme(name: str) -> Scheme:
    """The scheme called ``name`` (one of :data:`RESIDUAL_SCHEMES`)."""
    try:
        return RESIDUAL_SCHEMES[name]
    except KeyError:
        raise ValueError(f"unknown scheme {name!r}; allowed: {', '.join(RESIDUAL_SCHEMES)}") from None


def fixup_scale(L: int, m: int) -> float:
    """Fixup's factor ``L^(−1/(2m−2))`` for the non-last layers of ``L`` branches of ``m`` layers each
    (Zhang et al. 2019, rule 2); a branch of one layer has nothing to rescale."""
    if m < 2:
        raise ValueError(f"Fixup rescales the non-last layers of a branch: needs m >= 2 layers, got {m}")
    return float(L) ** (-1.0 / (2 * m - 2))


def _check_net(net: Net) -> None:
    if not net.shortcut or net.post != "id":
        raise ValueError(f"a gate folds into the last matrix of a shortcut unit with post=id; got {net.label}")


def fold(net: Net, theta: torch.Tensor) -> torch.Tensor:
    """The ungated weights of a gated ``θ = [vec W | α]`` (batched over leading dims): the last matrix
    of unit l times ``α_l``."""
    _check_net(net)
    P = net.num_params
    W, alpha = weights(net, theta[..., :P]), theta[..., P:]
    last = W[..., -1:, :, :] * alpha[..., :, None, None, None]
    return flatten(torch.cat([W[..., :-1, :, :], last], dim=-3))


@dataclass(frozen=True)
class GatedLoss:
    """The paper's loss of a gated network, ``θ = [vec W | α_1 … α_L]`` ↦ ``base(fold(θ))``: a pure
    function of the flat θ, ready for ``torch.func`` and for :func:`~.hessian.hessian` (through
    Hessian-vector products)."""

    base: Loss

    def __post_init__(self) -> None:
        _check_net(self.base.net)

    @property
    def net(self) -> Net:
        return self.base.net

    @property
    def num_params(self) -> int:
        return self.net.num_params + self.net.L

    def __call__(self, theta: torch.Tensor) -> torch.Tensor:
        return self.base(fold(self.net, theta))

    @property
    def hvp_chunk(self) -> int:
        return self.base.hvp_chunk

    def avg_frobenius(self, theta: torch.Tensor) -> torch.Tensor:
        """Average Frobenius norm of the weight matrices (the gates left out), batched."""
        return avg_frobenius(self.net, theta[..., :self.net.num_params])


def scheme_loss(s: Scheme, net: Net, X: torch.Tensor, Y: torch.Tensor) -> Loss | GatedLoss:
    """The loss of ``net`` parameterised as scheme ``s`` does (a gated one for a gated scheme)."""
    base = make_loss(net, X, Y)
    return GatedLoss(base) if s.gated else base


def initial_point(s: Scheme, net: Net, seed: int = 0, eps: float | None = None,
                  dtype: torch.dtype = torch.float64, device=None) -> torch.Tensor:
    """Scheme ``s``'s initial θ for ``net`` (seeded; ``eps`` is the zero scheme's ε)."""
    theta = initialize(net, s.weights, seed=seed, **({} if eps is None else {"eps": eps}))
    if s.fixup:
        W = weights(net, theta).clone()
        if net.n > 1:
            W[:, :-1] *= fixup_scale(net.L, net.n)
        W[:, -1] = 0.0
        theta = flatten(W)
    if s.gated:
        theta = torch.cat([theta, torch.full((net.L,), float(s.gate), dtype=theta.dtype)])
    return theta.to(dtype=dtype, device=device)


def _unit(net: Net, theta: torch.Tensor, l: int, matrices: int, post: str) -> tuple[Net, torch.Tensor]:
    """The first ``matrices`` matrices of unit ``l`` as a one-unit plain net ending in ``post``."""
    size = net.d * net.d
    start = l * net.n * size
    return (Net(d=net.d, n=matrices, L=1, pre=net.pre, mid=net.mid, post=post, shortcut=False),
            theta[start:start + matrices * size])


def branch_outputs(net: Net, theta: torch.Tensor, X: torch.Tensor) -> list[torch.Tensor]:
    """``F_l(X)`` of every unit, each on the input ``X`` itself (what every unit sees at a gated
    scheme's start, where every gate is 0)."""
    return [forward(*_unit(net, theta, l, net.n, net.post), X) for l in range(net.L)]


def relus_active_on_fewer_than(net: Net, theta: torch.Tensor, X: torch.Tensor, k: int) -> int:
    """How many mid-position ReLUs of the units are active (positive) on fewer than ``k`` samples when
    each unit sees ``X`` (as every unit does at a scheme's start, where every branch outputs 0);
    ``k = 1``: the ReLUs dead on the whole data set."""
    if net.mid == "id":
        return 0
    return sum(int(((forward(*_unit(net, theta, l, j, net.mid), X) > 0).sum(dim=1) < k).sum())
               for l in range(net.L) for j in range(1, net.n))


def gradient_at_start(s: Scheme, net: Net, theta: torch.Tensor, X: torch.Tensor, Y: torch.Tensor
                      ) -> torch.Tensor | None:
    """The gradient of the loss at scheme ``s``'s initial point ``theta``, in closed form (``R = X − Y``,
    the residual of the identity map, which every scheme computes at its start):

    * gated, α = 0: ``∂L/∂W = 0`` and ``∂L/∂α_l = ⟨R, F_l(X)⟩/m``;
    * Fixup: ``∂L/∂W_{l,n} = R Z_lᵀ/m`` with ``Z_l`` the input of the last matrix
      (``σ_mid(W_{l,n−1} ⋯ σ_mid(W_{l,1} X))``; ``X`` when n = 1), every other derivative 0;
    * the zero scheme (Xavier × ε) has none: ``None`` (Theorem 2 gives the one at 0).
    """
    if s.fixup:
        m = X.shape[1]
        g = torch.zeros(net.L, net.n, net.d, net.d, dtype=X.dtype, device=X.device)
        for l in range(net.L):
            Z = X if net.n == 1 else forward(*_unit(net, theta, l, net.n - 1, net.mid), X)
            g[l, -1] = (X - Y) @ Z.T / m
        return torch.cat([flatten(g), torch.zeros(net.L, dtype=X.dtype, device=X.device)])
    if s.gated:
        if s.gate != 0:
            raise ValueError(f"the closed form is for gates at 0; scheme {s.name} starts them at {s.gate}")
        m = X.shape[1]
        gates = torch.stack([((X - Y) * F).sum() / m for F in branch_outputs(net, theta, X)])
        return torch.cat([torch.zeros(net.num_params, dtype=X.dtype, device=X.device), gates])
    return None


def predicted_inertia(s: Scheme, net: Net) -> dict[str, int] | None:
    """The numbers of negative and zero eigenvalues of the Hessian at scheme ``s``'s start, where
    the algebra fixes them (``None`` where it does not: the zero scheme, Fixup with n = 1).

    The Hessian there is ``[[A, N], [Nᵀ, 0]]``: one set of parameters (the gates at 0; Fixup's zero
    last matrices) couples to everything, every other pair of parameters has a zero second
    derivative (each term of f that involves them carries a zero factor). When ``N`` has full row
    rank ``r`` the inertia is ``r`` positive, ``r`` negative and ``P − 2r`` zero eigenvalues,
    whatever ``A``:

    * gated at α = 0: ``r = L`` (``N``'s row l is ``∂/∂W_l ⟨R, F_l(X)⟩/m``);
    * Fixup, n ≥ 2: ``r = L d²`` (the bilinear coupling of each zero last matrix with its unit's other
      matrices, e.g. Theorem 2's ``B ≅ C ⊗ I`` for a linear unit of two).

    A ReLU active on fewer than d samples (:func:`relus_active_on_fewer_than`; a dead one included)
    can lower the rank of ``N`` and break the count: its row of the coupling sees fewer than d
    samples of the residual. So can data for which ``C`` is singular.
    """
    size = net.num_params + (net.L if s.gated else 0)
    if s.gated and s.gate == 0:
        r = net.L
    elif s.fixup and net.n >= 2:
        r = net.L * net.d * net.d
    else:
        return None
    return {"negative": r, "zero": size - 2 * r, "size": size}
