"""Made-up records of Figs 5 and 6's gradient-descent runs: a loss falling geometrically and the
Hessian's statistics given as functions of it, so that a test says exactly where the paper's claim
holds and where it does not."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Callable, Mapping

import numpy as np

from shortcut.experiments.records import Record


def record(model: str, stats: Mapping[str, Callable], *, seed: int = 0, epochs: int = 20, every: int = 2,
           rate: float = 0.8, start: float = 1.0, diverged: bool = False, grad_norm: Callable | None = None,
           lr: float = 0.1) -> Record:
    """One run of ``epochs`` epochs whose loss is ``start * rate ** epoch``; the Hessian every ``every`` epochs,
    each statistic of ``stats`` (``cond``, ``index``, …) a function of the loss (the others are 1);
    ``grad_norm`` a function of the epoch (default: falling). ``diverged``: the run blew up at epoch 1; ``lr``
    its learning rate."""
    t = np.arange(epochs + 1)
    loss = start * rate ** t
    h = sorted({*range(0, epochs + 1, every), epochs})
    run = {"lr": lr, "loss": loss.tolist(), "diverged_at": 1 if diverged else -1, "hessian_epochs": h,
           "grad_norm": [float(grad_norm(e)) if grad_norm else float(1 / (1 + e)) for e in t]}
    for stat in ("max_abs", "p10_abs", "cond", "index"):
        f = stats.get(stat, lambda x: np.ones_like(x))
        run[f"hessian_{stat}"] = [float(v) for v in f(loss[h])]
    if diverged:
        run["loss"] = [1.0, 1e9] + [float("nan")] * (epochs - 1)
    key = {"dataset": "mnist", "n_samples": 100, "depth": 4, "lrs": [lr], "eps": 1e-4, "model": model, "seed": seed,
           "epochs": epochs, "hessian_every": every}
    return Record(key=key, data={"runs": [run]}, meta={}, path=Path("made-up.json"))


def params(results_dir, chapter: str = "dynamics", **kw) -> SimpleNamespace:
    """A dynamics chapter's parameters for a tiny real sweep (seconds): depth 2, 200 images, one seed."""
    return SimpleNamespace(**{
        "chapter": chapter, "results_dir": results_dir, "device": "cpu", "dataset": "mnist", "data_dir": None,
        "n_samples": 200, "depth": 2, "models": ["xavier", "orthogonal", "2-shortcut"], "lr": 0.1, "safe_lr": 0.05,
        "epochs": 20, "hessian_every": 5, "seeds": 1, "grid_points": 10, "fig6_epochs": 10, "fig6_hessian_every": 5, "eps": 1e-4,
        "executor": "inline", "workers": None, **kw})
