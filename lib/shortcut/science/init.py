"""Initialisations compared in the paper (Section 5 and Appendix B), seeded and reproducible.

Random numbers are drawn on the CPU from a ``torch.Generator`` seeded with ``seed`` and then moved,
so a seed gives the same weights on every device.

Seeds are paired across models: every scheme draws the same standard normal tensor ``G`` from ``seed``,
matrix by matrix in the flat order (unit, then matrix), so the draw depends on the network only through
its number of weight layers ``D = n·L``. At one seed and depth, Xavier is ``√(1/d)·G``, "zero" the same
draw scaled by ``eps`` (a shortcut net's seed-s start is the plain Xavier net's seed-s start times ε, for
every shortcut depth n), MSRA ``√2`` times Xavier and orthogonal the Q factors of ``G``'s matrices. A
comparison of models at a seed is therefore a paired one; nothing averages over that pairing.
"""

from __future__ import annotations

import math
from typing import Iterable

import torch

from .models import Net, flatten

SCHEMES = ("xavier", "orthogonal", "zero", "msra")
DEFAULT_EPS = 1e-4  # ε of the "zero" init: the paper says "a small constant" (Section 5); its value is lost, this one is ours


def _orthogonal(shape: tuple[int, ...], gen: torch.Generator) -> torch.Tensor:
    """Haar-random orthogonal d × d matrices (QR of a Gaussian with the signs of R's diagonal fixed)."""
    G = torch.randn(shape, generator=gen, dtype=torch.float64)
    Q, R = torch.linalg.qr(G)
    return Q * torch.sign(torch.diagonal(R, dim1=-2, dim2=-1)).unsqueeze(-2)


def initialize(
    net: Net,
    scheme: str,
    seed: int = 0,
    eps: float = DEFAULT_EPS,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """A flat parameter vector for ``net``.

    - ``xavier``: Glorot normal, std √(2/(fan_in + fan_out)) = √(1/d);
    - ``orthogonal``: every matrix Haar-random orthogonal (Saxe et al.);
    - ``zero``: Xavier scaled by ``eps`` — a small perturbation of the zero point, so that training
      leaves the saddle at 0 (the paper's "zero initialisation" of shortcut networks);
    - ``msra``: He normal, std √(2/fan_in).
    """
    if scheme not in SCHEMES:
        raise ValueError(f"unknown init {scheme!r}; allowed: {', '.join(SCHEMES)}")
    if not math.isfinite(eps) or eps < 0:
        raise ValueError(f"eps must be a finite number >= 0, got {eps!r}")
    gen = torch.Generator().manual_seed(int(seed))
    shape = (net.L, net.n, net.d, net.d)
    if scheme == "orthogonal":
        W = _orthogonal(shape, gen)
    else:
        std = {"xavier": math.sqrt(1.0 / net.d), "zero": eps * math.sqrt(1.0 / net.d),
               "msra": math.sqrt(2.0 / net.d)}[scheme]
        W = std * torch.randn(shape, generator=gen, dtype=torch.float64)
    return flatten(W).to(dtype=dtype, device=device)


def initialize_many(net: Net, scheme: str, seeds: Iterable[int], **kwargs) -> torch.Tensor:
    """Stack :func:`initialize` over ``seeds`` → (len(seeds), P), for training many models at once."""
    return torch.stack([initialize(net, scheme, seed, **kwargs) for seed in seeds])
