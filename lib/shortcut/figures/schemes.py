"""After the paper: SkipInit, ReZero and Fixup under the paper's exact-Hessian lens (our study, not a
figure of the paper).

The schemes (``shortcut.science.schemes``) start the book's n-shortcut networks — linear and ReLU-mid,
width d, on whitened MNIST — at points where every branch outputs zero, as the paper's zero point
does, but not at the paper's point: SkipInit and ReZero put a scalar gate at 0 in front of random
branches; Fixup zeroes the last matrix of each branch and rescales the others. Two figures:

* **at the start** (as Figure 4): the exact Hessian's condition number max|λ|/P10|λ|, its top
  eigenvalue and its index against depth, for each scheme, n and activation; and the gradient there;
* **along training** (as Figures 7 and 5): the best final loss of a learning-rate grid against depth
  (linear nets), and the condition number against the loss at one depth.

The claims below were derived and written, with their thresholds, before the first run on MNIST.
The algebra behind the first three (``science.schemes.predicted_inertia``): at each scheme's start
one set of parameters — the gates at 0, or Fixup's zero last matrices — couples to everything and
every other second derivative vanishes, so the Hessian is ``[[A, N], [Nᵀ, 0]]`` and its inertia is
fixed by the rank of ``N``: L negative and L positive eigenvalues for a gated net (the rest zero,
index 1/(nd²+1)), L·d² of each for Fixup with n ≥ 2 (index d²/(nd²+1); for n = 3 a third are zero).
None of the schemes starts at a critical point: the gradient sits in the gates (SkipInit, ReZero) or
in the last matrices (Fixup), in closed form (``science.schemes.gradient_at_start``).
"""

from __future__ import annotations

import functools
import json
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.lines import Line2D
from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter
import numpy as np
import pandas as pd

from ..experiments.gd import log_grid
from ..experiments.schemes import cond, gd_job, initial_job
from ..experiments.sweep import run_jobs
from ..experiments.zoo import data_keys, depth_at_least, load_problem
from ..science.fit import loglog_fit
from . import analysis, dynamics, fig4, fig5, fig7, plots, rates
from .checks import Check, check
from .result import Result

LATER = ("skipinit", "rezero", "fixup")  # the schemes after the paper
GATED = ("skipinit", "rezero")           # a gate at 0 in front of each branch
LABELS = {"zero": "zero (the paper's)", "skipinit": "SkipInit", "rezero": "ReZero", "fixup": "Fixup"}
COLORS = {"zero": plots.color("2-shortcut"), "skipinit": "#d62728", "rezero": "#2ca02c", "fixup": "#9467bd"}
MARKERS = {"zero": "o", "skipinit": "s", "rezero": "x", "fixup": "D"}  # SkipInit and ReZero often coincide

GRAD_RTOL = 1e-8      # the gradient at the start is the closed form: relative gap ≤ 1e-8 (float64 round-off is ~1e-15)
NONZERO = 1e-6        # "not a critical point": ‖∇L‖ ≥ 1e-6 (the closed forms are of order 1 on whitened data)
FLAT = fig4.FLAT_MAX  # "depth-invariant": max/min of the mean over depths ≤ 1.25, Figure 4's threshold
GROWTH = fig4.XAVIER_GROWTH  # "grows with depth": × 4 from the shallowest depth to the deepest, Figure 4's threshold
SLOPE_TOL = 0.2       # Fixup n = 1's top eigenvalue ∝ L (Theorem 2's block A couples every pair of units): log-log slope 1 ± 0.2
NEAR = fig7.NEAR_OPTIMUM  # "near the optimum": excess ≤ 1 % of L*, Figure 7's threshold
SMALLEST_SHARE = fig5.SMALLEST_SHARE  # "smaller at every loss": at ≥ 90 % of the common losses, Figure 5's threshold

INITIAL_CLAIM = ("At their starts SkipInit and ReZero have a Hessian of rank 2L (L negative eigenvalues, cond = ∞) at "
                 "every n, and Fixup one of inertia (Ld², Ld²) for n ≥ 2; none starts at a critical point. Fixup's "
                 "rescaling keeps the condition number depth-invariant only for n = 2, and only at depth.")
TRAINING_CLAIM = ("The later schemes train at every n and depth, n = 3 included, where the paper's zero init at n = 3 "
                  "does not; at n = 2 every scheme ends near the optimum; at equal loss the paper's zero init has the "
                  "smallest condition number.")


