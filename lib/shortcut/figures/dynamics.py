"""The runs behind Figures 5 and 6 of the paper: linear networks of one depth trained by full-batch
gradient descent, with the exact Hessian computed along the way, compared at equal loss (Section 5,
Figs. 5 and 6).

Every (model, seed) is one run of :func:`~shortcut.experiments.zoo.gd_job` at one learning rate; Fig 6
adds one longer 2-shortcut run (:func:`escape_job`). Runs move at different speeds, so the paper
compares them *at the same loss*: each run's Hessian statistics are interpolated onto one grid of
losses spanning every run's range (:func:`loss_grid`) and averaged over a model's runs wherever all of
them reach that loss (:func:`curves`); each comparison of 2-shortcut with one of :data:`CONTRASTS` reads
the losses that pair of models covers (:func:`pairwise`). Diverged runs are left out of the averages
and counted (:func:`survivors`).

Leaving diverged runs out favours the model that diverges: its curves average only the runs that
started well. So every (model, seed) is run again at a second, smaller rate ``P.safe_lr``, at which
no run of any model should diverge (:func:`safe_jobs`), for the same time ``lr × epochs`` and the
same number of Hessians; the figures check that their ordering holds there too.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from . import analysis, plots
from .checks import Check, check
from ..experiments.sweep import run_jobs
from ..experiments.zoo import data_keys, gd_job, load_problem

STATS = ("max_abs", "p10_abs", "cond", "index")  # the Hessian's statistics the figures follow


def _common(P: Any, lr: float | None = None) -> dict:
    return {**data_keys(P, P.n_samples), "depth": P.depth, "lrs": [P.lr if lr is None else lr], "eps": P.eps}


def jobs(P: Any) -> list[dict]:
    """One run per (model, seed): ``P.epochs`` epochs, the Hessian every ``P.hessian_every``."""
    return [{**_common(P), "model": m, "seed": s, "epochs": P.epochs, "hessian_every": P.hessian_every}
            for m in P.models for s in range(P.seeds)]


def safe_schedule(P: Any) -> tuple[int, int]:
    """(epochs, Hessian every k epochs) of the runs at ``P.safe_lr``: the same time ``lr × epochs`` as
    the runs at ``P.lr``, and as many Hessians."""
    stretch = P.lr / P.safe_lr
    return max(1, round(P.epochs * stretch)), max(1, round(P.hessian_every * stretch))


def safe_jobs(P: Any) -> list[dict]:
    """One run per (model, seed) at the smaller rate ``P.safe_lr`` (:func:`safe_schedule`)."""
    epochs, every = safe_schedule(P)
    return [{**_common(P, P.safe_lr), "model": m, "seed": s, "epochs": epochs, "hessian_every": every}
            for m in P.models for s in range(P.seeds)]


def escape_job(P: Any) -> dict:
    """Fig 6 (right): one 2-shortcut run, ``P.fig6_epochs`` epochs, the Hessian every ``P.fig6_hessian_every``."""
    return {**_common(P), "model": "2-shortcut", "seed": 0, "epochs": P.fig6_epochs,
            "hessian_every": P.fig6_hessian_every}


def sweep(P: Any, root: str | Path | None = None) -> tuple[list, Any, list]:
    """Run (or resume) every run of Figs 5 and 6 under ``root`` (default ``P.results_dir / P.chapter``);
    return the records of :func:`jobs`, the record of :func:`escape_job` and those of :func:`safe_jobs`."""
    root = Path(root) if root is not None else Path(P.results_dir) / P.chapter
    todo, escape, safe = jobs(P), escape_job(P), safe_jobs(P)
    problem(P)  # first: missing data stop here, with the reason, not once per job
    every = list(todo)  # a run two lists share (Fig 6's, or safe_lr = lr) runs once
    every += [j for j in (escape, *safe) if j not in every]
    records = run_jobs(P, root, every, functools.partial(gd_job, device=str(P.device)), desc="Figs 5-6 runs")
    return records[:len(todo)], records[every.index(escape)], [records[every.index(j)] for j in safe]


def problem(P: Any):
    """The data the runs were trained on (for the scale line)."""
    return load_problem(_common(P), device=str(P.device))


def scale(P: Any, prob) -> dict:
    """What the runs were computed at, for the scale line and the verdict."""
    epochs, every = safe_schedule(P)
    return {"data": prob.source, "samples": prob.m, "depth": P.depth, "lr": P.lr, "epochs": P.epochs,
            "Hessian every": P.hessian_every, "seeds": P.seeds,
            "safe lr": f"{P.safe_lr:g} ({epochs} epochs, Hessian every {every})"}


def survivors(records, models) -> tuple[dict[str, list[dict]], list[str]]:
    """The runs that did not diverge, per model in ``models``, and one line per model with diverged
    runs (left out of the averages)."""
    runs, excluded = {}, []
    for m in models:
        rs = [r.data["runs"][0] for r in records if r.key["model"] == m]
        runs[m] = [run for run in rs if run["diverged_at"] < 0]
        if len(runs[m]) < len(rs):
            lr = rs[0]["lr"]
            n = len(runs[m])
            kept = "none is left to average" if not n else "the curves show the other one" if n == 1 else \
                f"the curves average the {n} others"
            excluded.append(f"{len(rs) - len(runs[m])} of {len(rs)} {m} runs diverged at lr {lr:g}; {kept}")
    return runs, excluded


def at_hessian_epochs(run: Mapping, stat: str) -> tuple[np.ndarray, np.ndarray]:
    """(loss, statistic ``stat`` of the Hessian) at the epochs where a run's Hessian was computed."""
    return np.asarray(run["loss"])[run["hessian_epochs"]], np.asarray(run[f"hessian_{stat}"])


