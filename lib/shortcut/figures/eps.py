"""The scale ε of the "zero" initialisation: which conclusions depend on it (our study, not a figure of
the paper).

The paper starts its shortcut networks at "a small constant" times Xavier weights (Section 5); the
constant is lost, the book's default is ε = 1e-4. Theorem 2 says how ε should enter:

* **the gradient at the start** — at ``θ = εW`` the loss of an n-shortcut network is
  ``L(0) + O(ε^n)`` (every term of f involving a unit is a product of ≥ n of its matrices), so its
  gradient scales as ``ε^(n−1)``: constant for n = 1, linear for n = 2, quadratic for n = 3;
* **Figure 4's 2-shortcut line** — the Hessian at εW tends to Theorem 2's at 0 as ε → 0, so the
  depth-invariance should hold at every small ε, closer to the prediction the smaller ε;
* **the escape time** — 0 is a strict saddle for n = 2 (eigenvalues ±σ_k(C)), so along the most
  negative direction gradient descent multiplies the distance from 0 by ``1 + η σ_max(C)`` per step:
  the epoch at which the loss starts to fall grows like ``ln(1/ε) / ln(1 + η σ_max(C))``;
* **3-shortcut nets in Figure 7** never left the start at ε = 1e-4: with a gradient of order ε², that
  is a statement about ε as much as about n = 3.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import pandas as pd
import torch
from matplotlib import pyplot as plt
from torch.func import grad

from ..experiments.sweep import run_jobs
from ..experiments.zoo import data_keys, gd_job, initial_spectrum_job, load_problem, make_net
from ..science import theorem2
from ..science.fit import loglog_fit
from ..science.hessian import summarize
from ..science.init import initialize
from ..science.loss import make_loss
from . import plots
from .checks import Check, check
from .result import Result

SLOPE_TOLERANCE = 0.1   # gradient ∝ ε^(n−1): the fitted log-log slope within 0.1 of n − 1 (Theorem 2's order)
FLAT = 1.25             # "flat in depth": the same threshold as Figure 4's check (max/min over depths)
ESCAPE_FRACTION = 0.1   # escaped: the loss has fallen 10 % of the way from its start to the optimum L*
ESCAPE_SLOPE_RTOL = 0.25  # escape epochs against ln(1/ε): measured slope within 25 % of 1/ln(1 + η σ_max(C))
TRAINED = 0.99          # trained: best final loss below 99 % of the initial loss (Figure 7's "not trained" test)


def _data(P) -> dict:
    return data_keys(P, P.n_samples)


# --- the gradient at the start ----------------------------------------------------------------------


def gradient_table(P) -> pd.DataFrame:
    """‖∇L(εW)‖ for every n in ``P.ns``, ε in ``P.eps_values`` and seed (linear nets of ``P.depth``
    weight layers, rounded up to a multiple of n)."""
    prob = load_problem(_data(P), device=str(P.device))
    rows = []
    for n in P.ns:
        net, _ = make_net(f"{n}-shortcut", n * -(-P.depth // n), d=prob.X.shape[0])
        loss = make_loss(net, prob.X, prob.Y)
        for eps in P.eps_values:
            for seed in range(P.seeds):
                theta = initialize(net, "zero", seed=seed, eps=eps, device=prob.X.device)
                rows.append({"n": n, "eps": eps, "seed": seed, "grad_norm": float(grad(loss)(theta).norm())})
    return pd.DataFrame(rows)


def gradient_checks(table: pd.DataFrame) -> list[Check]:
    out = []
    for n, g in table.groupby("n"):
        mean = g.groupby("eps")["grad_norm"].mean()
        slope = loglog_fit(mean.index, mean.values)["slope"]
        out.append(check(f"n = {n}: gradient ∝ ε^{n - 1} (log-log slope within {SLOPE_TOLERANCE} of {n - 1})",
                         abs(slope - (n - 1)) <= SLOPE_TOLERANCE, f"slope {slope:.3f}"))
    return out


# --- Figure 4's 2-shortcut line ----------------------------------------------------------------------


def spectrum_jobs(P) -> list[dict]:
    return [{**_data(P), "model": "2-shortcut", "depth": depth, "seed": seed, "eps": eps}
            for eps in P.eps_values for depth in P.depths for seed in range(P.seeds)]


def spectrum_table(records, predicted: dict[int, float]) -> pd.DataFrame:
    rows = [{"eps": r.key["eps"], "depth": r.key["depth"], "seed": r.key["seed"], "cond": r.data["cond"]}
            for r in records]
    t = pd.DataFrame(rows).groupby(["eps", "depth"])["cond"].agg(["mean", "std", "count"]).reset_index()
    t["predicted"] = t["depth"].map(predicted)
    t["gap"] = (t["mean"] / t["predicted"] - 1).abs()
    return t


def spectrum_checks(table: pd.DataFrame) -> list[Check]:
    out = []
    for eps, g in table.groupby("eps"):
        flat = float(g["mean"].max() / g["mean"].min())
        out.append(check(f"ε = {eps:g}: 2-shortcut's initial condition number flat in depth (max/min ≤ {FLAT})",
                         flat <= FLAT, f"max/min {flat:.3g}"))
    gaps = table.groupby("eps")["gap"].max()
    smallest, largest = gaps.index.min(), gaps.index.max()
    out.append(check("closer to Theorem 2's value at 0 the smaller ε (largest gap over depths)",
                     gaps[smallest] <= gaps[largest],
                     f"{100 * gaps[smallest]:.2g}% at ε = {smallest:g}, {100 * gaps[largest]:.2g}% at ε = {largest:g}"))
    return out


# --- the escape time ---------------------------------------------------------------------------------


def escape_jobs(P) -> list[dict]:
    return [{**_data(P), "model": "2-shortcut", "depth": P.depth, "seed": seed, "eps": eps,
             "lrs": [P.lr], "epochs": P.epochs} for eps in P.eps_values for seed in range(P.seeds)]


def escape_epoch(loss: list[float], optimum: float, fraction: float = ESCAPE_FRACTION) -> float:
    """The first epoch at which ``loss`` has fallen ``fraction`` of the way from its start to ``optimum``
    (NaN if it never does)."""
    loss = np.asarray(loss, float)
    below = np.flatnonzero(loss <= loss[0] - fraction * (loss[0] - optimum))
    return float(below[0]) if below.size else float("nan")


def escape_table(records) -> pd.DataFrame:
    rows = []
    for r in records:
        run = r.data["runs"][0]
        rows.append({"eps": r.key["eps"], "seed": r.key["seed"], "diverged": run["diverged_at"] >= 0,
                     "escape": escape_epoch(run["loss"], r.data["optimum"])})
    return pd.DataFrame(rows)


def predicted_escape_slope(P) -> float:
    """1 / ln(1 + η σ_max(C)): epochs per unit of ln(1/ε) along the saddle's most negative direction."""
    prob = load_problem(_data(P), device=str(P.device))
    net, _ = make_net("2-shortcut", P.depth, d=prob.X.shape[0])
    sigma = float(torch.linalg.svdvals(theorem2.C_matrix(net, prob.X, prob.Y))[0])
    return 1.0 / math.log1p(P.lr * sigma)


