"""Theorem 2 of the paper, checked part by part against autograd (Section 4.2, Theorem 2; its proof and
the Hessian's structure in Appendix A.2, Eqs. 8 and 10, Fig. 11).

The closed forms of :mod:`shortcut.science.theorem2` are compared with the exact Hessian and gradient
that :mod:`shortcut.science.hessian` gets by automatic differentiation, at ``W = 0`` on whitened images:

- :func:`entries` — closed form against autograd, entry by entry, for every shortcut depth ``n`` with
  no activation and with each smooth activation at each position in turn (tanh, whose σ''(0) = 0, and
  silu, whose σ''(0) = 1/2 exercises the one term of the Hessian at 0 that σ''(0) enters);
- :func:`spectra_n2` — for ``n = 2``, the autograd eigenvalues against ``±σ_k(C)`` and their
  multiplicities ``d·L``, and ``cond(H)`` at each number of units ``L``;
- :func:`conditioning` — ``cond(H) = max|λ|/min|λ|`` against ``L`` for ``n = 1, 2, 3``;
- :func:`orders` — part 1 at its own order: for ``n ≥ 2``, the loss's directional derivatives at 0 of
  order 1 … n along random directions (nested ``jvp``), against Theorem 2's Taylor term ``n!·T(v)``
  (:func:`shortcut.science.theorem2.leading_term`): the Hessian alone tests stationarity to order 2;
- :func:`relu` — ReLU at the mid position, where Assumption 3 fails: the exact zero point and the
  ε-perturbed point the "zero" initialisation starts from, against the paper's convention σ'(0) = 1/2
  (a Result of its own: the chapter's statements about it, checked; the theorem does not cover it).

:func:`run` returns one :class:`Result` per part of the theorem (the status table's rows), keyed
``n3`` (``n ≥ 3``), ``order`` (``n ≥ 2``, to order n), ``n2`` and ``n1``. ``activation`` is one name or a
list of names.
"""

from __future__ import annotations

import math
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from torch.func import vmap

from ..experiments import zoo
from ..science import theorem2
from ..science.hessian import eigenvalues, hessian, summarize
from ..science.init import initialize
from ..science.loss import make_loss
from ..science.models import Net, weights
from . import plots
from .analysis import spread
from .checks import Check, check
from .result import Result

EXACT_ZERO = 0.0            # "the Hessian is the zero matrix": every term is a product of zero matrices, no round-off
HESSIAN_TOLERANCE = 1e-10   # "closed form = autograd": largest entry difference that is float64 round-off
GRADIENT_TOLERANCE = 1e-12  # "the gradient is R Xᵀ/m per unit": the same, for the gradient's entries
EIGEN_TOLERANCE = 1e-9      # "eigenvalues ±σ_k(C)": largest distance of an autograd eigenvalue from its prediction
MULTIPLICITY_RTOL = 1e-9    # an eigenvalue within this fraction of σ_max(C) of ±σ_k counts towards its multiplicity
FLAT = 1e-8                 # "cond(H) independent of the depth": relative spread of cond over L that is round-off
GROWTH = 2.0                # "grows without bound with L": at least doubled over the units checked, and monotone
CURVED = 1e3 * HESSIAN_TOLERANCE  # σ''(0)'s term "exercised": 1000× the tolerance, so leaving it out fails the check
RELU_CLOSE = 0.2            # ReLU, "close to σ_max(C)/2": within 20 %; the other one-sided slope gives σ_max(C), +100 %
RELU_FLAT = GROWTH          # ReLU, "no growth with depth": cond (P10) moves by less than n = 1's "grows" factor
STRUCTURE_UNITS = 3         # units drawn in the Hessian's picture (Fig. 11)
# Part 1 at its own order. Directions have N(0, 1) entries; σₙ = n!·leading_term_rms is the root mean square
# of the n-th derivative over them (derived in shortcut.science.theorem2), the scale every ratio below uses.
ORDER_TOLERANCE = 1e-10     # "vanishes" (orders < n) and "= n!·T(v)" (order n): |error| / σₙ that is float64 round-off
ORDER_NONZERO = 1e3 * ORDER_TOLERANCE  # "the n-th does not vanish": |DⁿL| ≥ 1e-7·σₙ — 1000× the tolerance, so that a
                                       # zero n-th derivative (or closed form) fails by far; a N(0, 1) direction falls
                                       # below it with probability ~4e-5 even for one product of 4 Gaussians (Monte Carlo)