def loss_grid(runs: Mapping[str, list], points: int) -> np.ndarray:
    """``points`` losses, geometrically spaced, from the smallest loss any run reached to the largest
    any run started at — every run's whole range — and the ends of each model's own range (the losses
    all its runs cover), so that every pair's comparison starts and ends on the grid; empty when there
    is no run."""
    losses = {m: [at_hessian_epochs(run, "cond")[0] for run in rs] for m, rs in runs.items() if rs}
    every = [x for xs in losses.values() for x in xs]
    if not every:
        return np.array([])
    lo, hi = min(np.nanmin(x) for x in every), max(np.nanmax(x) for x in every)
    if not lo < hi:
        return np.array([])
    ends = [e for xs in losses.values() for e in (max(np.nanmin(x) for x in xs), min(np.nanmax(x) for x in xs))]
    return np.unique(np.concatenate([np.geomspace(lo, hi, points), [e for e in ends if lo <= e <= hi]]))


def common_loss_grid(runs: Mapping[str, list], points: int) -> np.ndarray:
    """``points`` losses, geometrically spaced, over the range that *every* run covers (empty when the
    runs' ranges do not overlap, or there is no run): the grid of the superseded forms of the checks
    (:data:`RANGE_CHANGED`)."""
    losses = [at_hessian_epochs(run, "cond")[0] for rs in runs.values() for run in rs]
    if not losses:
        return np.array([])
    lo, hi = max(np.nanmin(x) for x in losses), min(np.nanmax(x) for x in losses)
    return np.geomspace(lo, hi, points) if lo < hi else np.array([])


def curves(runs: Mapping[str, list], grid: np.ndarray, stats=STATS, complete: bool = False) -> pd.DataFrame:
    """One row per (model, statistic, loss of ``grid``): mean, std and count ``n`` over runs of the
    statistic interpolated at that loss (NaN where no run reaches it), and ``runs``, the model's runs.
    ``complete``: the mean and std only where every run of the model reaches the loss (NaN elsewhere), so
    that no average is over a subset of a model's runs."""
    rows = []
    for m, rs in runs.items():
        if not rs or not len(grid):
            continue
        for stat in stats:
            vals = np.array([analysis.on_loss_grid(*at_hessian_epochs(run, stat), grid) for run in rs])
            with warnings.catch_warnings():  # a loss no run reaches: NaN, said by the count
                warnings.simplefilter("ignore", RuntimeWarning)
                mean, std = np.nanmean(vals, axis=0), np.nanstd(vals, axis=0)
            n = np.isfinite(vals).sum(axis=0)
            if complete:
                mean, std = np.where(n == len(rs), mean, np.nan), np.where(n == len(rs), std, np.nan)
            rows += [{"model": m, "stat": stat, "loss": x, "mean": a, "std": s, "n": int(k), "runs": len(rs)}
                     for x, a, s, k in zip(grid, mean, std, n)]
    return pd.DataFrame(rows, columns=["model", "stat", "loss", "mean", "std", "n", "runs"])


def run_points(runs: Mapping[str, list], stats=STATS) -> pd.DataFrame:
    """Every run's own (loss, statistic) at the epochs where its Hessian was computed, one row each:
    model, seed (its place among the model's runs), stat, loss, value — the whole range of each run,
    as the figures draw it beside the averages."""
    rows = [{"model": m, "seed": i, "stat": stat, "loss": x, "value": v}
            for m, rs in runs.items() for i, run in enumerate(rs) for stat in stats
            for x, v in zip(*at_hessian_epochs(run, stat)) if np.isfinite(x) and np.isfinite(v)]
    return pd.DataFrame(rows, columns=["model", "seed", "stat", "loss", "value"])


