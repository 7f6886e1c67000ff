"""What Figs 2 and 9 of the paper share: the CIFAR pre-ResNet runs (Section 6, Figs 2 and 9).

Both figures train fb.resnet.torch's pre-activation ResNet with SGD
(:func:`~shortcut.experiments.cifar.train_job`), one run record per (n, depth, seed), on CIFAR-10 or,
where it is not available, on a stand-in (MNIST digits padded to 32×32). This module turns a
chapter's parameters ``P`` into the runs' common keys, runs a figure's jobs (resumable, any executor),
names the stand-in, and lists the networks a chapter uses.
"""

from __future__ import annotations

import functools
import html
from pathlib import Path
from typing import Any

import pandas as pd

from .checks import verdict
from ..experiments.cifar import STANDIN_NAME, dataset_name, load_images, prune_checkpoints, train_job
from ..experiments.sweep import records_for, run_jobs
from ..science.preresnet import PreResNet, admits, count_params, stage_channels, units_per_stage, valid_depths

#: What a Result names when the runs were on the stand-in: no verdict on the paper's claim then.
STANDIN = "MNIST digits padded to 32×32 (not CIFAR-10)"


def on_standin(P: Any) -> bool:
    return P.dataset == "standin"


def standin(P: Any) -> str:
    """What a Result names as its data when they are the stand-in ('' for CIFAR-10)."""
    return STANDIN if on_standin(P) else ""


def base_job(P: Any) -> dict:
    """The keys every run of a chapter shares: the data and the network's width. (The order of the
    keys names the record files: keep it.)"""
    return {"dataset": P.dataset, "width": P.width, "n_train": P.n_train, "n_test": P.n_test,
            "batch_size": P.batch_size}


def _data_dir(P: Any) -> str | None:
    return None if P.data_dir is None else str(P.data_dir)


def root(P: Any) -> Path:
    """The chapter's results folder (``P.results_dir / P.chapter``): records and checkpoints."""
    return Path(P.results_dir) / P.chapter


def run(P: Any, jobs: list[dict], desc: str) -> tuple[list, list[str]]:
    """Run (or resume) ``jobs``; return their records and one line per group of jobs left without one.

    A failed job keeps no record (a later run retries it); the others are kept and used. The
    checkpoints of finished runs are deleted.
    """
    records_dir, work = root(P) / "records", root(P) / "checkpoints"
    remote = getattr(P, "executor", None) == "dask" and getattr(P, "address", None)
    fn = functools.partial(train_job, device="auto" if remote else str(P.device),   # remote workers pick their own
                           work_dir=str(work), data_dir=_data_dir(P))
    failed = None
    try:
        records = run_jobs(P, records_dir, jobs, fn, desc=desc)
    except Exception as err:  # noqa: BLE001 - a failed job is reported in the result, the others are drawn
        failed, records = err, records_for(records_dir, jobs)
    prune_checkpoints(records_dir, work, jobs)
    missing = len(jobs) - len(records)
    excluded = [f"{missing} of {len(jobs)} runs have no record"
                + (f" (a run failed: {type(failed).__name__}: {failed}; re-run the page to retry)" if failed else "")
                ] if missing else []
    if not records:
        raise RuntimeError(f"{desc}: no run has a record, nothing to draw") from failed
    return records, excluded


def scale(P: Any, records: list) -> dict:
    """What the runs of a figure were: data, images, width, batch, depths, epochs, runs."""
    keys = [r.key for r in records]
    return {"data": "stand-in, MNIST digits padded to 32×32 — not CIFAR-10" if on_standin(P) else "CIFAR-10",
            "train images": records[0].data["n_train"] if records else P.n_train,
            "test images": records[0].data["n_test"] if records else P.n_test,
            "width": P.width, "batch": P.batch_size, "depths": sorted({k["depth"] for k in keys}),
            "epochs": sorted({k["epochs"] for k in keys}), "runs": len(records)}


def observed(checks: list, P: Any) -> str:
    """What the checks add up to on the data of the runs, labelled when those are the stand-in (then
    it is an observation on the stand-in, not a verdict on the paper's claim)."""
    return verdict(checks) + (" (on the stand-in, not CIFAR-10)" if on_standin(P) else "")


def scale_line(scale: dict) -> str:
    """A scale as one line (``key value; key value``: values may hold commas)."""
    return "; ".join(f"{k} {v}" for k, v in scale.items())


def time_spent(records: list) -> dict[str, str]:
    """Hours of training in ``records`` and the devices they ran on, for the prose."""
    seconds = sum(sum(r.data["history"]["seconds"]) for r in records)
    return {"hours": f"{seconds / 3600:.2f}", "devices": ", ".join(sorted({r.data["device"] for r in records}))}


def about_data(P: Any) -> dict[str, str]:
    """The data of a chapter, for the prose: its name, the numbers of images, the batch size."""
    data = load_images(P.dataset, _data_dir(P), P.n_train, P.n_test)
    return {"dataset": data.name, "n_train": f"{data.n_train:,}", "n_test": f"{data.n_test:,}",
            "batch": f"{P.batch_size}"}


def networks(P: Any) -> tuple[pd.DataFrame, str]:
    """The networks of a chapter: per depth, the units per stage of each n it admits, the parameter
    count (the same for every n), and the figures that use it; and a line on channels and valid depths."""
    ns = sorted(set(P.ns) | {2})
    rows = []
    for depth in sorted(set(P.depths) | set(P.fig2_depths)):
        row: dict[str, Any] = {"depth D": depth}
        for n in ns:
            row[f"n={n}: units per stage"] = units_per_stage(depth, n) if admits(depth, n) else "—"
        params = {count_params(PreResNet(depth, n, width=P.width)) for n in ns if admits(depth, n)}
        row["parameters"] = ", ".join(f"{p:,}" for p in sorted(params))
        row["used in"] = " & ".join(f for f, ok in (("Figure 9", depth in P.depths), ("Figure 2", depth in P.fig2_depths)) if ok)
        rows.append(row)
    every_n = valid_depths(P.ns, max(P.depths))
    note = (f"width multiplier {P.width}: channels {stage_channels(P.width)}; "
            f"depths valid for every n in {list(P.ns)} up to {max(P.depths)}: {every_n or 'none'}")
    return pd.DataFrame(rows).set_index("depth D"), note


class Admonition:
    """A MyST-style admonition box as a notebook output (HTML in Jupyter and in the built book)."""

    def __init__(self, kind: str, title: str, body: str):
        self.kind, self.title, self.body = kind, title, body

    def _repr_html_(self) -> str:
        return (f'<div class="admonition {html.escape(self.kind)}"><p class="admonition-title">{html.escape(self.title)}</p>'
                f"<p>{html.escape(self.body)}</p></div>")

    def _repr_markdown_(self) -> str:
        return f"**{self.title}:** {self.body}"

    def __repr__(self) -> str:
        return f"{self.title.upper()}: {self.body}"


def standin_warning(dataset: str, what: str = "these results") -> Admonition | None:
    """The warning to show above every figure computed on the stand-in (None for CIFAR-10)."""
    if dataset_name(dataset) != STANDIN_NAME:   # (an unknown dataset raises)
        return None
    return Admonition("warning", "Not CIFAR-10",
                      f"{what[:1].upper() + what[1:]} are on the {STANDIN_NAME}. They exercise the code path of "
                      "the paper's CIFAR-10 experiment at a small scale; they are not evidence about CIFAR-10, and "
                      "the status table gives these figures no verdict ('not tested'). "
                      "See 'Running on real CIFAR-10' below.")