def _depth(n: int, depth: int) -> int:
    """The depth of an n-shortcut net of at least ``depth`` weight layers (a multiple of n)."""
    return depth_at_least(f"{n}-shortcut", depth)


def _unique(jobs: list[dict]) -> list[dict]:
    """``jobs`` without repeats (two depths can round up to the same multiple of n)."""
    return list({json.dumps(j, sort_keys=True): j for j in jobs}.values())


# --- at the start ------------------------------------------------------------------------------------


def initial_jobs(P) -> list[dict]:
    """One job per (scheme, n, activation, depth, seed): linear nets on ``P.n_samples`` samples at
    ``P.depths``, ReLU-mid nets on ``P.relu_samples`` at ``P.relu_depths`` (n ≥ 2: a one-matrix unit
    has no mid position)."""
    out = []
    for mid in P.mids:
        depths, samples = (P.depths, P.n_samples) if mid == "id" else (P.relu_depths, P.relu_samples)
        out += [{**data_keys(P, samples), "scheme": s, "n": n, "mid": mid, "depth": _depth(n, depth), "seed": seed,
                 "eps": P.eps} for s in P.schemes for n in P.ns if mid == "id" or n > 1
                for depth in depths for seed in range(P.seeds)]
    return _unique(out)


def initial_runs(records) -> pd.DataFrame:
    """One row per run: the condition number (∞ where P10|λ| is zero), top eigenvalue, index, the
    eigenvalue counts and their prediction (NaN where the algebra fixes none), the gradient's norm
    and its gap from the closed form, the ReLUs dead on every sample (``dead``) and those active on
    fewer than d samples (``thin``, the dead ones included)."""
    rows = []
    for r in records:
        k, a = r.key, r.data
        pred = a.get("predicted") or {}
        rows.append({"scheme": k["scheme"], "n": k["n"], "mid": k["mid"], "depth": k["depth"], "seed": k["seed"],
                     "cond": cond(a["max_abs"], a["p10_abs"]), "max_abs": a["max_abs"],
                     "index": a["n_negative"] / a["size"], "n_negative": a["n_negative"], "n_zero": a["n_zero"],
                     "size": a["size"], "predicted_negative": pred.get("negative", np.nan),
                     "predicted_zero": pred.get("zero", np.nan), "grad_norm": a["grad_norm"],
                     "grad_gap": a["grad_gap"], "dead": a["dead_relus"], "thin": a.get("thin_relus", np.nan)})
    return pd.DataFrame(rows)