ORDER_DIRECTIONS = 3        # random directions per network (nested jvp costs ~2ⁿ losses per order)
ORDER_SAMPLES = 100         # images used: the identity holds on any data, and the cost grows with m
ORDER_SEED = 0              # seed of the directions

CLAIMS = {
    "n3": ("Theorem 2 (n ≥ 3)", "Zero is a high-order stationary point: zero gradient and zero Hessian."),
    "order": ("Theorem 2 (n ≥ 2)", "Zero is an (n−1)-th order stationary point: along every direction the first "
              "n − 1 derivatives of the loss vanish, and (ours) the n-th, n!·Σ_l tr(V_{l,n}⋯V_{l,1} Cₙ), does not."),
    "n2": ("Theorem 2 (n = 2)", "The Hessian at zero is I_L ⊗ [[0, Bᵀ], [B, 0]] with eigenvalues ±σ(C), each d·L "
           "times, so its condition number does not depend on depth."),
    "n1": ("Theorem 2 (n = 1)", "The Hessian at zero is block Toeplitz and its condition number grows with depth."),
    "relu": ("Theorem 2 with ReLU at the ε-point (ours)",
             "With ReLU, the ε-point's max|λ| is close to σ_max(C)/2 and cond does not grow with depth; for "
             "2-shortcut nets with ReLU at the mid position, which Theorem 2 does not cover (Assumption 3 fails), "
             "at the ε-perturbed point the zero initialisation starts from, against the paper's convention "
             "σ'(0) = 1/2."),
}

TABLE_FORMAT = {"max |H|": "{:.2e}", "max |H − closed form|": "{:.2e}", "max |∇L|": "{:.2e}", "max |σ''(0) term|": "{:.2e}",
                "max|λ| / (σmax(C)/2)": "{:.3f}",
                "max σmax(C_j), active halves": "{:.4g}",
                "max |∇L − closed form|": "{:.2e}", "max |λ − (±σ(C))|": "{:.1e}", "cond(H)": "{:.6g}",
                "σmax(C)/σmin(C)": "{:.6g}", "max |H| at exactly 0 (autograd)": "{:.4g}", "max|λ| at ε-point": "{:.4g}",
                "σmax(C)/2 (paper's convention)": "{:.4g}", "P10|λ| at ε-point": "{:.4g}",
                "cond (P10) at ε-point": "{:.4g}", "cond (P10), paper's convention": "{:.4g}",
                "σₙ (rms of DⁿL)": "{:.3e}", "max |DᵏL| / σₙ, k = 1 … n − 1": "{:.1e}", "min |DⁿL| / σₙ": "{:.3f}",
                "max |DⁿL − n!·T(v)| / σₙ": "{:.1e}"}


def data(P):
    """``P.n_samples`` whitened images of ``P.dataset`` (from ``P.data_dir``) on ``P.device``: a
    ``shortcut.science.data.Problem`` (X, Y as (d, m) columns; ``source`` says which data)."""
    return zoo.load_problem(zoo.data_keys(P, P.n_samples), device=str(getattr(P, "device", None) or "auto"))


def names(activation) -> list[str]:
    """``activation`` (one name or a list of names) as a list."""
    return [activation] if isinstance(activation, str) else list(activation)


def positions(activation) -> dict[str, dict[str, str]]:
    """No activation, then each of ``activation`` (a name or a list) at the pre, mid and post positions
    in turn (Definition 2)."""
    out: dict[str, dict[str, str]] = {"linear": {}}
    for a in names(activation):
        out.update({f"{a} pre": {"pre": a}, f"{a} mid": {"mid": a}, f"{a} post": {"post": a}})
    return out


