"""The runs behind Figures 5 and 6 of the paper: linear networks of one depth trained by full-batch
gradient descent, with the exact Hessian computed along the way, compared at equal loss (Section 5,
Figs. 5 and 6).

Every (model, seed) is one run of :func:`~shortcut.experiments.zoo.gd_job` at one learning rate; Fig 6
adds one longer 2-shortcut run (:func:`escape_job`). Runs move at different speeds, so the paper
compares them *at the same loss*: each run's Hessian statistics are interpolated onto one grid of
losses that every model's runs cover (:func:`curves`) and averaged over runs. Diverged runs are left
out of the averages and counted (:func:`survivors`).
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from . import analysis
from ..experiments.sweep import run_jobs
from ..experiments.zoo import data_keys, gd_job, load_problem

STATS = ("max_abs", "p10_abs", "cond", "index")  # the Hessian's statistics the figures follow


def _common(P: Any) -> dict:
    return {**data_keys(P, P.n_samples), "depth": P.depth, "lrs": [P.lr], "eps": P.eps}


def jobs(P: Any) -> list[dict]:
    """One run per (model, seed): ``P.epochs`` epochs, the Hessian every ``P.hessian_every``."""
    return [{**_common(P), "model": m, "seed": s, "epochs": P.epochs, "hessian_every": P.hessian_every}
            for m in P.models for s in range(P.seeds)]


def escape_job(P: Any) -> dict:
    """Fig 6 (right): one 2-shortcut run, ``P.fig6_epochs`` epochs, the Hessian every ``P.fig6_hessian_every``."""
    return {**_common(P), "model": "2-shortcut", "seed": 0, "epochs": P.fig6_epochs,
            "hessian_every": P.fig6_hessian_every}


def sweep(P: Any, root: str | Path | None = None) -> tuple[list, Any]:
    """Run (or resume) every run of Figs 5 and 6 under ``root`` (default ``P.results_dir / P.chapter``);
    return the records of :func:`jobs` and the record of :func:`escape_job`."""
    root = Path(root) if root is not None else Path(P.results_dir) / P.chapter
    todo, escape = jobs(P), escape_job(P)
    problem(P)  # first: missing data stop here, with the reason, not once per job
    every = todo if escape in todo else [*todo, escape]  # the same run when Fig 6's epochs are the others'
    records = run_jobs(P, root, every, functools.partial(gd_job, device=str(P.device)), desc="Figs 5-6 runs")
    return records[:len(todo)], records[every.index(escape)]


def problem(P: Any):
    """The data the runs were trained on (for the scale line)."""
    return load_problem(_common(P), device=str(P.device))


def scale(P: Any, prob) -> dict:
    """What the runs were computed at, for the scale line and the verdict."""
    return {"data": prob.source, "samples": prob.m, "depth": P.depth, "lr": P.lr, "epochs": P.epochs,
            "Hessian every": P.hessian_every, "seeds": P.seeds}


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
