"""Run records of the learning-rate sweep (Figs 3, 7, 8), made up: a few numbers per run, so that a test
can say exactly where the paper's claim holds and where it does not."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from shortcut.experiments.records import Record

EPOCHS = 4


def record(model: str, depth: int, finals: dict, *, seed: int = 0, initial: float = 0.5, frob=1.0,
           optimum: float = 0.1, figure: str = "Fig 7", mid: str = "id") -> Record:
    """One job's record: per rate of ``finals`` ({lr: final loss, or None where the run diverged}) a
    loss going straight from ``initial`` to the final one over :data:`EPOCHS` epochs, and a Frobenius
    norm ``frob`` (a number: constant; a sequence: per epoch)."""
    runs = []
    for lr, final in finals.items():
        if final is None:
            loss, diverged = [initial, 1e9] + [math.nan] * (EPOCHS - 1), 1
        else:
            loss, diverged = list(np.linspace(initial, final, EPOCHS + 1)), -1
        norms = [float(frob)] * (EPOCHS + 1) if np.isscalar(frob) else [float(v) for v in frob]
        runs.append({"lr": lr, "loss": loss, "grad_norm": [1.0] * (EPOCHS + 1), "frob": norms,
                     "diverged_at": diverged})
    key = {"figure": figure, "dataset": "mnist", "n_samples": 100, "model": model, "depth": depth, "mid": mid,
           "seed": seed, "eps": 1e-4, "epochs": EPOCHS, "lrs": list(finals)}
    return Record(key=key, data={"runs": runs, "optimum": optimum}, meta={}, path=Path("made-up.json"))


def seeds(model: str, depth: int, finals: dict, n: int = 2, spread: float = 0.0, **kw) -> list[Record]:
    """``n`` seeds of one (model, depth): the final losses of seed s are ``finals`` times (1 + s * spread)."""
    return [record(model, depth, {lr: None if f is None else f * (1 + s * spread) for lr, f in finals.items()},
                   seed=s, **kw) for s in range(n)]


def params(tmp_path=None, **kw):
    """The mnist chapter's parameters at a tiny scale (``kw`` overrides)."""
    base = dict(chapter="mnist", results_dir=tmp_path, device="cpu", executor="inline", workers=None,
                dataset="mnist", data_dir=None, n_samples=200, relu_samples=100, depths=[2, 4], relu_depths=[2],
                seeds=2, epochs=3, lr_min=0.1, lr_max=1.0, n_lrs=3, eps=1e-4,
                models=["xavier", "2-shortcut", "3-shortcut"], relu_models=["xavier", "2-shortcut"])
    return SimpleNamespace(**{**base, **kw})