def _zero(net: Net, X: torch.Tensor) -> torch.Tensor:
    return torch.zeros(net.num_params, dtype=X.dtype, device=X.device)


def entries(X, Y, ns, units: int, activation) -> pd.DataFrame:
    """Autograd against the closed form at 0, one row per (n, activation position): the largest
    |entry| of the Hessian and the gradient and of their differences from Theorem 2's formulas, and
    the largest entry of the term σ''(0) adds (:func:`shortcut.science.theorem2.curvature_block`)."""
    rows = []
    for n in ns:
        for label, acts in positions(activation).items():
            if n == 1 and "mid" in acts:
                continue  # a 1-shortcut unit has no mid position
            net = Net(d=X.shape[0], n=n, L=units, **acts)
            loss, zero = make_loss(net, X, Y), _zero(net, X)
            H, Hc = hessian(loss, zero), theorem2.hessian_at_zero(net, X, Y)
            g, gc = torch.func.grad(loss)(zero), theorem2.gradient_at_zero(net, X, Y)
            rows.append({"n": n, "activations": label, "P": net.num_params, "max |H|": float(H.abs().max()),
                         "max |H − closed form|": float((H - Hc).abs().max()), "max |∇L|": float(g.abs().max()),
                         "max |∇L − closed form|": float((g - gc).abs().max()),
                         "max |σ''(0) term|": float(theorem2.curvature_block(net, X, Y).abs().max())})
    return pd.DataFrame(rows)


def spectra_n2(X, Y, cond_units, activation) -> pd.DataFrame:
    """n = 2: the autograd Hessian's eigenvalues at 0 against ``±σ_k(C)``, one row per (activation, L):
    the largest error, the smallest and largest multiplicity of the ``±σ_k`` (Theorem 2: ``d·L`` each),
    cond(H) and σ_max(C)/σ_min(C)."""
    d, rows = X.shape[0], []
    for label, acts in positions(activation).items():
        for L in cond_units:
            net = Net(d=d, n=2, L=L, **acts)
            lam = eigenvalues(hessian(make_loss(net, X, Y), _zero(net, X)))
            s = torch.linalg.svdvals(theorem2.C_matrix(net, X, Y))
            tol = MULTIPLICITY_RTOL * float(s.max())
            mult = [int((lam - v).abs().le(tol).sum()) for v in torch.cat([s, -s])]
            rows.append({"activations": label, "L": L,
                         "max |λ − (±σ(C))|": float((lam - theorem2.predicted_eigenvalues_n2(net, X, Y)).abs().max()),
                         "min multiplicity": min(mult), "max multiplicity": max(mult), "d·L": d * L,
                         "cond(H)": float(lam.abs().max() / lam.abs().min()),
                         "σmax(C)/σmin(C)": float(s.max() / s.min())})
    return pd.DataFrame(rows)


def conditioning(X, Y, cond_units, activation, ns=(1, 2, 3)) -> pd.DataFrame:
    """cond(H) = max|λ|/min|λ| of the closed-form Hessian at 0 against L, for each n, linear and with
    each of ``activation`` at the pre position; NaN where the Hessian is zero (n ≥ 3). Tidy: n, activations, L, cond."""
    rows = []
    for n in ns:
        for label in ["linear"] + [f"{a} pre" for a in names(activation)]:
            for L in cond_units:
                net = Net(d=X.shape[0], n=n, L=L, **positions(activation)[label])
                lam = eigenvalues(theorem2.hessian_at_zero(net, X, Y))
                cond = float(lam.abs().max() / lam.abs().min()) if lam.abs().max() > 0 else float("nan")
                rows.append({"n": n, "activations": label, "L": L, "cond": cond})
    return pd.DataFrame(rows)


def _relative(x: float, scale: float) -> float:
    """``x / scale``, with 0/0 = 0 and x/0 = inf (a scale of 0 means the exact value is 0)."""
    return x / scale if scale > 0 else (0.0 if x == 0 else math.inf)


