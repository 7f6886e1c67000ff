"""Figure 6 of the paper: the index of the Hessian (its fraction of negative eigenvalues) against the
loss, and the escape of one 2-shortcut run from the saddle at the zero point (Section 5, Fig. 6).

Left: the index at equal losses, from the runs of :mod:`shortcut.figures.dynamics`. Right: one
longer 2-shortcut run (:func:`dynamics.escape_job`), its gradient norm and its index against the epoch.
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from . import dynamics, plots
from .checks import Check, check
from .result import Result

CLAIM = ("2-shortcut's index is the smallest at equal loss and drops sharply at the start, when its gradient norm "
         "peaks.")
LOWEST_SHARE = 0.9  # "the smallest index": 2-shortcut's at or below every other model's at ≥ 90 % of the common losses
EARLY_SHARE = 0.5   # "drops sharply at the start": at least half of the fall while the loss is in the upper half
#                     (geometrically) of the range the run covers
PEAK_SLACK = 1      # "the gradient norm peaks while the index drops": within the index's fastest fall, widened by
#                     this many Hessian intervals each side (the index is known only every k epochs)


def collect(records, escape, models, grid_points: int) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """({"index": the index at equal losses (:func:`dynamics.curves`), "run": the escape run per epoch:
    epoch, loss, grad_norm, index (NaN where its Hessian was not computed)}, the diverged runs)."""
    runs, excluded = dynamics.survivors(records, models)
    curves = dynamics.curves(runs, dynamics.loss_grid(runs, grid_points), stats=["index"])
    run = escape.data["runs"][0]
    index = np.full(len(run["loss"]), np.nan)
    index[run["hessian_epochs"]] = run["hessian_index"]
    per_epoch = pd.DataFrame({"epoch": np.arange(len(run["loss"])), "loss": run["loss"],
                              "grad_norm": run["grad_norm"], "index": index})
    return {"index": curves, "run": per_epoch}, excluded


def draw(tables: dict[str, pd.DataFrame], models, depth: int, scale=None):
    """Left: the index against the loss, mean ± std over runs. Right: the escape run's gradient norm
    (solid) and index (dashed) against the epoch."""
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 3.9))
    plots.mean_std(ax, plots.groups(tables["index"], "loss"), order=models, marker=None)
    ax.set(xscale="log", xlabel="loss", ylabel="index (fraction of negative eigenvalues)",
           title=f"Index against the loss, depth {depth}")
    plots.loss_ticks(ax.xaxis)
    ax.invert_xaxis()
    if ax.lines:
        ax.legend(fontsize=8)
    run = tables["run"]
    ax2.plot(run["epoch"], run["grad_norm"], color=plots.color("2-shortcut"), label="gradient norm")
    ax2.set(xlabel="epoch", ylabel="gradient norm", title="One 2-shortcut run")
    hess = run.dropna(subset=["index"])
    ax3 = ax2.twinx()
    ax3.plot(hess["epoch"], hess["index"], color="#555555", ls="--", label="index")
    ax3.set_ylabel("index")
    ax3.grid(False)
    ax2.legend(handles=ax2.lines + ax3.lines, fontsize=8, loc="center right")
    if scale:
        plots.scale_note(fig, scale)
    plt.close(fig)
    return fig


def measure(tables: dict[str, pd.DataFrame], models, hessian_every: int) -> dict[str, Any]:
    """The numbers the checks decide on; ``why_lowest`` / ``why_run``: why they cannot be computed."""
    idx, why = dynamics.compared(tables["index"], "index", models)
    out: dict[str, Any] = {"why_lowest": why}
    if not why:
        others = [m for m in models if m != "2-shortcut"]
        out["lowest"] = float(np.all([idx["2-shortcut"].to_numpy() <= idx[m].to_numpy() for m in others], axis=0).mean())
    hess = tables["run"].dropna(subset=["index"])
    out["why_run"] = "" if len(hess) >= 2 else "the escape run's Hessian was computed fewer than twice"
    if out["why_run"]:
        return out
    epochs, index, loss = hess["epoch"].to_numpy(), hess["index"].to_numpy(), hess["loss"].to_numpy()
    upper = loss >= np.sqrt(loss[0] * np.nanmin(loss))
    steepest = int(np.argmin(np.diff(index)))
    slack = PEAK_SLACK * hessian_every
    out.update(index0=float(index[0]), index_end=float(index[-1]), total_drop=float(index[0] - index.min()),
               early_drop=float(index[0] - index[upper].min()), peak=int(np.nanargmax(tables["run"]["grad_norm"])),
               window=(int(epochs[steepest] - slack), int(epochs[steepest + 1] + slack)))
    return out


def checks(tables: dict[str, pd.DataFrame], models, hessian_every: int) -> list[Check]:
    """The paper's three statements: the lowest index at equal loss; in the escape run, a fall mostly
    at large loss and a gradient peak during the fastest fall."""
    m = measure(tables, models, hessian_every)
    why, why_run = m["why_lowest"], m["why_run"]
    out = [check(f"2-shortcut's index is the lowest at ≥ {LOWEST_SHARE:.0%} of the common losses",
                 None if why else bool(m["lowest"] >= LOWEST_SHARE), "" if why else f"at {m['lowest']:.0%}",
                 reason=why)]
    if why_run:
        share = ""
    elif m["total_drop"] > 0:
        share = f"{m['early_drop'] / m['total_drop']:.0%} of the fall in the upper half of the losses"
    else:
        share = "the index does not fall"
    out.append(check(f"its index falls mostly at large loss (≥ {EARLY_SHARE:.0%} of the fall while the loss is in "
                     "the upper half of the run's range)",
                     None if why_run else bool(m["total_drop"] > 0 and m["early_drop"] >= EARLY_SHARE * m["total_drop"]),
                     share, reason=why_run))
    why_peak = why_run or ("" if m["total_drop"] > 0 else "the index does not fall: no fall to time the peak by")
    out.append(check("the gradient norm peaks where the index falls fastest",
                     None if why_peak else bool(m["window"][0] <= m["peak"] <= m["window"][1]),
                     "" if why_peak else f"peak at epoch {m['peak']}; fastest fall, widened by {PEAK_SLACK} Hessian "
                     f"interval(s) each side: epochs {m['window'][0]}–{m['window'][1]}", reason=why_peak))
    return out


def numbers(tables: dict[str, pd.DataFrame], models, hessian_every: int) -> dict[str, Any]:
    """The values the chapter's prose quotes ('n/a' where they cannot be computed)."""
    m = measure(tables, models, hessian_every)
    out = {"lowest": "n/a" if m["why_lowest"] else f"{m['lowest']:.0%}"}
    if m["why_run"]:
        return {**out, **dict.fromkeys(("index0", "index_end", "peak", "window"), "n/a")}
    return {**out, "index0": f"{m['index0']:.3f}", "index_end": f"{m['index_end']:.3f}", "peak": m["peak"],
            "window": "{}–{}".format(*m["window"])}


def run(P: Any, root=None) -> Result:
    """Run (or resume) the runs of Figs 5 and 6 (:func:`dynamics.sweep`), then collect, draw and check."""
    records, escape = dynamics.sweep(P, root)
    tables, excluded = collect(records, escape, P.models, P.grid_points)
    scale = {**dynamics.scale(P, dynamics.problem(P)),
             "right": f"{P.fig6_epochs} epochs, Hessian every {P.fig6_hessian_every}"}
    note = {**scale, "left out": "; ".join(excluded)} if excluded else scale
    return Result(label="Figure 6", claim=CLAIM, checks=checks(tables, P.models, P.fig6_hessian_every), scale=scale,
                  figure=draw(tables, P.models, P.depth, scale=note), table=tables,
                  numbers=numbers(tables, P.models, P.fig6_hessian_every), excluded=excluded)