def initial_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per (scheme, n, activation, depth): the condition number (mean over seeds; ∞ if any seed's is),
    the top eigenvalue and the index (means), and how many seeds had cond = ∞."""
    def agg(g):
        c = g["cond"].to_numpy(float)
        return pd.Series({"cond": float(np.mean(c)) if np.isfinite(c).all() else np.inf,
                          "cond_std": float(np.std(c)) if np.isfinite(c).all() else np.nan,
                          "infinite": int(np.isinf(c).sum()), "max_abs": g["max_abs"].mean(),
                          "max_abs_std": g["max_abs"].std(ddof=0), "index": g["index"].mean(), "seeds": len(g)})
    return (runs.groupby(["scheme", "n", "mid", "depth"]).apply(agg, include_groups=False).reset_index()
            if len(runs) else pd.DataFrame(columns=["scheme", "n", "mid", "depth", "cond", "cond_std", "infinite",
                                                    "max_abs", "max_abs_std", "index", "seeds"]))


def _inertia_ok(runs: pd.DataFrame) -> pd.Series:
    return ((runs["n_negative"] == runs["predicted_negative"]) & (runs["n_zero"] == runs["predicted_zero"]))


def _curve(table: pd.DataFrame, scheme: str, n: int, mid: str = "id") -> pd.DataFrame:
    t = table[(table["scheme"] == scheme) & (table["n"] == n) & (table["mid"] == mid)]
    return t.sort_values("depth")


def initial_checks(runs: pd.DataFrame, table: pd.DataFrame) -> list[Check]:
    """The claims about the schemes' starts (see the module's docstring)."""
    out = []
    for s in LATER:
        t = runs[runs["scheme"] == s]
        where = "in the gates only" if s in GATED else "in the last matrices only"
        name = (f"{LABELS[s]}: the gradient at the start is the closed form ({where}; relative gap ≤ {GRAD_RTOL:g}) "
                f"and not zero (‖∇L‖ ≥ {NONZERO:g}): the start is not a critical point")
        out.append(check(name, None, reason=f"{LABELS[s]} not run") if t.empty else
                   check(name, bool(t["grad_gap"].max() <= GRAD_RTOL and t["grad_norm"].min() >= NONZERO),
                         f"largest gap {t['grad_gap'].max():.1e}, smallest ‖∇L‖ {t['grad_norm'].min():.3g}, "
                         f"{len(t)} runs"))
    for s in GATED:
        t = runs[runs["scheme"] == s]
        name = (f"{LABELS[s]}: at every n and depth the Hessian at the start has L negative and L positive "
                "eigenvalues and the rest zero (index 1/(nd²+1); P10|λ| = 0, cond = ∞): the gate makes n = 1, 2, 3 "
                "alike, and none like the 2-shortcut net at 0")
        out.append(check(name, None, reason=f"{LABELS[s]} not run") if t.empty else
                   check(name, bool(_inertia_ok(t).all() and np.isinf(t["cond"]).all()),
                         f"counts as predicted in {int(_inertia_ok(t).sum())} of {len(t)} runs, cond = ∞ in "
                         f"{int(np.isinf(t['cond']).sum())}"))
    out.append(_fixup_inertia(runs[(runs["scheme"] == "fixup") & (runs["n"] >= 2)]))
    one, two = _curve(table, "fixup", 1), _curve(table, "fixup", 2)
    name = (f"Fixup, n = 1 (linear): nothing to rescale, so its condition number grows with depth (× more than "
            f"{GROWTH:g} from the shallowest depth to the deepest) and its top eigenvalue ∝ depth (log-log slope "
            f"1 ± {SLOPE_TOL:g})")
    if len(one) < 2:
        out.append(check(name, None, reason="Fixup with n = 1 not run at two depths or more"))
    else:
        growth = float(one["cond"].iloc[-1] / one["cond"].iloc[0])
        slope = loglog_fit(one["depth"], one["max_abs"])["slope"]
        out.append(check(name, bool(growth > GROWTH and abs(slope - 1) <= SLOPE_TOL),
                         f"×{growth:.3g}, slope {slope:.2f}"))
    name = (f"Fixup, n = 2 (linear): its condition number is depth-invariant (max/min over depths ≤ {FLAT:g}, "
            "Figure 4's test)")
    name2 = (f"Fixup, n = 2 (linear): its condition number does not grow with depth and levels off (deepest ≤ "
             f"shallowest; the two deepest depths within ×{FLAT:g})")
    if len(two) < 2 or not np.isfinite(two["cond"]).all():
        why = "Fixup with n = 2 not run at two depths or more" if len(two) < 2 else "an infinite condition number"
        out += [check(name, None, reason=why), check(name2, None, reason=why)]
    else:
        c = two["cond"].to_numpy(float)
        last = float(max(c[-2:]) / min(c[-2:]))
        out += [check(name, bool(analysis.spread(c) <= FLAT), f"max/min {analysis.spread(c):.3g}"),
                check(name2, bool(c[-1] <= c[0] and last <= FLAT),
                      f"{c[0]:.3g} at depth {int(two['depth'].iloc[0])}, {c[-1]:.3g} at {int(two['depth'].iloc[-1])}; "
                      f"the two deepest ×{last:.3g} apart")]
    return out


def _depth_ticks(axes, depths) -> None:
    """Log depth axes ticked at the depths that were run."""
    ticks = sorted({int(d) for d in depths})
    for ax in axes:
        ax.set(xscale="log", xlabel="depth (weight layers)")
        ax.set_xticks(ticks, [str(d) for d in ticks])
        ax.minorticks_off()


INERTIA_CHANGED = ("replaced on 2026-11-23 after the first run at the ci profile, before the first at default: a "
                   "second-layer ReLU active on 2 of 100 samples, dead on none, removed 8 from the rank of N (its row "
                   "of the coupling sees 2 samples of the residual), so the runs left out are those with a ReLU "
                   "active on fewer than d samples, not only those with one dead on all")


def _fixup_inertia(t: pd.DataFrame) -> Check:
    """Fixup n ≥ 2's predicted inertia in every run whose ReLUs are each active on at least d samples
    (superseding the first form, which left out only runs with a ReLU dead on every sample)."""
    claim = ("Fixup, n ≥ 2: L·d² negative and L·d² positive eigenvalues at the start, the rest zero (index "
             "d²/(nd²+1); n = 3: a third zero, cond = ∞), in every run without a ReLU ")
    forms = []
    for col, which in (("dead", "dead on every sample"), ("thin", "active on fewer than d samples")):
        live = t[t[col] == 0]
        left = f"; {len(t) - len(live)} runs with such ReLUs left out" if len(t) > len(live) else ""
        forms.append(check(claim + which, None, reason="no such Fixup run with n ≥ 2") if live.empty else
                     check(claim + which, bool(_inertia_ok(live).all()),
                           f"counts as predicted in {int(_inertia_ok(live).sum())} of {len(live)} runs{left}"))
    old, new = forms
    return replace(new, superseded=(replace(old, changed=INERTIA_CHANGED),))


def _infinity_line(y: np.ndarray) -> float:
    """Where an infinite condition number is drawn: above the largest finite one."""
    finite = y[np.isfinite(y)]
    return (finite.max() if finite.size else 1.0) * 3


def draw_initial(table: pd.DataFrame, ns, schemes, scale=None):
    """Three rows (condition number, top eigenvalue, index) by one column per n; one colour per scheme,
    solid linear, dashed ReLU-mid; an infinite condition number as a triangle at the top."""
    fig, axes = plt.subplots(3, len(ns), figsize=(4.2 * len(ns), 9.6), squeeze=False)
    plt.close(fig)
    inf_at = _infinity_line(table["cond"].to_numpy(float))
    for j, n in enumerate(ns):
        for s in schemes:
            for mid, ls in (("id", "-"), ("relu", "--")):
                c = _curve(table, s, n, mid)
                if c.empty:
                    continue
                label = f"{LABELS[s]}" + (", ReLU" if mid == "relu" else "")
                y = c["cond"].to_numpy(float)
                ax = axes[0, j]
                ax.plot(c["depth"], np.where(np.isfinite(y), y, np.nan), ls, marker=MARKERS[s], ms=4, color=COLORS[s],
                        label=label)
                inf = ~np.isfinite(y)
                if inf.any():
                    ax.plot(c["depth"][inf], np.full(inf.sum(), inf_at), "^", color=COLORS[s], ms=6,
                            mfc="white" if mid == "relu" else COLORS[s])
                axes[1, j].errorbar(c["depth"], c["max_abs"], yerr=c["max_abs_std"], ls=ls, marker=MARKERS[s], ms=4,
                                    color=COLORS[s], capsize=2)
                axes[2, j].plot(c["depth"], c["index"], ls, marker=MARKERS[s], ms=4, color=COLORS[s])
        axes[0, j].axhline(inf_at, color="#999999", lw=0.8, ls=":")
        axes[0, j].set(title=f"n = {n}", yscale="log", ylabel=r"$\max|\lambda| / P_{10}|\lambda|$")
        axes[1, j].set(yscale="log", ylabel=r"$\max|\lambda|$")
        axes[2, j].set_yscale("symlog", linthresh=1e-3)
        axes[2, j].set(ylabel="index (share of λ < 0)", ylim=(0, 0.6))
        _depth_ticks(axes[:, j], table.loc[table["n"] == n, "depth"])
    handles, labels = axes[0, -1].get_legend_handles_labels()
    handles.append(Line2D([], [], marker="^", ls="", color="#555555", label="cond = ∞ (P10|λ| = 0)"))
    fig.legend(handles=handles, fontsize=8, loc="upper center", ncol=5, bbox_to_anchor=(0.5, -0.045), frameon=False)
    fig.suptitle("The Hessian at each scheme's start, against depth (solid: linear, dashed: ReLU at mid positions)")
    if scale:
        plots.scale_note(fig, scale)
    return fig


def initial_numbers(runs: pd.DataFrame, table: pd.DataFrame, ns) -> dict[str, str]:
    """The values the chapter's prose quotes ('n/a' where a scheme or n was not run)."""
    out = {}
    gated = runs[runs["scheme"].isin(GATED)]
    out["gated_index"] = ", ".join(f"{gated.loc[gated['n'] == n, 'index'].mean():.4f} (n = {n})"
                                   for n in ns if (gated["n"] == n).any()) or "n/a"
    out["gated_infinite"] = f"{int(np.isinf(gated['cond']).sum())} of {len(gated)}"
    fix = runs[runs["scheme"] == "fixup"]
    out["fixup_index"] = ", ".join(f"{fix.loc[fix['n'] == n, 'index'].mean():.4f} (n = {n})"
                                   for n in ns if n >= 2 and (fix["n"] == n).any()) or "n/a"
    relu = fix[fix["mid"] == "relu"]
    out["dead"] = f"{int((relu['dead'] > 0).sum())} of {len(relu)}"
    out["thin"] = f"{int((relu['thin'] > 0).sum())} of {len(relu)}"
    for s, n in (("fixup", 1), ("fixup", 2), ("zero", 2), ("zero", 1)):
        c = _curve(table, s, n)
        out[f"{s}{n}_cond"] = (" → ".join(f"{v:.3g}" for v in c["cond"]) if len(c) else "n/a")
    c = _curve(table, "fixup", 1)
    out["fixup1_slope"] = f"{loglog_fit(c['depth'], c['max_abs'])['slope']:.2f}" if len(c) >= 2 else "n/a"
    out["depths"] = ", ".join(str(d) for d in sorted(table.loc[table["n"] == 2, "depth"].unique())) or "n/a"
    two = table[(table["n"] == 2) & (table["mid"] == "id")]
    deep = two[two["depth"] == two["depth"].max()]
    out["top2"] = ", ".join(f"{LABELS[r.scheme]} {r.max_abs:.3g}" for r in deep.itertuples()) or "n/a"
    out["deep2"] = str(int(deep["depth"].iloc[0])) if len(deep) else "n/a"
    return out


