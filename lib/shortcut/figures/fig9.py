"""Figure 9 of the paper: final test error of pre-ResNets of shortcut depth n against their total depth
on CIFAR-10 (Section 6, Fig. 9).

Each residual unit holds n BN-ReLU-conv layers; the total depth D and the parameter count are held
fixed across n (:mod:`shortcut.science.preresnet`), so each n is run at the depths it admits. One run
per (n, depth, seed) of :func:`~shortcut.experiments.cifar.train_job`; the figure draws the test error
after the last epoch, mean ± std over seeds. The paper's claim: only n = 2 keeps improving as the
networks get extremely deep; n = 1, 3, 4 get worse.
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np
import pandas as pd

from . import analysis, cifar_runs, plots
from .checks import Check, check, describe
from .result import Result
from ..experiments.cifar import PAPER_EPOCHS, default_milestones
from ..science.preresnet import admits

CLAIM = "Only pre-ResNets with shortcut depth n = 2 keep improving as they get extremely deep; n = 1, 3, 4 degrade."
#: Fewest depths at which an n must have records for "improves with depth" to be told (a trend needs two points).
MIN_DEPTHS = 2


def jobs(P: Any) -> list[dict]:
    """One run per (depth, n, seed), for every n at the depths it admits, for ``P.epochs``."""
    milestones = default_milestones(P.epochs, PAPER_EPOCHS)
    return [{**cifar_runs.base_job(P), "n": n, "depth": d, "seed": s, "epochs": P.epochs, "milestones": milestones}
            for d in P.depths for n in P.ns if admits(d, n) for s in range(P.seeds)]


def collect(records) -> pd.DataFrame:
    """One row per (n, depth): mean, std and count over seeds of the final test error (a fraction);
    ``model`` names the network ('2-shortcut') for the plotting colours."""
    rows = [{"n": int(n), "model": f"{n}-shortcut", "depth": int(x), "mean": mean, "std": std, "runs": int(k)}
            for n, a in sorted(analysis.aggregate(records, x="depth", y="final_test_error", by="n").items())
            for x, mean, std, k in zip(a["x"], a["mean"], a["std"], a["n"])]
    return pd.DataFrame(rows, columns=["n", "model", "depth", "mean", "std", "runs"])


def draw(table: pd.DataFrame, scale=None, title_note: str = ""):
    """Final test error (%) against depth, one line per n with a ±1 std band, log depth axis."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    percent = table.assign(mean=100 * table["mean"], std=100 * table["std"])
    plots.mean_std(ax, plots.groups(percent, "depth"), ms=4)
    depths = sorted(table["depth"].unique())
    ax.set(xscale="log", xlabel="depth D (weight layers)", ylabel="final test error (%)",
           title=f"Pre-ResNets of shortcut depth n{title_note}")
    ax.set_xticks(depths)
    ax.get_xaxis().set_major_formatter(mticker.ScalarFormatter())
    ax.minorticks_off()
    ax.legend(fontsize=8, title="shortcut depth")
    if scale:
        plots.scale_note(fig, scale)
    plt.close(fig)
    return fig


def curves(table: pd.DataFrame) -> dict[int, pd.DataFrame]:
    """The rows of each n that can show a trend (records at :data:`MIN_DEPTHS` depths or more, a finite
    mean at one of them at least), by depth."""
    return {int(n): rows.sort_values("depth") for n, rows in table.groupby("n")
            if len(rows) >= MIN_DEPTHS and np.isfinite(rows["mean"]).any()}


def keeps_improving(rows: pd.DataFrame) -> bool:
    """The error at the deepest depth is the lowest of the run's depths."""
    return bool(np.nanargmin(rows["mean"].to_numpy(float)) == len(rows) - 1)


def at_deepest(table: pd.DataFrame) -> str:
    """The mean errors of every n at the deepest depth that has records."""
    if table.empty:
        return "no records"
    deepest = int(table["depth"].max())
    rows = table[table["depth"] == deepest].sort_values("n")
    return f"D = {deepest}: " + ", ".join(f"n={n} {100 * e:.2f}%" for n, e in zip(rows["n"], rows["mean"]))


def checks(table: pd.DataFrame) -> list[Check]:
    """The paper's claim on the table of :func:`collect`: n = 2 improves up to its deepest depth, the others do not."""
    c = curves(table)
    others = [n for n in c if n != 2]
    if 2 in c:
        two = c[2]["mean"].to_numpy(float)
        first = check(f"n = 2: the deepest net (D = {int(c[2]['depth'].iloc[-1])}) has the lowest error of its depths",
                      keeps_improving(c[2]), f"{100 * two[-1]:.2f}% vs {100 * np.nanmin(two[:-1]):.2f}% at best below")
    else:
        first = check("n = 2: the deepest net has the lowest error of its depths", None,
                      reason=f"n = 2 has records at fewer than {MIN_DEPTHS} depths")
    improving = [n for n in others if keeps_improving(c[n])]
    second = check("no other n has its lowest error at its deepest depth", None if not others else not improving,
                   f"those that do: {improving or 'none'}; mean errors at {at_deepest(table)}" if others else "",
                   reason="" if others else f"no n other than 2 has records at {MIN_DEPTHS} depths or more")
    return [first, second]


def run(P: Any) -> Result:
    """Run (or resume) Fig 9's runs under ``P.results_dir / P.chapter``, then collect, draw and check."""
    records, excluded = cifar_runs.run(P, jobs(P), desc="Fig 9 runs")
    table = collect(records)
    lost = sum(not np.isfinite(r.data["final_test_error"]) for r in records)
    if lost:
        excluded.append(f"{lost} of {len(records)} runs ended without a finite test error; means over the others")
    scale = {**cifar_runs.scale(P, records), "seeds": P.seeds, "ns": list(P.ns)}
    standin = cifar_runs.standin(P)
    found = checks(table)
    return Result(label="Figure 9", claim=CLAIM, checks=found, scale=scale, table=table, excluded=excluded,
                  figure=draw(table, cifar_runs.scale_line(scale), " on the stand-in" if standin else ""),
                  numbers={"at_deepest": at_deepest(table), "deepest": int(table["depth"].max()),
                           "observed": cifar_runs.observed(found, P),
                           "detail": describe(found),
                           "scale": cifar_runs.scale_line(scale),
                           **cifar_runs.time_spent(records)},
                  standin=standin)