ORDER_COLUMNS = ["n", "activations", "P", "directions", "σₙ (rms of DⁿL)", "max |DᵏL| / σₙ, k = 1 … n − 1", "min |DⁿL| / σₙ",
                 "max |DⁿL − n!·T(v)| / σₙ"]


def orders(X, Y, ns, units: int, activation, directions: int = ORDER_DIRECTIONS, seed: int = ORDER_SEED) -> pd.DataFrame:
    """Part 1 at its own order: one row per (n ≥ 2 in ``ns``, activation position), ``units`` units, on
    the data given. Along ``directions`` random directions v (N(0, 1) entries, seeded), the loss's
    directional derivatives at 0, ``DᵏL = dᵏ/dtᵏ L(tv)`` for k = 1 … n
    (:func:`shortcut.science.theorem2.directional_derivatives`), against Theorem 2's Taylor term
    ``n!·T(v)`` (:func:`shortcut.science.theorem2.leading_term`), all relative to σₙ, the rms of the
    n-th derivative over such directions (``n!·leading_term_rms``): the largest lower-order derivative,
    the smallest n-th and the largest difference from the closed form."""
    rows = []
    for n in (n for n in ns if n >= 2):
        for label, acts in positions(activation).items():
            net = Net(d=X.shape[0], n=n, L=units, **acts)
            loss, zero = make_loss(net, X, Y), _zero(net, X)
            scale = math.factorial(n) * theorem2.leading_term_rms(net, X, Y)
            V = torch.randn(directions, net.num_params, generator=torch.Generator().manual_seed(seed),
                            dtype=torch.float64).to(dtype=X.dtype, device=X.device)
            D = vmap(lambda v: theorem2.directional_derivatives(loss, zero, v, n))(V)[:, 1:]  # orders 1 … n
            T = math.factorial(n) * theorem2.leading_term(net, X, Y, V)
            lower = float(D[:, :-1].abs().max())
            nth, err = float(D[:, -1].abs().min()), float((D[:, -1] - T).abs().max())
            rows.append({"n": n, "activations": label, "P": net.num_params, "directions": directions,
                         "σₙ (rms of DⁿL)": scale, "max |DᵏL| / σₙ, k = 1 … n − 1": _relative(lower, scale),
                         "min |DⁿL| / σₙ": _relative(nth, scale), "max |DⁿL − n!·T(v)| / σₙ": _relative(err, scale)})
    return pd.DataFrame(rows, columns=ORDER_COLUMNS)


def checks_orders(table: pd.DataFrame) -> list[Check]:
    """Part 1 at its own order, over every row of :func:`orders`: derivatives of order 1 … n − 1 vanish
    and the n-th equals n!·T(v), both to ORDER_TOLERANCE·σₙ; and (ours) the n-th does not vanish, at
    least ORDER_NONZERO·σₙ along every direction with σₙ > 0 (σₙ = 0 means Cₙ = 0: the n-th vanishes
    along every direction). Undecidable without an n ≥ 2 network."""
    names = ("derivatives of order 1 … n − 1 at 0 vanish along every direction",
             "the n-th is Theorem 2's term n!·T(v)",
             "the n-th does not vanish (ours)")
    thresholds = ((f"≤ {ORDER_TOLERANCE:g}·σₙ", "float64 round-off with room; σₙ = n!·√(L·dⁿ⁻¹)·‖Cₙ‖_F is the rms of the "
                   "n-th derivative over N(0, 1) directions (derived)"),
                  (f"|DⁿL − n!·T(v)| ≤ {ORDER_TOLERANCE:g}·σₙ", "float64 round-off with room"),
                  (f"|DⁿL| ≥ {ORDER_NONZERO:g}·σₙ along every direction, σₙ > 0",
                   "1000× the tolerance, so a zero n-th derivative fails by far; a N(0, 1) direction falls below it "
                   "with probability ~4e-5 even for a single product of four Gaussians (Monte Carlo)"))
    if table.empty:
        return [check(name, None, reason=_no_rows("n ≥ 2"), threshold=t, threshold_reason=why)
                for name, (t, why) in zip(names, thresholds)]
    lower = float(table["max |DᵏL| / σₙ, k = 1 … n − 1"].max())
    err = float(table["max |DⁿL − n!·T(v)| / σₙ"].max())
    nth, smallest = table["min |DⁿL| / σₙ"], float(table["σₙ (rms of DⁿL)"].min())
    where = f"n = {', '.join(str(n) for n in sorted(table.n.unique()))}, {int(table.directions.sum())} directions"
    found = [(lower <= ORDER_TOLERANCE, f"max {lower:.1e}·σₙ; {where}"), (err <= ORDER_TOLERANCE, f"max {err:.1e}·σₙ"),
             (smallest > 0 and nth.min() >= ORDER_NONZERO, f"min {nth.min():.3g}·σₙ, smallest σₙ {smallest:.3g}")]
    return [check(name, bool(ok), detail, threshold=t, threshold_reason=why)
            for name, (ok, detail), (t, why) in zip(names, found, thresholds)]