def run_initial(P, root=None) -> Result:
    """Run (or resume) the spectra at the schemes' starts, then tabulate, draw and check."""
    root = Path(root) if root is not None else Path(P.results_dir) / P.chapter
    todo = initial_jobs(P)
    prob = load_problem(todo[0], device=str(P.device))  # first: missing data stop here, with the reason
    records = run_jobs(P, root, todo, functools.partial(initial_job, device=str(P.device)), desc="schemes: starts")
    runs = initial_runs(records)
    table = initial_table(runs)
    scale = {"data": prob.source, "linear": f"{P.n_samples} samples, depths {list(P.depths)}",
             "ReLU-mid": f"{P.relu_samples} samples, depths {list(P.relu_depths)}" if "relu" in P.mids else "not run",
             "seeds": P.seeds, "ε (zero)": P.eps}
    thin = runs[(runs["scheme"] == "fixup") & (runs["n"] >= 2) & (runs["thin"] > 0)]
    excluded = ([f"{len(thin)} Fixup ReLU runs with ReLUs active on fewer than d samples ({int(thin['thin'].sum())} "
                 f"such ReLUs, {int(thin['dead'].sum())} of them dead): left out of the inertia check"] if len(thin) else [])
    return Result(label="Schemes at the start", claim=INITIAL_CLAIM, checks=initial_checks(runs, table), scale=scale,
                  figure=draw_initial(table, P.ns, P.schemes, scale=scale), table={"runs": runs, "table": table},
                  numbers=initial_numbers(runs, table, P.ns), excluded=excluded)


