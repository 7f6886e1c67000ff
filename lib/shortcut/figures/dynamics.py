"""The runs behind Figures 5 and 6 of the paper: linear networks of one depth trained by full-batch
gradient descent, with the exact Hessian computed along the way, compared at equal loss (Section 5,
Figs. 5 and 6).

Every (model, seed) is one run of :func:`~shortcut.experiments.zoo.gd_job` at one learning rate; Fig 6
adds one longer 2-shortcut run (:func:`escape_job`). Runs move at different speeds, so the paper
compares them *at the same loss*: each run's Hessian statistics are interpolated onto one grid of
losses that every model's runs cover (:func:`curves`) and averaged over runs. Diverged runs are left
out of the averages and counted (:func:`survivors`).

Leaving diverged runs out favours the model that diverges: its curves average only the runs that
started well. So every (model, seed) is run again at a second, smaller rate ``P.safe_lr``, at which
no run of any model should diverge (:func:`safe_jobs`), for the same time ``lr × epochs`` and the
same number of Hessians; the figures check that their ordering holds there too.
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from . import analysis
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
    """``points`` losses, geometrically spaced, over the range that every run covers (empty when the
    runs' ranges do not overlap, or there is no run)."""
    losses = [at_hessian_epochs(run, "cond")[0] for rs in runs.values() for run in rs]
    if not losses:
        return np.array([])
    lo, hi = max(np.nanmin(x) for x in losses), min(np.nanmax(x) for x in losses)
    return np.geomspace(lo, hi, points) if lo < hi else np.array([])


def curves(runs: Mapping[str, list], grid: np.ndarray, stats=STATS) -> pd.DataFrame:
    """One row per (model, statistic, loss of ``grid``): mean, std and count over runs of the
    statistic interpolated at that loss (NaN where no run reaches it)."""
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
            rows += [{"model": m, "stat": stat, "loss": x, "mean": a, "std": s, "n": int(k)}
                     for x, a, s, k in zip(grid, mean, std, n)]
    return pd.DataFrame(rows, columns=["model", "stat", "loss", "mean", "std", "n"])


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


def ordering(table: pd.DataFrame | None, excluded: list[str], stat: str, models, least: float, what: str,
             lr: float, strict: bool = True) -> Check:
    """The first check of Fig 5 or 6 (2-shortcut's ``what`` below each contrast's at ≥ ``least`` of
    the common losses) at the second rate ``lr``, where no run may diverge: with diverged runs, or no
    runs at that rate (``table`` None), it is undecidable."""
    crit = dict(threshold=f"≥ {least:.0%} of the common losses, every run kept",
                threshold_reason="the first check again where no run diverges, so none is left out of the averages")
    name = (f"at the safe rate {lr:g}, every run of every model kept, 2-shortcut's {what} is still "
            f"{'below' if strict else 'at or below'} Xavier's and orthogonal's at ≥ {least:.0%} of the common losses")
    if table is None:
        return check(name, None, reason="no runs at a second, safe rate", **crit)
    if excluded:
        return check(name, None, reason=f"runs diverged at this rate too ({'; '.join(excluded)}): lower safe_lr",
                     **crit)
    share, why = below(table, stat, models, strict)
    return check(name, None if why else bool(share["both"] >= least), "" if why else shares(share, strict),
                 reason=why, **crit)


def left_out(excluded: list[str], safe_excluded: list[str], lr: float, safe_lr: float) -> str:
    """Every run left out of an average, at both rates, in words (for the caption and the scale line)."""
    at_lr = "; ".join(excluded) or f"no run diverged at lr {lr:g}"
    at_safe = "; ".join(safe_excluded) or f"no run diverged at the safe rate {safe_lr:g}"
    return f"{at_lr}; {at_safe}"