def active_halves(net: Net, theta: torch.Tensor, X, Y) -> float:
    """The largest σ_max(C_j) over the hidden ReLUs j of a 2-shortcut net with ReLU at the mid position,
    where ``C_j = (1/m) Σ_{i: ReLU j on at x_i} h_i r_iᵀ`` (``h_i`` the unit's input, ``r_i = x_i − y_i``):
    near 0, ReLU j's row of W_{l,1} and column of W_{l,2} are coupled by C_j, not by C/2."""
    h, R, best = X, X - Y, 0.0
    for W1, W2 in weights(net, theta).unbind(0):
        z = W1 @ h
        for on in (z > 0).to(X.dtype):
            best = max(best, float(torch.linalg.svdvals((h * on) @ R.T / X.shape[1]).max()))
        h = h + W2 @ torch.relu(z)
    return best


def relu_table(X, Y, cond_units, eps: float) -> pd.DataFrame:
    """ReLU at the mid position of 2-shortcut nets, one row per L in ``cond_units``: the autograd Hessian
    at exactly 0, its spectrum at the ε-perturbed point (zero initialisation at scale ``eps``), the
    paper's convention σ'(0) = 1/2, and the largest σ_max(C_j) of the active halves (:func:`active_halves`)."""
    rows = []
    for L in cond_units:
        net = Net(d=X.shape[0], n=2, L=L, mid="relu")
        loss = make_loss(net, X, Y)
        theta = initialize(net, "zero", seed=0, eps=eps, device=X.device)
        spec = summarize(eigenvalues(hessian(loss, theta)))
        paper = summarize(theorem2.predicted_eigenvalues_n2(net, X, Y, relu_convention="paper"))
        rows.append({"L": L, "max |H| at exactly 0 (autograd)": float(hessian(loss, _zero(net, X)).abs().max()),
                     "max|λ| at ε-point": spec.max_abs, "σmax(C)/2 (paper's convention)": paper.max_abs,
                     "max|λ| / (σmax(C)/2)": spec.max_abs / paper.max_abs,
                     "max σmax(C_j), active halves": active_halves(net, theta, X, Y),
                     "P10|λ| at ε-point": spec.p10_abs, "cond (P10) at ε-point": spec.cond,
                     "cond (P10), paper's convention": paper.cond})
    return pd.DataFrame(rows)


def checks_relu(table: pd.DataFrame) -> list[Check]:
    """The chapter's statements on ReLU: autograd's Hessian at exactly 0 is zero (relu'(0) = 0); at the
    ε-point the largest eigenvalue is within RELU_CLOSE of σ_max(C)/2 at every L; cond (P10) there moves
    by less than the factor RELU_FLAT over L (undecidable at one L)."""
    at_zero = float(table["max |H| at exactly 0 (autograd)"].abs().max())
    ratio = table["max|λ| / (σmax(C)/2)"].to_numpy(dtype=float)
    off = float(np.max(np.abs(ratio - 1.0)))
    name = f"cond (P10) at the ε-point moves by less than ×{RELU_FLAT:g} over L"
    if table["L"].nunique() < 2:
        flat = check(name, None, reason="one number of units L: nothing to compare")
    else:
        moved = spread(table["cond (P10) at ε-point"])
        flat = check(name, bool(moved < RELU_FLAT), f"×{moved:.3g} from L = {table['L'].min()} to {table['L'].max()}")
    return [check("autograd at exactly 0: H = 0 (relu'(0) = 0)", at_zero == EXACT_ZERO, f"max |H| {at_zero:.1e}"),
            check(f"max|λ| at the ε-point within {RELU_CLOSE:.0%} of σ_max(C)/2", bool(off < RELU_CLOSE),
                  f"max|λ| / (σ_max(C)/2) from {ratio.min():.3f} to {ratio.max():.3f}"),
            flat]