# --- along training ----------------------------------------------------------------------------------


def _model(s: str, n: int) -> str:
    return f"{s} n={n}"


def grid_jobs(P) -> list[dict]:
    """Linear nets of every (scheme, n, depth of ``P.train_depths``, seed) — and of ``P.depth`` for
    n = ``P.n``, whose best rates the runs followed with the Hessian take — each at every rate of the grid."""
    lrs = log_grid(P.lr_min, P.lr_max, P.n_lrs)
    return _unique([{**data_keys(P, P.n_samples), "model": _model(s, n), "scheme": s, "n": n, "mid": "id",
                     "depth": _depth(n, d), "seed": seed, "eps": P.eps, "epochs": P.epochs, "lrs": lrs}
                    for s in P.schemes for n in P.ns for d in [*P.train_depths, *([P.depth] if n == P.n else [])]
                    for seed in range(P.seeds)])


def dynamics_jobs(P, best: pd.DataFrame) -> tuple[list[dict], dict[str, float], list[str]]:
    """Linear nets with ``P.n`` matrices per unit at ``P.depth``, each scheme at its best rate of the grid
    there, the Hessian every ``P.hessian_every`` epochs; (jobs, the rates, one line per scheme without a
    stable rate)."""
    depth = _depth(P.n, P.depth)
    lrs, missing = {}, []
    for s in P.schemes:
        row = best[(best["scheme"] == s) & (best["n"] == P.n) & (best["depth"] == depth)]
        if len(row) and np.isfinite(row["best lr"].iloc[0]):
            lrs[s] = float(row["best lr"].iloc[0])
        else:
            missing.append(f"{LABELS[s]}: no rate of the grid at which every seed finished, at depth {depth}, n = {P.n}")
    jobs = [{**data_keys(P, P.n_samples), "model": s, "scheme": s, "n": P.n, "mid": "id", "depth": depth, "seed": seed,
             "eps": P.eps, "epochs": P.epochs, "lrs": [lr], "hessian_every": P.hessian_every}
            for s, lr in lrs.items() for seed in range(P.seeds)]
    return jobs, lrs, missing