def at_common_losses(table: pd.DataFrame, stat: str, models) -> pd.DataFrame:
    """The mean of ``stat``, losses ascending as the index, one column per model of ``models``; only
    the losses where every model's mean is finite."""
    wide = table[table["stat"] == stat].pivot(index="loss", columns="model", values="mean")
    wide = wide.reindex(columns=list(models)).sort_index()
    return wide[np.isfinite(wide.to_numpy(float)).all(axis=1)]


def compared(table: pd.DataFrame, stat: str, models, needed=("2-shortcut",)) -> tuple[pd.DataFrame | None, str]:
    """(:func:`at_common_losses` of ``stat``, '') when the models can be compared at equal loss;
    (None, why) when they cannot."""
    why = not_comparable(table, models, needed)
    wide = at_common_losses(table, stat, models) if not why else None
    if not why and not len(wide):
        why = f"no loss at which every model's {stat} is known"
    return (None, why) if why else (wide, "")


def not_comparable(table: pd.DataFrame, models, needed=("2-shortcut",)) -> str:
    """Why the models cannot be compared at equal loss ('' when they can)."""
    absent = [m for m in needed if m not in models]
    if absent:
        return f"{', '.join(absent)} not among the models"
    if len(models) < 2:
        return "only one model: nothing to compare with"
    if table.empty:
        return "no loss that every run reaches (the runs' loss ranges do not overlap: train longer), or no run left"
    no_curve = [m for m in models if m not in set(table["model"])]
    return f"no curve for {', '.join(no_curve)}: every run diverged" if no_curve else ""


CONTRASTS = ("xavier", "orthogonal")  # the paper's contrasts: 2-shortcut against each of these, by name
TRIO = ("2-shortcut", *CONTRASTS)


def below(table: pd.DataFrame, stat: str, models, strict: bool = True) -> tuple[dict[str, float] | None, str]:
    """At the losses where 2-shortcut and each of :data:`CONTRASTS` can be compared, the share at which
    2-shortcut's ``stat`` is below (``strict``; else at or below) each one's, and below both ("both");
    (None, why) when they cannot be compared (a model absent from ``models``, or every run of it diverged)."""
    wide, why = compared(table, stat, [m for m in models if m in TRIO], needed=TRIO)
    if why:
        return None, why
    two, cmp = wide["2-shortcut"].to_numpy(), np.less if strict else np.less_equal
    hits = {m: cmp(two, wide[m].to_numpy()) for m in CONTRASTS}
    both = float(np.all(list(hits.values()), axis=0).mean())
    return {"both": both, **{m: float(v.mean()) for m, v in hits.items()}}, ""


def each(share: Mapping[str, float], strict: bool = True) -> str:
    """Each contrast's share from :func:`below`, in words."""
    rel = "below" if strict else "at or below"
    return f"{rel} {CONTRASTS[0]}'s at {share[CONTRASTS[0]]:.0%}, {CONTRASTS[1]}'s at {share[CONTRASTS[1]]:.0%}"


def shares(share: Mapping[str, float], strict: bool = True) -> str:
    """A check's detail from :func:`below`: the joint share, then each contrast's."""
    return f"at {share['both']:.0%}: {each(share, strict)}"


CHANGE_DATE = "2026-12-07"
RANGE_CHANGED = (f"replaced on {CHANGE_DATE}, before the new form was run at the default or the paper's scale: it "
                 "read only the losses that every run of every model passes through, whose top is the smallest "
                 "starting loss of any run — a surviving Xavier run's, near 1 — while the 2-shortcut network starts "
                 "near 5, so most of the 2-shortcut network's range of losses, the large-loss regime where the paper "
                 "puts the largest advantage, was left out of the check; each comparison now reads the losses its own "
                 "pair of models covers (every run of both present). The earlier form is a reading of the same claim "
                 "on fewer losses, and still counts")


def pair(table: pd.DataFrame, stat: str, contrast: str) -> pd.DataFrame:
    """2-shortcut's and ``contrast``'s mean ``stat`` (columns), losses ascending, where both are known."""
    return at_common_losses(table, stat, ["2-shortcut", contrast])


def pairwise(table: pd.DataFrame, stat: str, models, strict: bool = True) -> tuple[dict[str, dict] | None, str]:
    """For each of :data:`CONTRASTS`, on the losses that 2-shortcut and it cover (:func:`pair`): the share
    at which 2-shortcut's ``stat`` is below (``strict``; else at or below) the contrast's, the number of
    those losses and their range; (None, why) when some pair cannot be compared."""
    why = not_comparable(table, [m for m in models if m in TRIO], needed=TRIO)
    if why:
        return None, why
    cmp, out = np.less if strict else np.less_equal, {}
    for m in CONTRASTS:
        wide = pair(table, stat, m)
        if not len(wide):
            return None, f"no loss that every run of 2-shortcut and of {m} reaches (their loss ranges do not overlap)"
        hits = cmp(wide["2-shortcut"].to_numpy(), wide[m].to_numpy())
        out[m] = {"share": float(hits.mean()), "points": len(wide), "lo": float(wide.index.min()),
                  "hi": float(wide.index.max())}
    return out, ""