def escape_checks(table: pd.DataFrame, predicted_slope: float) -> list[Check]:
    mean = table.groupby("eps")["escape"].mean()
    if mean.isna().any() or len(mean) < 2:
        why = "some runs never escaped within the epochs run" if mean.isna().any() else "fewer than two ε"
        return [check("escape time grows like ln(1/ε) with Theorem 2's rate", None, reason=why)]
    x = np.log(1.0 / mean.index.to_numpy(float))
    slope = float(np.polyfit(x, mean.to_numpy(float), 1)[0])
    increasing = bool(np.all(np.diff(mean.sort_index(ascending=False).to_numpy()) > 0))
    return [
        check("escape time grows as ε shrinks", increasing,
              ", ".join(f"ε = {e:g}: epoch {v:.0f}" for e, v in mean.items())),
        check(f"epochs per unit of ln(1/ε) within {int(100 * ESCAPE_SLOPE_RTOL)}% of 1/ln(1 + η σ_max(C))",
              abs(slope / predicted_slope - 1) <= ESCAPE_SLOPE_RTOL,
              f"measured {slope:.3g}, predicted {predicted_slope:.3g}"),
    ]


# --- 3-shortcut nets in Figure 7's setting -----------------------------------------------------------


def n3_jobs(P, lrs: list[float]) -> list[dict]:
    depth = 3 * -(-P.n3_depth // 3)
    return [{**_data(P), "figure": "Fig 7", "model": "3-shortcut", "depth": depth, "mid": "id", "seed": seed,
             "eps": eps, "epochs": P.n3_epochs, "lrs": lrs} for eps in P.eps_values for seed in range(P.seeds)]


def n3_table(records) -> pd.DataFrame:
    """Per ε: the best (over rates, of the mean over seeds) final loss, the initial loss, the optimum."""
    rows = []
    for r in records:
        for run in r.data["runs"]:
            final = run["loss"][-1] if run["diverged_at"] < 0 else np.nan
            rows.append({"eps": r.key["eps"], "lr": run["lr"], "seed": r.key["seed"], "initial": run["loss"][0],
                         "final": final, "optimum": r.data["optimum"]})
    t = pd.DataFrame(rows).groupby(["eps", "lr"]).agg(initial=("initial", "mean"), final=("final", "mean"),
                                                       optimum=("optimum", "first")).reset_index()
    best = t.loc[t.groupby("eps")["final"].idxmin().dropna()]
    best = best.assign(trained=best["final"] < TRAINED * best["initial"])
    return best.reset_index(drop=True)


def n3_checks(table: pd.DataFrame) -> list[Check]:
    trained = dict(zip(table["eps"], table["trained"]))
    largest = max(trained)
    return [check(f"3-shortcut's failure to train depends on ε: trained at ε = {largest:g}, not at the smallest",
                  bool(trained[largest]) and not bool(trained[min(trained)]),
                  ", ".join(f"ε = {e:g}: {'trained' if v else 'not trained'}" for e, v in trained.items()))]


# --- the figure and the whole study ------------------------------------------------------------------


def draw(grads: pd.DataFrame, spectra: pd.DataFrame, escapes: pd.DataFrame, predicted_slope: float,
         n3: pd.DataFrame):
    fig, axes = plt.subplots(2, 2, figsize=(9.5, 7.2))
    axes = axes.ravel()
    ax = axes[0]
    for n, g in grads.groupby("n"):
        mean = g.groupby("eps")["grad_norm"].mean()
        ax.plot(mean.index, mean.values, "o-", color=plots.color(f"{n}-shortcut"), label=f"{n}-shortcut")
        ref = mean.iloc[-1] * (mean.index / mean.index[-1]) ** (n - 1)
        ax.plot(mean.index, ref, ":", color=plots.color(f"{n}-shortcut"), lw=1)
    ax.set(xscale="log", yscale="log", xlabel="ε", ylabel=r"$\|\nabla L(\varepsilon W)\|$",
           title="gradient at the start (dotted: ε^(n−1))")
    ax.legend(fontsize=8)
    ax = axes[1]
    for eps, g in spectra.groupby("eps"):
        ax.errorbar(g["depth"], g["mean"], yerr=g["std"], marker="o", capsize=2, label=f"ε = {eps:g}")
    pred = spectra.drop_duplicates("depth")
    ax.plot(pred["depth"], pred["predicted"], "k--", lw=1, label="Theorem 2 at 0")
    ax.set(xscale="log", yscale="log", xlabel="depth", ylabel=r"$\max|\lambda| / P_{10}|\lambda|$",
           title="2-shortcut, initial condition number")
    ax.legend(fontsize=7)
    ax = axes[2]
    x = np.log(1.0 / escapes["eps"].to_numpy(float))
    ax.plot(x, escapes["escape"], "o", color=plots.color("2-shortcut"), label="runs")
    mean = escapes.groupby("eps")["escape"].mean()
    xm = np.log(1.0 / mean.index.to_numpy(float))
    if mean.notna().all():
        anchor = np.argmin(xm)
        ax.plot(xm, mean.iloc[anchor] + predicted_slope * (xm - xm[anchor]), "k--", lw=1,
                label="slope 1/ln(1+ησ_max(C))")
    ax.set(xlabel="ln(1/ε)", ylabel="escape epoch", title="2-shortcut: leaving the saddle")
    ax.legend(fontsize=8)
    ax = axes[3]
    ax.plot(n3["eps"], n3["final"] - n3["optimum"], "o-", color=plots.color("3-shortcut"), label="best final")
    ax.plot(n3["eps"], n3["initial"] - n3["optimum"], "s:", color="#555555", label="initial")
    ax.set(xscale="log", yscale="log", xlabel="ε", ylabel=r"loss $-\ L^\star$", title="3-shortcut, best rate")
    ax.legend(fontsize=8)
    return fig


def run(P) -> Result:
    """The whole ε study: four tables, one figure, the checks of each part."""
    root = P.results_dir / P.chapter
    device = str(P.device)
    grads = gradient_table(P)
    prob = load_problem(_data(P), device=device)
    predicted = {d: summarize(theorem2.predicted_eigenvalues_n2(make_net("2-shortcut", d, d=prob.X.shape[0])[0],
                                                                prob.X, prob.Y)).cond for d in P.depths}
    spectra = spectrum_table(run_jobs(P, root, spectrum_jobs(P), functools.partial(initial_spectrum_job, device=device),
                                      desc="ε: spectra"), predicted)
    escapes = escape_table(run_jobs(P, root, escape_jobs(P), functools.partial(gd_job, device=device),
                                    desc="ε: escape"))
    slope = predicted_escape_slope(P)
    lrs = [float(v) for v in np.geomspace(P.n3_lr_min, P.n3_lr_max, P.n3_n_lrs)]
    n3 = n3_table(run_jobs(P, root, n3_jobs(P, lrs), functools.partial(gd_job, device=device), desc="ε: 3-shortcut"))
    checks = gradient_checks(grads) + spectrum_checks(spectra) + escape_checks(escapes, slope) + n3_checks(n3)
    diverged = int(escapes["diverged"].sum())
    scale: dict[str, Any] = {"data": prob.source, "ε": list(P.eps_values), "seeds": P.seeds, "depths": list(P.depths),
                             "escape": f"depth {P.depth}, lr {P.lr:g}, {P.epochs} epochs",
                             "3-shortcut": f"depth {3 * -(-P.n3_depth // 3)}, {P.n3_n_lrs} rates, {P.n3_epochs} epochs"}
    numbers = {
        "predicted_slope": f"{slope:.3g}",
        "escape": ", ".join(f"{v:.0f}" for v in escapes.groupby("eps")["escape"].mean().sort_index(ascending=False)),
        "gap_small": f"{100 * spectra.groupby('eps')['gap'].max().iloc[0]:.2g}%",
        "gap_large": f"{100 * spectra.groupby('eps')['gap'].max().iloc[-1]:.2g}%",
    }
    for c, (n, g) in zip(gradient_checks(grads), grads.groupby("n")):
        numbers[f"slope_n{n}"] = c.detail.split()[-1]
    return Result(label="ε sweep", claim="Theorem 2 fixes how the zero-init scale ε enters: the gradient at the start "
                  "scales as ε^(n−1), Figure 4's 2-shortcut line holds at every small ε, the escape from the saddle "
                  "takes ln(1/ε)/ln(1+ησ_max) epochs; 3-shortcut's failure to train in Figure 7 is one of ε.",
                  checks=checks, scale=scale, figure=draw(grads, spectra, escapes, slope, n3),
                  table={"gradient": grads, "spectra": spectra, "escape": escapes, "n3": n3}, numbers=numbers,
                  excluded=[f"{diverged} of {len(escapes)} escape runs diverged"] if diverged else [])