def best_table(records, schemes, ns, optimum: float) -> pd.DataFrame:
    """The best rate per (scheme, n, depth) (``rates.best_rates``), with its excess over L*."""
    order = [_model(s, n) for s in schemes for n in ns]
    b = rates.best_rates(rates.rate_grid(records, order))
    key = {_model(s, n): (s, n) for s in schemes for n in ns}
    b["scheme"], b["n"] = [key[m][0] for m in b["model"]], [key[m][1] for m in b["model"]]
    b["excess"] = b["final loss"] - optimum
    return b


def with_infinite_cond(run: dict) -> dict:
    """A run with its Hessians' condition numbers recomputed by :func:`cond` (∞ where P10|λ| is zero:
    such points are left out of the curves)."""
    return {**run, "hessian_cond": [cond(m, p) for m, p in zip(run["hessian_max_abs"], run["hessian_p10_abs"])]}


def union_grid(runs: dict[str, list], points: int) -> np.ndarray:
    """``points`` losses, geometrically spaced, from the smallest loss any run reached to the largest
    (Figure 5's grid spans only the losses every run covers; the schemes' runs move at such different
    speeds that it can be empty, and each curve is drawn over its own range; the check still reads
    only the losses where every scheme's curve is known)."""
    losses = [dynamics.at_hessian_epochs(run, "cond")[0] for rs in runs.values() for run in rs]
    if not losses:
        return np.array([])
    return np.geomspace(min(np.nanmin(x) for x in losses), max(np.nanmax(x) for x in losses), points)


def cond_curves(records, schemes, grid_points: int) -> tuple[pd.DataFrame, list[str], dict[str, float]]:
    """(Figure 5's curves of the condition number against the loss, one per scheme, on
    :func:`union_grid`; the diverged runs; per scheme, the share of runs whose Hessian at the start
    has cond = ∞)."""
    runs, excluded = dynamics.survivors(records, schemes)
    runs = {s: [with_infinite_cond(r) for r in rs] for s, rs in runs.items()}
    start_inf = {s: float(np.mean([np.isinf(r["hessian_cond"][0]) for r in rs])) if rs else np.nan
                 for s, rs in runs.items()}
    table = dynamics.curves(runs, union_grid(runs, grid_points), stats=["cond"])
    return table, excluded, start_inf


def training_measure(curves: pd.DataFrame, schemes) -> dict[str, Any]:
    """The share of the common losses at which the zero scheme's condition number is the smallest."""
    if "zero" not in schemes or len(schemes) < 2:
        return {"why": "the zero scheme and another are needed"}
    why = dynamics.not_comparable(curves, schemes, needed=("zero",))
    wide = dynamics.at_common_losses(curves, "cond", schemes) if not why else None
    if not why and not len(wide):
        why = "no loss at which every scheme's condition number is known"
    if why:
        return {"why": why}
    others = [s for s in schemes if s != "zero"]
    smallest = np.all([wide["zero"].to_numpy() < wide[s].to_numpy() for s in others], axis=0)
    return {"why": "", "share": float(smallest.mean()), "points": len(wide),
            "range": (float(wide.index.min()), float(wide.index.max()))}


