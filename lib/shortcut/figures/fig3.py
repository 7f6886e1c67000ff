"""Figure 3 of the paper: the weights of deeper 2-shortcut networks are smaller throughout training
(Section 4 after Theorem 1, Fig. 3).

The runs are the 2-shortcut runs of Figures 7 (linear) and 8 (ReLUs at the mid positions), followed
through training: the average Frobenius norm of their weight matrices at every epoch, averaged over
seeds. All depths of a panel are compared at *one* rate, so that depth is the only difference: the
largest rate of the grid at which no run of any of those depths diverged.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure

from ..experiments.records import Record
from . import fig7, fig8, plots, rates
from .checks import Check, check
from .result import Result

LABEL = "Figure 3"
CLAIM = ("The weights of deeper 2-shortcut nets (zero init) have smaller average Frobenius norms during "
         "training, linear and with ReLUs at mid positions.")
SHORTCUT = "2-shortcut"  # the networks Fig. 3 follows
MIN_ORDERED = 0.9  # ours: "deeper → smaller" must hold at 90 % of the epochs after the burn-in
BURN_IN = 10  # the checks skip the first tenth of the epochs (at least one): the nets leave the neighbourhood of zero


def burn_in(epochs: int) -> int:
    """The epochs the checks ignore: every depth starts at the same tiny norm near zero."""
    return max(1, epochs // BURN_IN)


def common_rate(grid: pd.DataFrame, depths: Sequence[int]) -> float:
    """The largest rate at which no 2-shortcut run of any of ``depths`` diverged (NaN if there is none)."""
    g = grid[(grid["model"] == SHORTCUT) & grid["depth"].isin(depths)]
    ok = g.groupby("lr")["diverged"].sum() == 0
    return float(ok[ok].index.max()) if ok.any() else float("nan")


def collect(records: Sequence[Record], depths: Sequence[int], panel: str) -> pd.DataFrame:
    """One row per (depth, epoch) of ``panel``: the mean over seeds of the average Frobenius norm of the
    2-shortcut nets of ``depths`` at their common rate, that rate, the runs averaged (none diverged at that
    rate) and whether the net trained."""
    recs = [r for r in records if r.key["model"] == SHORTCUT and r.key["depth"] in depths]
    grid = rates.rate_grid(recs, [SHORTCUT])
    lr = common_rate(grid, depths) if len(grid) else float("nan")
    rows = []
    for depth in sorted({r.key["depth"] for r in recs}) if np.isfinite(lr) else []:
        runs = [r.data["runs"][r.key["lrs"].index(lr)] for r in recs if r.key["depth"] == depth]
        frob = np.nanmean(np.asarray([run["frob"] for run in runs], float), axis=0)
        at = grid[(grid["depth"] == depth) & (grid["lr"] == lr)].iloc[0]
        ok = rates.trained(at["mean"], at["initial"])
        rows += [{"panel": panel, "depth": depth, "lr": lr, "runs": len(runs), "trained": ok, "epoch": e, "frob": v}
                 for e, v in enumerate(frob)]
    return pd.DataFrame(rows, columns=["panel", "depth", "lr", "runs", "trained", "epoch", "frob"])


def ordered_fraction(curves: pd.DataFrame, start: int) -> float:
    """The fraction of the epochs from ``start`` on at which the norms strictly decrease with depth
    (``curves``: one panel's rows of :func:`collect`)."""
    norms = curves[curves["epoch"] >= start].pivot(index="depth", columns="epoch", values="frob").sort_index()
    return float(np.mean(np.all(np.diff(norms.to_numpy(), axis=0) < 0, axis=0)))


def checks(table: pd.DataFrame, panels: Sequence[str], start: int) -> list[Check]:
    """Per panel: the norms ordered by depth at :data:`MIN_ORDERED` of the epochs from ``start`` on;
    and every network left its initial point."""
    out = []
    for panel in panels:
        t = table[table["panel"] == panel]
        name = f"{panel}: norms ordered by depth at ≥ {100 * MIN_ORDERED:.0f}% of the epochs from {start} on"
        if t["depth"].nunique() < 2:
            out.append(check(name, None, reason=f"{t['depth'].nunique()} depths ran at a rate at which none "
                                                 "diverged; an order needs two"))
            continue
        f = ordered_fraction(t, start)
        out.append(check(name, f >= MIN_ORDERED, f"{100 * f:.0f}% of epochs {start}–{t['epoch'].max()}"))
    nets = table.drop_duplicates(["panel", "depth"])
    untrained = [f"{r.panel} depth {r.depth}" for r in nets.itertuples() if not r.trained]
    name = "every network left its initial point"
    out.append(check(name, not untrained, f"not: {', '.join(untrained)}" if untrained else "")
               if len(nets) else check(name, None, reason="no network ran at a common stable rate"))
    return out


def draw(table: pd.DataFrame, panels: Sequence[str], start: int, note: str) -> Figure:
    """The mean norm against the epoch, one line per depth, one panel per ``panels`` (dotted: the end
    of the burn-in the checks ignore)."""
    fig, axes = plt.subplots(1, len(panels), figsize=(10, 4.2), sharey=True, squeeze=False)
    plt.close(fig)  # shown where the chapter glues it, not again at the end of the cell
    axes = axes[0]
    cmap = colormaps["viridis"]
    for ax, panel in zip(axes, panels):
        t = table[table["panel"] == panel]
        depths = sorted(t["depth"].unique())
        for i, depth in enumerate(depths):
            c = t[(t["depth"] == depth) & (t["epoch"] >= 1)]
            ax.plot(c["epoch"], c["frob"], color=cmap(i / max(1, len(depths) - 1)),
                    label=f"depth {depth}" + ("" if c["trained"].iloc[0] else " (not trained)"))
        ax.axvline(start, color="#999999", ls=":", lw=1)
        rate = f"learning rate {t['lr'].iloc[0]:.3g}" if len(t) else "no rate at which no run diverged"
        ax.set(xscale="log", yscale="log", xlabel="epoch", title=f"2-shortcut, {panel}, {rate}")
        if depths:
            ax.legend(fontsize=7)
    axes[0].set(ylabel="average Frobenius norm of the weights")
    plots.scale_note(fig, note)
    return fig


def numbers(table: pd.DataFrame, keys: Mapping[str, str], start: int) -> dict[str, str | int]:
    """The values the prose quotes, per panel (``keys``: panel -> short name used in the glue keys)."""
    out: dict[str, str | int] = {"burn_in": start}
    for panel, key in keys.items():
        t = table[table["panel"] == panel]
        frac = ordered_fraction(t, start) if t["depth"].nunique() > 1 else float("nan")
        last = t[t["epoch"] == t["epoch"].max()]
        out[f"frac_{key}"] = f"{100 * frac:.0f}%"
        out[f"final_{key}"] = ", ".join(f"{v:.3g} (depth {d})" for d, v in zip(last["depth"], last["frob"])) or "none"
        out[f"rate_{key}"] = f"{t['lr'].iloc[0]:.3g}" if len(t) else "none"
    return out


PANELS = {"linear": "lin", "ReLU at mid": "relu"}  # the two panels of Fig. 3 and their short names


def excluded(P) -> list[str]:
    """The depths of ``P.fig3_depths`` a panel leaves out because its figure's sweep did not run them."""
    out = []
    for panel, depths in zip(PANELS, (P.depths, P.relu_depths)):
        missing = [d for d in P.fig3_depths if d not in depths]
        if missing:
            out.append(f"{panel}: depths {missing} (not among that figure's depths, so not run)")
    return out


def runs_text(table: pd.DataFrame, panel: str) -> str:
    """How many runs a panel averages, at its rate (at which none of them diverged)."""
    nets = table[table["panel"] == panel].drop_duplicates("depth")
    return f"{int(nets['runs'].sum())} runs, none of which diverged at that rate" if len(nets) else "no runs"


def run(P, linear: Sequence[Record] | None = None, relu: Sequence[Record] | None = None) -> Result:
    """Figure 3 from the chapter's parameters ``P`` and the records of Figures 7 (``linear``) and 8
    (``relu``); the runs are made (or found) when they are not given."""
    if linear is None or relu is None:
        linear, relu = rates.sweep(P, {"Fig 7": fig7.jobs(P), "Fig 8": fig8.jobs(P)}).values()
    start, panels = burn_in(P.epochs), list(PANELS)
    depths = {panels[0]: [d for d in P.fig3_depths if d in P.depths],
              panels[1]: [d for d in P.fig3_depths if d in P.relu_depths]}
    table = pd.concat([collect(linear, depths[panels[0]], panels[0]), collect(relu, depths[panels[1]], panels[1])],
                      ignore_index=True)
    prob, m8 = rates.problem(P, P.n_samples), rates.problem(P, P.relu_samples).m
    left_out = excluded(P)
    note = (f"{prob.source} · linear: {prob.m} samples, depths {depths[panels[0]]}; ReLU: {m8} samples, depths "
            f"{depths[panels[1]]}; epochs {P.epochs} (the paper: {rates.PAPER_EPOCHS}); mean of {P.seeds} seeds; one "
            f"rate per panel (the largest at which no run of the panel diverged); ε {P.eps:g}"
            + (f" · left out: {'; '.join(left_out)}" if left_out else ""))
    lr = {p: float(table.loc[table["panel"] == p, "lr"].iloc[0]) if (table["panel"] == p).any() else float("nan")
          for p in panels}
    scale = {"data": prob.source, "samples": f"{prob.m} (linear), {m8} (ReLU)", "depths": depths,
             "epochs": P.epochs, "seeds": P.seeds, "rates": {k: float(f"{v:.3g}") for k, v in lr.items()}}
    quoted = {**numbers(table, PANELS, start), "excluded": "; ".join(left_out) or "no depth",
              **{f"runs_{key}": runs_text(table, panel) for panel, key in PANELS.items()}}
    return Result(label=LABEL, claim=CLAIM, checks=checks(table, panels, start), scale=scale,
                  figure=draw(table, panels, start, note), table=table, numbers=quoted, excluded=left_out)