def least_share(pw: Mapping[str, Mapping]) -> float:
    """The smaller of the contrasts' shares from :func:`pairwise`."""
    return min(v["share"] for v in pw.values())


def pair_words(pw: Mapping[str, Mapping], strict: bool = True) -> str:
    """Each contrast's share from :func:`pairwise`, with the losses it was read on, in words."""
    rel = "below" if strict else "at or below"
    return f"{rel} " + ", ".join(f"{m}'s at {v['share']:.0%} of the {v['points']} losses the two cover "
                                 f"({v['lo']:.3g}–{v['hi']:.3g})" for m, v in pw.items())


def ordering(table: pd.DataFrame | None, excluded: list[str], stat: str, models, least: float, what: str,
             lr: float, strict: bool = True, common: pd.DataFrame | None = None) -> Check:
    """The first check of Fig 5 or 6 (2-shortcut's ``what`` below each contrast's at ≥ ``least`` of the
    losses that pair covers, :func:`pairwise`) at the second rate ``lr``, where no run may diverge: with
    diverged runs, or no runs at that rate (``table`` None), it is undecidable. ``common``: the same runs on
    :func:`common_loss_grid`, for the superseded form (:data:`RANGE_CHANGED`)."""
    rel = "below" if strict else "at or below"
    crit = dict(threshold=f"≥ {least:.0%} of the losses each pair covers, every run kept",
                threshold_reason="the first check again where no run diverges, so none is left out of the averages")
    name = (f"at the safe rate {lr:g}, every run of every model kept, 2-shortcut's {what} is still {rel} Xavier's "
            f"and orthogonal's, each at ≥ {least:.0%} of the losses the two cover")
    old_name = (f"at the safe rate {lr:g}, every run of every model kept, 2-shortcut's {what} is still {rel} Xavier's "
                f"and orthogonal's at ≥ {least:.0%} of the common losses")
    old_crit = dict(crit, threshold=f"≥ {least:.0%} of the common losses, every run kept")
    if table is None:
        return check(name, None, reason="no runs at a second, safe rate", **crit)
    if excluded:
        why = f"runs diverged at this rate too ({'; '.join(excluded)}): lower safe_lr"
        return replace(check(name, None, reason=why, **crit),
                       superseded=(replace(check(old_name, None, reason=why, **old_crit), changed=RANGE_CHANGED),))
    pw, why = pairwise(table, stat, models, strict)
    new = check(name, None if why else bool(least_share(pw) >= least), "" if why else pair_words(pw, strict),
                reason=why, **crit)
    if common is None:
        return new
    share, why_old = below(common, stat, models, strict)
    old = check(old_name, None if why_old else bool(share["both"] >= least), "" if why_old else shares(share, strict),
                reason=why_old, **old_crit)
    return replace(new, superseded=(replace(old, changed=RANGE_CHANGED),))


def left_out(excluded: list[str], safe_excluded: list[str], lr: float, safe_lr: float) -> str:
    """Every run left out of an average, at both rates, in words (for the caption and the scale line)."""
    at_lr = "; ".join(excluded) or f"no run diverged at lr {lr:g}"
    at_safe = "; ".join(safe_excluded) or f"no run diverged at the safe rate {safe_lr:g}"
    return f"{at_lr}; {at_safe}"


def draw_runs(ax, points: pd.DataFrame, stat: str, models) -> None:
    """Every run's own curve of ``stat`` against the loss (:func:`run_points`), thin, in its model's
    colour: each run's whole range, beside the averages that :func:`curves` draws."""
    rows = points[points["stat"] == stat]
    for m in models:
        for _, run in rows[rows["model"] == m].groupby("seed"):
            ax.plot(run["loss"], run["value"], color=plots.color(m), lw=0.6, alpha=0.45, zorder=1)


def kept_scored(detail: str) -> str:
    """Which checks scored a kept run, read from its verdict's detail: this module's (each comparison on
    the losses its pair covers, :data:`CHANGE_DATE`) or the earlier ones. A kept file holds the verdict, not
    the runs' curves, so an older kept run cannot be re-scored: it has to be run again."""
    if "losses the two cover" in detail:
        return f"the checks of this page (those of {CHANGE_DATE})"
    return (f"the checks as they were before {CHANGE_DATE}: the comparisons on the losses every run covers, Figure 5's "
            "last-epoch reading counted, Figure 6's drop asked to halve the index")