def training_checks(best: pd.DataFrame, optimum: float, curves: pd.DataFrame, schemes, ns) -> list[Check]:
    """The claims about training (see the module's docstring)."""
    out = []
    for s in [s for s in LATER if s in schemes] or LATER:
        b = best[best["scheme"] == s]
        name = (f"{LABELS[s]} trains at every n and depth (best final loss below {rates.TRAINED:g} of the initial, "
                "Figure 7's test)")
        out.append(check(name, None, reason=f"{LABELS[s]} not run") if b.empty else
                   check(name, bool(b["trained"].all()),
                         f"trained in {int(b['trained'].sum())} of {len(b)} (n, depth)"))
    b = best[(best["scheme"] == "zero") & (best["n"] == 3)]
    name = "the paper's zero init at n = 3 does not train within the budget at any depth (its gradient is O(ε²))"
    out.append(check(name, None, reason="the zero scheme with n = 3 not run") if b.empty else
               check(name, bool(not b["trained"].any()), f"trained at {int(b['trained'].sum())} of {len(b)} depths"))
    b = best[best["n"] == 2]
    name = f"at n = 2 every scheme ends near the optimum at every depth (excess ≤ {NEAR:g} of L*, Figure 7's test)"
    if b.empty:
        out.append(check(name, None, reason="no net with n = 2 was run"))
    else:
        worst = b.groupby("scheme")["excess"].max() / optimum
        out.append(check(name, bool(b["trained"].all() and (worst <= NEAR).all()),
                         "largest excess / L*: " + ", ".join(f"{LABELS[s]} {v:.2g}" for s, v in worst.items())))
    m = training_measure(curves, schemes)
    name = (f"at equal loss the paper's zero init has the smallest condition number of the schemes (at ≥ "
            f"{SMALLEST_SHARE:.0%} of the common losses, Figure 5's test)")
    out.append(check(name, None, reason=m["why"]) if m["why"] else
               check(name, bool(m["share"] >= SMALLEST_SHARE),
                     f"at {m['share']:.0%} of {m['points']} losses from {m['range'][0]:.3g} to {m['range'][1]:.3g}"))
    return out


def hessian_points(records) -> pd.DataFrame:
    """Every Hessian of the runs followed with it: scheme, loss, condition number (∞ where P10|λ| = 0)."""
    return pd.DataFrame([{"scheme": r.key["scheme"], "loss": loss, "cond": c}
                         for r in records for run in r.data["runs"]
                         for loss, c in zip(*dynamics.at_hessian_epochs(with_infinite_cond(run), "cond"))],
                        columns=["scheme", "loss", "cond"])


def draw_training(best: pd.DataFrame, curves: pd.DataFrame, schemes, ns, depth: int, n: int, points=None,
                  scale=None):
    """One panel per n: the best final loss above L* against depth (hollow: not trained); then the
    condition number against the loss at one depth (training runs right to left): the mean curve
    over seeds, and the Hessians it interpolates between as dots (``points``, :func:`hessian_points`)."""
    fig, axes = plt.subplots(1, len(ns) + 1, figsize=(4 * (len(ns) + 1), 3.9), squeeze=False)
    axes = axes[0]
    plt.close(fig)
    for ax, k in zip(axes, ns):
        for s in schemes:
            b = best[(best["scheme"] == s) & (best["n"] == k)].sort_values("depth")
            if b.empty:
                continue
            y = b["excess"].clip(lower=rates.LOG_FLOOR)
            ax.plot(b["depth"], y, "-", color=COLORS[s], label=LABELS[s])
            ax.scatter(b["depth"], y, color=np.where(b["trained"].to_numpy(), COLORS[s], "white"),
                       edgecolor=COLORS[s], zorder=3, s=25)
        ax.set(yscale="log", title=f"n = {k}: best final loss", ylabel=r"final loss $-\ L^\star$")
        _depth_ticks([ax], best.loc[best["n"] == k, "depth"])
    axes[0].legend(fontsize=7, title="hollow: not trained", title_fontsize=7)
    ax = axes[-1]
    for s in schemes:
        c = curves[(curves["model"] == s) & (curves["stat"] == "cond")]
        if len(c):
            ax.plot(c["loss"], c["mean"], color=COLORS[s], label=LABELS[s])
            ax.fill_between(c["loss"], c["mean"] - c["std"], c["mean"] + c["std"], color=COLORS[s], alpha=0.2, lw=0)
        if points is not None:
            p = points[(points["scheme"] == s) & np.isfinite(points["cond"])]
            ax.plot(p["loss"], p["cond"], ".", color=COLORS[s], ms=3, alpha=0.6)
    ax.set(xscale="log", yscale="log", xlabel="loss", ylabel=r"$\max|\lambda| / P_{10}|\lambda|$",
           title=f"depth {depth}, n = {n}: along training")
    ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.invert_xaxis()
    if scale:
        plots.scale_note(fig, scale)
    return fig


