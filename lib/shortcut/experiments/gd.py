"""Full-batch gradient descent on many models at once (a learning-rate grid, seeds) with ``vmap``.

Every model in the batch shares the architecture and the data; each has its own parameters and
learning rate. A model whose loss becomes NaN/inf (or exceeds ``diverge_above``) is recorded as
diverged at that epoch and frozen — never a crash — while the others go on.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.func import grad_and_value, vmap
from tqdm.std import tqdm

from ..science import fused
from ..science.hessian import eigenvalues, hessian, summarize
from ..science.loss import Loss
from ..science.models import avg_frobenius
from ..science.timing import timed

log = logging.getLogger(__name__)

HESSIAN_FIELDS = ("max_abs", "p10_abs", "cond", "index", "n_zero")
KERNELS = ("auto", "fused", "autograd")


@dataclass
class History:
    """Per-epoch records of a batch of B runs; epoch 0 is the initial point.

    ``loss``, ``grad_norm``, ``frob`` are (B, E+1) arrays (NaN after divergence); ``diverged_at`` is
    the epoch at which each run diverged (-1 if it did not); ``hessian_epochs`` lists the epochs at
    which the exact Hessian was summarised and ``hessian[name]`` is (B, len(hessian_epochs)).
    """

    lrs: np.ndarray
    loss: np.ndarray
    grad_norm: np.ndarray
    frob: np.ndarray
    diverged_at: np.ndarray
    hessian_epochs: list[int] = field(default_factory=list)
    hessian: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def final_loss(self) -> np.ndarray:
        """Loss after the last epoch (NaN for diverged runs)."""
        return self.loss[:, -1]

    def run(self, b: int) -> dict:
        """Run ``b`` as plain lists and numbers (for a run record)."""
        out = {
            "lr": float(self.lrs[b]),
            "loss": self.loss[b].tolist(),
            "grad_norm": self.grad_norm[b].tolist(),
            "frob": self.frob[b].tolist(),
            "diverged_at": int(self.diverged_at[b]),
        }
        if self.hessian_epochs:
            out["hessian_epochs"] = list(self.hessian_epochs)
            out.update({f"hessian_{k}": v[b].tolist() for k, v in self.hessian.items()})
        return out


def train_gd(
    loss: Loss,
    theta0: torch.Tensor,
    lrs,
    epochs: int,
    hessian_every: int = 0,
    diverge_above: float = 1e8,
    progress: bool = True,
    desc: str = "GD",
    kernel: str = "auto",
) -> History:
    """Train B models by full-batch GD: ``θ ← θ − lr·∇L(θ)`` for ``epochs`` epochs.

    ``loss`` is a :class:`Loss`, or any pure function of θ with the ``net`` it trains and, where θ
    holds more than that net's weights (a gated scheme's gates), an ``avg_frobenius(θ)`` of its own.
    ``theta0`` is (B, P) or (P,) (then broadcast to every learning rate); ``lrs`` has B entries.
    With ``hessian_every = k > 0`` the exact Hessian of every live run is summarised at epochs
    0, k, 2k, … and at the last epoch.

    ``kernel`` computes the loss and gradients: ``autograd`` is ``vmap`` of ``torch.func.grad_and_value``
    (any loss, any device); ``fused`` is :mod:`shortcut.science.fused`, a CPU kernel for float64 nets with
    ReLUs at the mid positions that skips the runs that diverged (4× or more faster; the same numbers to
    round-off); ``auto`` takes ``fused`` wherever it applies.
    """
    if not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"epochs must be an integer >= 0, got {epochs!r}")
    if hessian_every < 0:
        raise ValueError(f"hessian_every must be >= 0, got {hessian_every}")
    lr = torch.as_tensor(np.asarray(lrs, dtype=np.float64), dtype=theta0.dtype, device=theta0.device).reshape(-1)
    if lr.numel() == 0 or not bool(torch.all(lr > 0)):
        raise ValueError(f"lrs must be a non-empty list of positive learning rates, got {lrs!r}")
    theta = theta0.expand(lr.numel(), -1).clone() if theta0.ndim == 1 else theta0.clone()
    if theta.shape[0] != lr.numel():
        raise ValueError(f"theta0 holds {theta.shape[0]} models but lrs has {lr.numel()} rates")
    B = theta.shape[0]
    step = _stepper(loss, theta, kernel)
    frobenius = getattr(loss, "avg_frobenius", None) or (lambda th: avg_frobenius(loss.net, th))
    nan = torch.tensor(float("nan"), dtype=theta.dtype, device=theta.device)
    rec = {k: torch.full((epochs + 1, B), float("nan"), dtype=theta.dtype, device=theta.device)
           for k in ("loss", "grad_norm", "frob")}
    alive_rec = torch.ones(epochs + 1, B, dtype=torch.bool, device=theta.device)
    alive = alive_rec[0].clone()
    h_epochs = sorted({*range(0, epochs + 1, hessian_every), epochs}) if hessian_every else []
    h_rec = {k: np.full((B, len(h_epochs)), np.nan) for k in HESSIAN_FIELDS} if h_epochs else {}

    log.info("%s: %d models, %d parameters each, %d epochs", desc, B, theta.shape[1], epochs)
    # No host synchronisation in the loop (records stay on the device) except for Hessian epochs.
    with timed("gd"):  # the Hessians of the loop count as theirs (shortcut.science.timing)
        for epoch in tqdm(range(epochs + 1), desc=desc, disable=not progress, leave=False):
            g, value = step(theta, alive)
            alive = alive & torch.isfinite(value) & (value <= diverge_above) & torch.isfinite(g).all(dim=1)
            alive_rec[epoch] = alive
            rec["loss"][epoch] = torch.where(alive, value, nan)
            rec["grad_norm"][epoch] = torch.where(alive, g.norm(dim=1), nan)
            rec["frob"][epoch] = torch.where(alive, frobenius(theta), nan)
            if epoch in h_epochs:
                j = h_epochs.index(epoch)
                for b in np.flatnonzero(alive.cpu().numpy()):
                    s = summarize(eigenvalues(hessian(loss, theta[b])))
                    for k in HESSIAN_FIELDS:
                        h_rec[k][b, j] = getattr(s, k)
            if epoch < epochs:
                theta = torch.where(alive[:, None], theta - lr[:, None] * g, theta)
    dead = ~alive_rec.cpu().numpy()
    diverged_at = np.where(dead.any(axis=0), dead.argmax(axis=0), -1)
    if (diverged_at >= 0).any():
        log.info("%s: %d of %d runs diverged", desc, int((diverged_at >= 0).sum()), B)
    rec = {k: v.T.cpu().numpy() for k, v in rec.items()}
    return History(lrs=lr.cpu().numpy(), diverged_at=diverged_at, hessian_epochs=h_epochs, hessian=h_rec, **rec)


def _fusable(loss, theta: torch.Tensor) -> bool:
    return (isinstance(loss, Loss) and not loss.use_moments and fused.supports(loss.net)
            and theta.device.type == "cpu" and theta.dtype == torch.float64)


def _stepper(loss, theta: torch.Tensor, kernel: str):
    """``step(theta, alive) -> (gradients, losses)`` of every run; rows not ``alive`` may be skipped."""
    if kernel not in KERNELS:
        raise ValueError(f"unknown kernel {kernel!r}; allowed: {', '.join(KERNELS)}")
    if kernel == "autograd" or (kernel == "auto" and not _fusable(loss, theta)):
        batched = vmap(grad_and_value(loss))
        return lambda th, alive: batched(th)
    if not _fusable(loss, theta):
        net = getattr(loss, "net", None)
        raise ValueError(f"kernel='fused' needs a float64 Loss on the CPU of a net with ReLUs at the mid positions; "
                         f"got {net.label if net else type(loss).__name__}, {theta.dtype} on {theta.device}")

    def step(th: torch.Tensor, alive: torch.Tensor):
        if bool(alive.all()):
            value, g = fused.value_and_grad(loss.net, th, loss.X, loss.Y)
            return g, value
        live = alive.nonzero().squeeze(1)
        g = torch.zeros_like(th)
        value = torch.full((th.shape[0],), float("nan"), dtype=th.dtype)
        if len(live):
            value[live], g[live] = fused.value_and_grad(loss.net, th[live], loss.X, loss.Y)
        return g, value

    return step


def log_grid(low: float, high: float, num: int) -> list[float]:
    """``num`` learning rates spaced evenly in log between ``low`` and ``high`` (inclusive)."""
    if not (0 < low <= high) or num < 1:
        raise ValueError(f"need 0 < low <= high and num >= 1, got low={low}, high={high}, num={num}")
    if num == 1:
        return [float(low)]
    return [float(x) for x in np.exp(np.linspace(math.log(low), math.log(high), num))]
