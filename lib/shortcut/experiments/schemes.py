"""Sweep jobs for the zero-initialised residual schemes (``shortcut.science.schemes``): the exact
Hessian and the gradient at a scheme's initial point, and full-batch gradient descent from it.

A job is a dict of plain values: ``scheme`` (zero | skipinit | rezero | fixup), ``n`` (matrices per
unit), ``depth`` (weight layers, a multiple of n), ``mid`` ('id' | 'relu'), ``seed``, ``eps`` (the
zero scheme's ε) and the data keys of ``zoo.data_keys``; a training job adds ``lrs``, ``epochs`` and
optionally ``hessian_every``.
"""

from __future__ import annotations

from torch.func import grad

from ..science.hessian import eigenvalues, hessian, summarize
from ..science.models import shortcut_net
from ..science.schemes import (gradient_at_start, initial_point, predicted_inertia, relus_active_on_fewer_than, scheme,
                               scheme_loss)
from .gd import train_gd
from .zoo import load_problem

ZERO_RTOL = 1e-10  # an eigenvalue with |λ| ≤ 1e-10·max|λ| counts as zero (hessian.summarize's rule)


def _setup(job: dict, device: str):
    prob = load_problem(job, device)
    s = scheme(job["scheme"])
    net = shortcut_net(job["n"], job["depth"], d=prob.X.shape[0], mid=job.get("mid", "id"))
    theta = initial_point(s, net, seed=job["seed"], eps=job.get("eps"), device=prob.X.device)
    return prob, s, net, scheme_loss(s, net, prob.X, prob.Y), theta


def initial_job(job: dict, device: str = "auto") -> dict:
    """The exact Hessian's spectrum at a scheme's initial point (max|λ|, P10|λ|, the numbers of
    negative and zero eigenvalues, and those the algebra predicts: ``predicted``, None where it fixes
    none), the gradient there with its distance from the closed form (``grad_gap``, relative; NaN for
    the zero scheme, which has none), and the ReLUs dead on every sample or active on fewer than d."""
    prob, s, net, loss, theta = _setup(job, device)
    lam = eigenvalues(hessian(loss, theta))
    spec = summarize(lam, rtol=ZERO_RTOL)
    g = grad(loss)(theta)
    closed = gradient_at_start(s, net, theta, prob.X, prob.Y)
    gap = float((g - closed).norm() / closed.norm()) if closed is not None else float("nan")
    return {"max_abs": spec.max_abs, "p10_abs": spec.p10_abs, "min_abs": spec.min_abs,
            "n_negative": int((lam < -ZERO_RTOL * spec.max_abs).sum()), "n_zero": spec.n_zero, "size": spec.size,
            "predicted": predicted_inertia(s, net), "grad_norm": float(g.norm()), "grad_gap": gap,
            "dead_relus": relus_active_on_fewer_than(net, theta[:net.num_params], prob.X, 1),
            "thin_relus": relus_active_on_fewer_than(net, theta[:net.num_params], prob.X, net.d), "data": prob.source}


def gd_job(job: dict, device: str = "auto") -> dict:
    """Full-batch GD from a scheme's initial point at every rate of ``job['lrs']`` at once (the
    Hessian every ``hessian_every`` epochs where asked), as ``zoo.gd_job`` does for the paper's models."""
    prob, s, net, loss, theta = _setup(job, device)
    hist = train_gd(loss, theta, list(job["lrs"]), job["epochs"], hessian_every=job.get("hessian_every", 0),
                    progress=False, desc=f"{job['scheme']} n={job['n']} D={job['depth']}")
    return {"runs": [hist.run(b) for b in range(len(job["lrs"]))], "optimum": prob.optimum,
            "num_params": int(theta.numel()), "data": prob.source}


def cond(max_abs: float, p10_abs: float) -> float:
    """The paper's condition number max|λ| / P10|λ|, infinite when P10|λ| is zero (≤ ZERO_RTOL·max)."""
    return max_abs / p10_abs if p10_abs > ZERO_RTOL * max_abs else float("inf")