def followed(records, schemes) -> pd.DataFrame:
    """Per scheme, over the runs followed with the Hessian: the rate, the rate times the top eigenvalue
    at the start (above 2, gradient descent is unstable along that direction), the largest loss
    over the initial one (above 1: the loss rose before it fell), the condition number at the end."""
    rows = []
    for s in schemes:
        runs = [r.data["runs"][0] for r in records if r.key["scheme"] == s and r.data["runs"][0]["diverged_at"] < 0]
        if runs:
            rows.append({"scheme": s, "lr": runs[0]["lr"],
                         "edge": float(np.mean([r["lr"] * r["hessian_max_abs"][0] for r in runs])),
                         "peak": float(np.mean([np.nanmax(r["loss"]) / r["loss"][0] for r in runs])),
                         "end_cond": float(np.mean([with_infinite_cond(r)["hessian_cond"][-1] for r in runs])),
                         "end_loss": float(np.mean([r["loss"][-1] for r in runs]))})
    return pd.DataFrame(rows, columns=["scheme", "lr", "edge", "peak", "end_cond", "end_loss"])


def training_numbers(best: pd.DataFrame, optimum: float, curves, schemes, start_inf, runs: pd.DataFrame
                     ) -> dict[str, str]:
    """The values the chapter's prose quotes (``runs``: :func:`followed`)."""
    out = {"optimum": f"{optimum:.5f}"}
    for s in LABELS:  # every scheme, so that a chapter quoting one still builds when it was not run ('n/a')
        b = best[best["scheme"] == s]
        out[f"{s}_trained"] = f"{int(b['trained'].sum())} of {len(b)}" if len(b) else "n/a"
        two = b[b["n"] == 2]
        out[f"{s}_excess2"] = f"{(two['excess'].max() / optimum):.2g}" if len(two) else "n/a"
        out[f"{s}_lr2"] = ", ".join(f"{v:.2g}" for v in two["best lr"]) if len(two) else "n/a"
        out[f"{s}_start_inf"] = f"{start_inf.get(s, np.nan):.0%}" if np.isfinite(start_inf.get(s, np.nan)) else "n/a"
    m = training_measure(curves, schemes)
    out["share"] = "n/a" if m["why"] else f"{m['share']:.0%}"
    each = lambda col, fmt: ", ".join(f"{LABELS[r.scheme]} {format(getattr(r, col), fmt)}"  # noqa: E731
                                      for r in runs.itertuples()) or "n/a"
    out.update(followed_lrs=each("lr", ".2g"), edge=each("edge", ".2g"), peak=each("peak", ".3g"),
               end_cond=each("end_cond", ".2g"), end_loss=each("end_loss", ".4f"))
    return out


def run_training(P) -> Result:
    """Run (or resume) the rate grid, then the runs with Hessians at each scheme's best rate; tabulate,
    draw and check."""
    grid = grid_jobs(P)
    prob = load_problem(grid[0], device=str(P.device))
    fn = functools.partial(gd_job, device=str(P.device))
    records = rates.sweep(P, {"grid": grid}, fn=fn, desc="schemes: rate grid")["grid"]
    best = best_table(records, P.schemes, P.ns, prob.optimum)
    dyn, lrs, missing = dynamics_jobs(P, best)
    records_followed = rates.sweep(P, {"dynamics": dyn}, fn=fn, desc="schemes: with Hessians")["dynamics"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        curves, diverged, start_inf = cond_curves(records_followed, [s for s in P.schemes if s in lrs], P.grid_points)
    depth = _depth(P.n, P.depth)
    scale = {"data": prob.source, "samples": prob.m, "depths": list(P.train_depths), "epochs": P.epochs,
             "rates": f"{P.n_lrs} from {P.lr_min:g} to {P.lr_max:g}", "seeds": P.seeds, "ε (zero)": P.eps,
             "along training": f"depth {depth}, n = {P.n}, Hessian every {P.hessian_every}, each scheme at its best "
                               "rate: " + ", ".join(f"{LABELS[s]} {lr:.2g}" for s, lr in lrs.items())}
    excluded = (rates.excluded(rates.rate_grid(records, [_model(s, n) for s in P.schemes for n in P.ns]))
                + missing + diverged)
    runs = followed(records_followed, P.schemes)
    return Result(label="Schemes along training", claim=TRAINING_CLAIM,
                  checks=training_checks(best, prob.optimum, curves, P.schemes, P.ns), scale=scale,
                  figure=draw_training(best, curves, P.schemes, P.ns, depth, P.n, points=hessian_points(records_followed),
                                       scale=scale),
                  table={"best": best, "curves": curves, "followed": runs}, excluded=excluded,
                  numbers=training_numbers(best, prob.optimum, curves, P.schemes, start_inf, runs))
