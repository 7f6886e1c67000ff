"""The training loss ``L(θ) = 1/(2m) Σ_i ‖f(x_i) − y_i‖²`` as a function of the flat parameters.

For a *linear* network ``f(x) = A(θ) x`` and the loss depends on the data only through its second
moments (the paper's squared loss, rearranged here for speed)::

    L(θ) = ½ tr(A Σxx Aᵀ) − tr(A Σxy) + ½ tr(Σyy),   Σxx = XXᵀ/m, Σxy = XYᵀ/m, Σyy = YYᵀ/m,

so loss, gradient and Hessian cost O(D·d³), independent of the number of samples m. :func:`make_loss`
picks that form for linear nets and the direct sum over samples otherwise; both are pure functions of
θ, ready for ``torch.func``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .models import Net, end_to_end, forward


@dataclass(frozen=True)
class Loss:
    """``loss(theta)`` for network ``net`` on data ``X`` (d × m), ``Y`` (d × m)."""

    net: Net
    X: torch.Tensor
    Y: torch.Tensor
    use_moments: bool

    def __post_init__(self) -> None:
        d = self.net.d
        if self.X.ndim != 2 or self.X.shape[0] != d:
            raise ValueError(f"X must have shape (d={d}, m), got {tuple(self.X.shape)}")
        if self.Y.shape != self.X.shape:
            raise ValueError(f"Y must have the shape of X {tuple(self.X.shape)}, got {tuple(self.Y.shape)}")
        if self.use_moments:
            m = self.X.shape[1]
            object.__setattr__(self, "Sxx", self.X @ self.X.T / m)
            object.__setattr__(self, "Sxy", self.X @ self.Y.T / m)
            object.__setattr__(self, "syy", (self.Y * self.Y).sum() / m)

    @property
    def m(self) -> int:
        return self.X.shape[1]

    def __call__(self, theta: torch.Tensor) -> torch.Tensor:
        if self.use_moments:
            A = end_to_end(self.net, theta)
            return 0.5 * (A @ self.Sxx * A).sum() - (A * self.Sxy.T).sum() + 0.5 * self.syy
        return 0.5 * ((forward(self.net, theta, self.X) - self.Y) ** 2).sum() / self.m

    @property
    def hvp_chunk(self) -> int:
        """How many Hessian-vector products to batch at once (bounds memory to ~1 GB)."""
        per_hvp = 8 * 4 * self.net.d * (self.net.depth + 1) * (self.net.d if self.use_moments else self.m)
        return max(1, min(self.net.num_params, int(1e9 // per_hvp)))


def make_loss(net: Net, X: torch.Tensor, Y: torch.Tensor, moments: bool | None = None) -> Loss:
    """The paper's loss for ``net``; ``moments=None`` uses the second-moment form whenever ``net`` is linear."""
    if moments is None:
        moments = net.linear
    if moments and not net.linear:
        raise ValueError(f"moments=True needs a linear network; {net.label} has activations")
    return Loss(net, X, Y, bool(moments))
