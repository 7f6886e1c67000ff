"""Exact Hessians of the training loss and the spectrum summaries the paper plots.

Two exact routes. For the second-moment loss of a *linear* network (``shortcut.science.loss``) the Hessian
is assembled in closed form from Kronecker-structured blocks (``shortcut.science.linear_hessian``), far
cheaper than the eigendecomposition that follows it, which is the floor (P³) of any exact spectrum.
Otherwise it is built column by column as forward-over-reverse Hessian-vector products (``jvp`` of
``grad``), all columns at once with ``vmap`` (in chunks that bound memory).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable

import torch
from torch.func import grad, jvp, vmap

from .linear_hessian import linear_hessian
from .loss import Loss
from .timing import timed

LossFn = Callable[[torch.Tensor], torch.Tensor]


def hvp(loss: LossFn, theta: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """The Hessian-vector product ``H(θ) v`` (forward-over-reverse, exact)."""
    return jvp(grad(loss), (theta,), (v,))[1]


def hessian(loss: LossFn, theta: torch.Tensor, chunk_size: int | None = None, method: str = "auto") -> torch.Tensor:
    """The exact P × P Hessian of ``loss`` at ``theta`` (symmetric; same dtype/device as ``theta``).

    ``method``: ``'auto'`` (the closed form for a linear net's second-moment loss, else ``'hvp'``),
    ``'structured'`` or ``'hvp'``. Use float64 ``theta`` for spectra: condition numbers in the
    thousands lose digits in float32. ``chunk_size`` bounds how many Hessian-vector products run at
    once (default: the loss's ``hvp_chunk`` hint, or all of them).
    """
    with timed("hessian"):
        return _hessian(loss, theta, chunk_size, method)


def _hessian(loss: LossFn, theta: torch.Tensor, chunk_size: int | None, method: str) -> torch.Tensor:
    """The same, untimed (:func:`hessian` counts it as ``hessian``)."""
    if theta.ndim != 1:
        raise ValueError(f"theta must be a flat vector, got shape {tuple(theta.shape)}")
    if method not in ("auto", "structured", "hvp"):
        raise ValueError(f"unknown method {method!r}; allowed: auto, structured, hvp")
    structured = isinstance(loss, Loss) and loss.use_moments
    if method == "structured" and not structured:
        raise ValueError("method='structured' needs the second-moment loss of a linear network (shortcut.loss.make_loss)")
    if structured and method != "hvp":
        return linear_hessian(loss.net, theta, loss.Sxx, loss.Sxy)  # symmetric by construction (to round-off)
    if chunk_size is None:
        chunk_size = getattr(loss, "hvp_chunk", None)
    eye = torch.eye(theta.numel(), dtype=theta.dtype, device=theta.device)
    H = vmap(lambda v: hvp(loss, theta, v), chunk_size=chunk_size)(eye)
    return 0.5 * (H + H.T)


def eigenvalues(H: torch.Tensor) -> torch.Tensor:
    """All eigenvalues of the symmetric ``H``, ascending (``torch.linalg.eigvalsh``)."""
    with timed("eigh"):
        return torch.linalg.eigvalsh(H)


@dataclass(frozen=True)
class Spectrum:
    """The numbers the paper reads off a Hessian spectrum.

    ``cond`` is the paper's condition number max|λ| / P10(|λ|) (the 10th percentile is stable where
    the minimum is not); ``cond_exact`` is max|λ| / min|λ|. ``index`` is the fraction of negative
    eigenvalues, counting only those below ``-rtol·max|λ|`` so that round-off around exact zeros does
    not count; ``n_zero`` counts the eigenvalues with ``|λ| <= rtol·max|λ|``.
    """

    max_abs: float
    min_abs: float
    p10_abs: float
    cond: float
    cond_exact: float
    index: float
    n_zero: int
    size: int

    def as_dict(self) -> dict:
        return asdict(self)


def summarize(eigs: torch.Tensor, rtol: float = 1e-10) -> Spectrum:
    """Summarise one spectrum (a 1-D tensor of eigenvalues)."""
    lam = eigs.detach().to(torch.float64).cpu()
    absl = lam.abs()
    max_abs = float(absl.max())
    tol = rtol * max_abs
    min_abs = float(absl.min())
    p10 = float(torch.quantile(absl, 0.1))
    return Spectrum(
        max_abs=max_abs,
        min_abs=min_abs,
        p10_abs=p10,
        cond=max_abs / p10 if p10 > 0 else float("inf"),
        cond_exact=max_abs / min_abs if min_abs > 0 else float("inf"),
        index=float((lam < -tol).double().mean()),
        n_zero=int((absl <= tol).sum()),
        size=lam.numel(),
    )


def spectrum(loss: LossFn, theta: torch.Tensor, rtol: float = 1e-10) -> Spectrum:
    """Exact Hessian at ``theta``, its eigenvalues, and their :class:`Spectrum` summary."""
    return summarize(eigenvalues(hessian(loss, theta)), rtol=rtol)
