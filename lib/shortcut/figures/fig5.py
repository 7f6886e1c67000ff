"""Figure 5 of the paper: the extreme eigenvalues of the Hessian, and their ratio, against the loss
along training (Section 5, Fig. 5).

The runs and the common loss grid are :mod:`shortcut.figures.dynamics`'; this module draws
max|λ|, P10|λ| and max|λ| / P10|λ| at equal losses and checks the paper's reading of them: 2-shortcut
against each of Xavier and orthogonal by name (:data:`dynamics.CONTRASTS`), at the chapter's rate and
again at the smaller ``safe_lr``, where no run diverges and none is left out (a second row).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from . import dynamics, plots
from .checks import Check, check
from .result import Result

CLAIM = ("At equal loss, 2-shortcut's condition number is smaller than Xavier's and orthogonal's, most at large "
         "loss; 2-shortcut and orthogonal end near the same value.")
SMALLEST_SHARE = 0.9  # "smaller at every loss": 2-shortcut's below Xavier's and orthogonal's at ≥ 90 % of the common
#                       losses (each by name: dynamics.CONTRASTS)
END_FACTOR = 2.0      # "ends near the orthogonal network's": the two within a factor 2 of each other
END_CHANGED = ("replaced on 2026-11-23 (commit d78bce1) after the paper-scale run, where the two readings disagree: "
               "the runs end at different losses, and there P10|λ| falls so steeply that a small difference in how "
               "far a run got moves the condition number by orders of magnitude; the figure compares at equal loss")
PANELS = (("max_abs", r"$\max|\lambda|$"), ("p10_abs", r"$P_{10}|\lambda|$"),
          ("cond", r"$\max|\lambda| / P_{10}|\lambda|$"))


def collect(records, models, grid_points: int) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """(the curves: :func:`dynamics.curves` of the runs that did not diverge; the last epoch of each
    such run: model, seed, loss, cond; one line per model with diverged runs)."""
    runs, excluded = dynamics.survivors(records, models)
    table = dynamics.curves(runs, dynamics.loss_grid(runs, grid_points), stats=[s for s, _ in PANELS])
    final = pd.DataFrame([{"model": m, "seed": i, "loss": run["loss"][-1], "cond": run["hessian_cond"][-1]}
                          for m, rs in runs.items() for i, run in enumerate(rs)],
                         columns=["model", "seed", "loss", "cond"])
    return table, final, excluded


def draw(table: pd.DataFrame, models, depth: int, scale=None, safe: pd.DataFrame | None = None, lr=None, safe_lr=None):
    """Three panels against the loss (training runs right to left), mean ± std over runs; with
    ``safe``, the same at the safe rate in a second row."""
    rows = [table] + ([safe] if safe is not None else [])
    fig, axes = plt.subplots(len(rows), 3, figsize=(12, 3.9 * len(rows)), squeeze=False)
    for row, t in zip(axes, rows):
        for ax, (stat, label) in zip(row, PANELS):
            plots.mean_std(ax, plots.groups(t[t["stat"] == stat], "loss"), order=models, marker=None)
            ax.set(xscale="log", yscale="log", xlabel="loss", ylabel=label)
            plots.loss_ticks(ax.xaxis)
            ax.invert_xaxis()
        if row[0].lines:
            row[0].legend(fontsize=8)
    if safe is not None:
        axes[0][0].set_title(f"lr {lr:g}", loc="left", fontsize=9)
        axes[1][0].set_title(f"lr {safe_lr:g}: the safe rate", loc="left", fontsize=9)
    fig.suptitle(f"Depth {depth}: spectrum against the loss (training runs right to left)")
    if scale:
        plots.scale_note(fig, scale)
    plt.close(fig)
    return fig


def measure(table: pd.DataFrame, final: pd.DataFrame, models) -> dict[str, Any]:
    """The numbers the checks decide on (``why``: why they cannot be computed, '' when they can)."""
    share, why = dynamics.below(table, "cond", models)
    if why:
        return {"why": why}
    cond, _ = dynamics.compared(table, "cond", dynamics.TRIO, needed=dynamics.TRIO)
    two = cond["2-shortcut"].to_numpy()
    ratio = np.min([cond[m].to_numpy() / two for m in dynamics.CONTRASTS], axis=0)  # > 1: 2-shortcut better
    third = max(1, len(ratio) // 3)
    out = {"why": "", "smaller": share["both"], "share": share, "points": len(ratio),
           "high": float(np.mean(ratio[-third:])), "low": float(np.mean(ratio[:third])),
           "end_loss": float(cond.index[0])}
    if "orthogonal" in models:
        out["end"] = float(two[0] / cond["orthogonal"].iloc[0])
        last = final.groupby("model")[["loss", "cond"]].mean()
        out["final"] = float(last.loc["2-shortcut", "cond"] / last.loc["orthogonal", "cond"])
        out["final_losses"] = (float(last.loc["2-shortcut", "loss"]), float(last.loc["orthogonal", "loss"]))
    return out


def checks(table: pd.DataFrame, final: pd.DataFrame, models, safe: pd.DataFrame | None = None,
           safe_excluded=(), safe_lr: float = float("nan")) -> list[Check]:
    """The paper's three statements, at the losses every model's runs pass through; the first again at
    the safe rate (``safe``: :func:`collect`'s table of the runs at ``safe_lr``; ``safe_excluded``: its
    diverged runs)."""
    m = measure(table, final, models)
    why = m["why"]
    out = [check(f"2-shortcut's condition number is the smallest, below Xavier's and orthogonal's, at "
                 f"≥ {SMALLEST_SHARE:.0%} of the common losses",
                 None if why else bool(m["smaller"] >= SMALLEST_SHARE),
                 "" if why else dynamics.shares(m["share"]), reason=why,
                 threshold=f"≥ {SMALLEST_SHARE:.0%} of the common losses, below each of the two",
                 threshold_reason='the paper\'s "smaller at every loss"')]
    why2 = why or ("one common loss: no large and small to compare" if m["points"] < 2 else "")
    out.append(check("the advantage is larger at large loss than at small loss (best other network over 2-shortcut, "
                     "largest third of the losses against the smallest third)",
                     None if why2 else bool(m["high"] > m["low"]),
                     "" if why2 else f"×{m['high']:.3g} against ×{m['low']:.3g}", reason=why2,
                     threshold="the factor over the largest third > over the smallest third",
                     threshold_reason='the paper\'s "most of all at large loss"'))
    why3 = why or ("" if "orthogonal" in models else "orthogonal not among the models")
    name = f"2-shortcut and orthogonal end near the same value (within a factor {END_FACTOR:g})"
    within = lambda r: bool(1 / END_FACTOR <= r <= END_FACTOR)  # noqa: E731
    end = dict(threshold=f"ratio between 1/{END_FACTOR:g} and {END_FACTOR:g}",
               threshold_reason='the paper\'s "ends near the orthogonal network\'s"')
    old = check(name + ", after the last epoch", None if why3 else within(m["final"]),
                "" if why3 else f"ratio {m['final']:.3g} at losses {m['final_losses'][0]:.4g} and "
                f"{m['final_losses'][1]:.4g}", reason=why3, **end)
    new = check(name + ", at the smallest loss every run reaches", None if why3 else within(m["end"]),
                "" if why3 else f"ratio {m['end']:.3g} at loss {m['end_loss']:.3g}", reason=why3, **end)
    out.append(replace(new, superseded=(replace(old, changed=END_CHANGED),)))
    out.append(dynamics.ordering(safe, list(safe_excluded), "cond", models, SMALLEST_SHARE, "condition number",
                                 safe_lr))
    return out


def numbers(table: pd.DataFrame, final: pd.DataFrame, models) -> dict[str, str]:
    """The values the chapter's prose quotes ('n/a' where they cannot be computed)."""
    m = measure(table, final, models)
    if m["why"]:
        return dict.fromkeys(("smaller", "smaller_each", "high", "low", "end", "end_loss", "final_ratio",
                              "final_losses"), "n/a")
    na = "n/a"
    return {"smaller": f"{m['smaller']:.0%}", "smaller_each": dynamics.each(m["share"]),
            "high": f"{m['high']:.3g}", "low": f"{m['low']:.3g}",
            "end": f"{m['end']:.3g}" if "end" in m else na, "end_loss": f"{m['end_loss']:.3g}",
            "final_ratio": f"{m['final']:.3g}" if "final" in m else na,
            "final_losses": "{:.4g} and {:.4g}".format(*m["final_losses"]) if "final" in m else na}


def run(P: Any, root=None) -> Result:
    """Run (or resume) the runs of Figs 5 and 6 (:func:`dynamics.sweep`), then collect, draw and check."""
    records, _, safe_records = dynamics.sweep(P, root)
    table, final, excluded = collect(records, P.models, P.grid_points)
    safe, _, safe_excluded = collect(safe_records, P.models, P.grid_points)
    scale = dynamics.scale(P, dynamics.problem(P))
    left = dynamics.left_out(excluded, safe_excluded, P.lr, P.safe_lr)
    share, _ = dynamics.below(safe, "cond", P.models)
    nums = {**numbers(table, final, P.models), "excluded": left, "safe_lr": f"{P.safe_lr:g}",
            "safe_smaller": "n/a" if share is None else f"{share['both']:.0%}",
            "safe_smaller_each": "n/a" if share is None else dynamics.each(share)}
    return Result(label="Figure 5", claim=CLAIM, scale=scale, table=table, numbers=nums,
                  checks=checks(table, final, P.models, safe, safe_excluded, P.safe_lr),
                  figure=draw(table, P.models, P.depth, scale, safe, P.lr, P.safe_lr),  # left out: in the caption
                  excluded=excluded + safe_excluded)