def relu(P, prob=None) -> Result:
    """ReLU at the mid position of 2-shortcut nets at ``P.cond_units`` units and ε = ``P.relu_eps``
    (:func:`relu_table`, :func:`checks_relu`): a Result with the table and the numbers the prose quotes."""
    prob = data(P) if prob is None else prob
    table = relu_table(prob.X, prob.Y, P.cond_units, P.relu_eps)
    ratio = table["max|λ| / (σmax(C)/2)"]
    numbers = {"cond_spread": f"{spread(table['cond (P10) at ε-point']):.3g}", "eps": f"{P.relu_eps:g}",
               "ratio_min": f"{ratio.min():.3f}", "ratio_max": f"{ratio.max():.3f}", "data": prob.source,
               "halves_gap": f"{(table['max σmax(C_j), active halves'] / table['max|λ| at ε-point'] - 1).abs().max():.1e}"}
    return Result(label=CLAIMS["relu"][0], claim=CLAIMS["relu"][1], checks=checks_relu(table), table=table,
                  scale={"data": prob.source, "samples": prob.m, "units L": list(P.cond_units), "ε": P.relu_eps,
                         "position": "mid"},
                  numbers=numbers)


def draw_structure(X, Y, units: int = STRUCTURE_UNITS):
    """The closed-form Hessian at 0 of a 2-shortcut and a 1-shortcut net side by side (Fig. 11)."""
    d = X.shape[0]
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.4))
    for ax, n in zip(axes, (2, 1)):
        net = Net(d=d, n=n, L=units)
        Hc = theorem2.hessian_at_zero(net, X, Y).cpu().numpy()
        lim = np.abs(Hc).max()
        ax.imshow(Hc, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
        for k in range(1, units):
            ax.axhline(k * n * d * d - 0.5, color="k", lw=0.6)
            ax.axvline(k * n * d * d - 0.5, color="k", lw=0.6)
        ax.set(title=f"{n}-shortcut, L = {units} units (P = {net.num_params})", xticks=[], yticks=[])
    plt.close(fig)
    return fig


def draw_conditioning(curves: pd.DataFrame, note: str = ""):
    """cond(H) at 0 against the number of units (log-log), n = 1 and 2; n ≥ 3 (H = 0) is not plotted."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    styles = dict(zip(curves["activations"].unique(), ["-", "--", ":", "-."] * 4))
    for (n, label), g in curves[curves.n < 3].groupby(["n", "activations"], sort=False):
        ax.plot(g["L"], g["cond"], marker="o", ls=styles[label],
                color=plots.color(f"{n}-shortcut"), label=f"{n}-shortcut, {label}")
    return plots.finish_loglog(fig, ax, note, xticks=sorted(curves["L"].unique()), xlabel="units L",
                               ylabel=r"$\max|\lambda| / \min|\lambda|$ at $W = 0$",
                               title="Condition number of the Hessian at zero")


def _worst(table: pd.DataFrame, column: str, rows) -> float:
    return float(table.loc[rows, column].max()) if rows.any() else float("nan")


def _no_rows(what: str) -> str:
    return f"no {what} network among the shortcut depths checked (ns)"


def checks_n3(entries: pd.DataFrame) -> list[Check]:
    """Part 1: zero Hessian for every n ≥ 3, zero gradient for every n ≥ 2 (exactly: no round-off enters)."""
    out = []
    for name, column, rows, what in (
            ("Hessian = 0 for every n ≥ 3 network checked", "max |H|", entries.n >= 3, "n ≥ 3"),
            ("gradient = 0 for every n ≥ 2 network checked", "max |∇L|", entries.n >= 2, "n ≥ 2")):
        worst = _worst(entries, column, rows)
        out.append(check(name, None, reason=_no_rows(what)) if np.isnan(worst) else check(name, worst == EXACT_ZERO))
    return out


def _closed_form(entries: pd.DataFrame, n: int) -> Check:
    worst = _worst(entries, "max |H − closed form|", entries.n == n)
    if np.isnan(worst):
        return check("closed form = autograd", None, reason=_no_rows(f"n = {n}"))
    return check("closed form = autograd", worst < HESSIAN_TOLERANCE, f"max error {worst:.1e}")


def cond_spread(spectra: pd.DataFrame) -> float:
    """The largest relative spread of cond(H) over L, among the activation positions (0: flat)."""
    return max(spread(g["cond(H)"]) for _, g in spectra.groupby("activations")) - 1


def checks_n2(entries: pd.DataFrame, spectra: pd.DataFrame) -> list[Check]:
    """Part 2: the closed form, the eigenvalues ±σ(C) with multiplicity d·L, cond(H) flat in L."""
    eig_err = float(spectra["max |λ − (±σ(C))|"].max())
    dL = spectra["d·L"]
    mult_ok = bool(((spectra["min multiplicity"] == dL) & (spectra["max multiplicity"] == dL)).all())
    name = "cond independent of L"
    if spectra["L"].nunique() < 2:
        flat = check(name, None, reason="one number of units L: nothing to compare")
    else:
        rel = cond_spread(spectra)
        flat = check(name, bool(rel < FLAT), f"relative spread {rel:.1e}")
    return [_closed_form(entries, 2),
            check("eigenvalues ±σ(C)", bool(eig_err < EIGEN_TOLERANCE), f"max error {eig_err:.1e}"),
            check("each with multiplicity d·L", mult_ok), flat]


def one_shortcut_growth(curves: pd.DataFrame) -> tuple[float, bool]:
    """(cond at the largest L / cond at the smallest, whether it rises at every step) for the linear 1-shortcut net."""
    vals = curves[(curves.n == 1) & (curves.activations == "linear")].sort_values("L")["cond"].to_numpy()
    return float(vals[-1] / vals[0]), bool(np.all(vals[1:] > vals[:-1]))


def check_curvature(entries: pd.DataFrame) -> Check:
    """Part 3 with σ''(0) ≠ 0: where the term it adds (a 1-shortcut unit's curved post activation) is at
    least CURVED, the closed form matches autograd to HESSIAN_TOLERANCE; undecidable where no net has one."""
    name = "σ''(0) term (curved post activation) = autograd"
    rows = (entries.n == 1) & (entries["max |σ''(0) term|"] > CURVED)
    if not rows.any():
        return check(name, None, reason="no 1-shortcut net with a post activation whose σ''(0) ≠ 0 (e.g. silu): "
                     "the term is not exercised")
    worst, term = _worst(entries, "max |H − closed form|", rows), _worst(entries, "max |σ''(0) term|", rows)
    return check(name, worst < HESSIAN_TOLERANCE, f"term up to {term:.2e}, max error {worst:.1e}")


def checks_n1(entries: pd.DataFrame, curves: pd.DataFrame) -> list[Check]:
    """Part 3: the closed form (with σ''(0)'s term), cond(H) growing with L, the gradient R Xᵀ/m per unit."""
    units = sorted(curves["L"].unique())
    name = "cond grows with L"
    if len(units) < 2 or not (curves.n == 1).any():
        grows = check(name, None, reason="needs a 1-shortcut net at two numbers of units L or more")
    else:
        growth, monotone = one_shortcut_growth(curves)
        grows = check(name, monotone and growth > GROWTH,
                      f"×{growth:.3g} from {units[0]} to {units[-1]} units, monotone: {monotone}")
    worst_g = _worst(entries, "max |∇L − closed form|", entries.n == 1)
    gname = "gradient at 0 is R Xᵀ/m per unit"
    gradient = (check(gname, None, reason=_no_rows("n = 1")) if np.isnan(worst_g)
                else check(gname, bool(worst_g < GRADIENT_TOLERANCE)))
    return [_closed_form(entries, 1), check_curvature(entries), grows, gradient]


def styled(table: pd.DataFrame):
    """A table of this module as the chapter shows it."""
    return table.style.format({k: v for k, v in TABLE_FORMAT.items() if k in table}).hide(axis="index")


def run(P) -> dict[str, Result]:
    """Every check of Theorem 2 at the chapter's parameters (``n_samples``, ``check_units``, ``cond_units``,
    ``ns``, ``activation`` (a name or a list), ``dataset``, ``data_dir``, ``device``): one Result per part,
    keyed n3, order, n2, n1.

    n3's table is the entry-by-entry comparison (every n); order's the directional derivatives to order n
    (:func:`orders`, on the first ORDER_SAMPLES images, ``check_units`` units); n2's the spectra and its
    figure the Hessian's structure (Fig. 11), n1's the condition numbers against L and their figure."""
    prob = data(P)
    X, Y = prob.X, prob.Y
    table, spectra = entries(X, Y, P.ns, P.check_units, P.activation), spectra_n2(X, Y, P.cond_units, P.activation)
    curves = conditioning(X, Y, P.cond_units, P.activation)
    m_order = min(ORDER_SAMPLES, prob.m)
    derivs = orders(X[:, :m_order], Y[:, :m_order], P.ns, P.check_units, P.activation)
    scale = {"data": prob.source, "samples": prob.m, "units checked": P.check_units, "cond at L": list(P.cond_units),
             "activations": list(positions(P.activation))}
    growth, _ = one_shortcut_growth(curves)
    term = "max |σ''(0) term|"
    curved = table[(table.n == 1) & (table[term] > CURVED)]  # the rows where σ''(0) enters (NaN numbers if none)
    numbers: dict[str, dict[str, Any]] = {
        "n3": {"data": prob.source, "check_units": P.check_units,
               "worst_H": f"{table['max |H − closed form|'].max():.1e}",
               "worst_g": f"{table['max |∇L − closed form|'].max():.1e}"},
        "order": {"ns": ", ".join(str(n) for n in sorted(derivs.n.unique())) if len(derivs) else "none",
                  "directions": ORDER_DIRECTIONS, "samples": m_order, "units": P.check_units,
                  "lower": f"{derivs['max |DᵏL| / σₙ, k = 1 … n − 1'].max():.1e}",
                  "nth_min": f"{derivs['min |DⁿL| / σₙ'].min():.3g}",
                  "err": f"{derivs['max |DⁿL − n!·T(v)| / σₙ'].max():.1e}"},
        "n2": {"eig_err": f"{spectra['max |λ − (±σ(C))|'].max():.1e}", "cond_spread": f"{cond_spread(spectra):.1e}"},
        "n1": {"growth": f"{growth:.3g}", "Lmax": max(P.cond_units), "curv": f"{curved[term].max():.2e}",
               "curv_err": f"{curved['max |H − closed form|'].max():.1e}"}}
    parts = {"n3": (checks_n3(table), table, None),
             "order": (checks_orders(derivs), derivs, None),
             "n2": (checks_n2(table, spectra), spectra, draw_structure(X, Y)),
             "n1": (checks_n1(table, curves), curves,
                    draw_conditioning(curves, f"{prob.source}; 3-shortcut: H = 0 at every L (not plotted)"))}
    scales = {**{key: scale for key in parts},
              "order": {**scale, "samples": m_order, "directions per network": ORDER_DIRECTIONS,
                        "shortcut depths n": [n for n in P.ns if n >= 2]}}
    return {key: Result(label=CLAIMS[key][0], claim=CLAIMS[key][1], checks=found, scale=scales[key], figure=fig,
                        table=tab, numbers=numbers[key]) for key, (found, tab, fig) in parts.items()}
