"""Turning run records into the paper's curves, and curves into verdicts.

Small, pure functions on numbers so that a chapter's verdict is a line of code over data:
aggregation over seeds, interpolation of a run onto a common loss grid (Figs 5, 6), the best rate
of a learning-rate grid (Figs 7, 8), and the trend checks the verdicts are made of.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Callable, Iterable, Mapping

import numpy as np

from ..experiments.records import Record
from ..science.fit import loglog_fit


def aggregate(records: Iterable[Record], x: str, y: Callable[[Record], float] | str, by: str = "model"
              ) -> dict[str, dict[str, np.ndarray]]:
    """Mean, std and count of ``y`` over runs, per ``by`` group and ``x`` value (sorted).

    ``x`` and ``by`` are keys of the records' keys; ``y`` a key of their data or a function of a record.
    Returns ``{group: {"x": xs, "mean": ..., "std": ..., "n": ...}}``; NaNs (diverged runs) are left out
    of the mean and counted out of ``n``.
    """
    get = (lambda r: r.data[y]) if isinstance(y, str) else y
    groups: dict = defaultdict(lambda: defaultdict(list))
    for r in records:
        groups[r.key[by]][r.key[x]].append(float(get(r)))
    out = {}
    for g, cols in groups.items():
        xs = sorted(cols)
        vals = [np.asarray(cols[v], dtype=float) for v in xs]
        out[g] = {
            "x": np.asarray(xs),
            "mean": np.array([np.nanmean(v) if np.isfinite(v).any() else np.nan for v in vals]),
            "std": np.array([np.nanstd(v) if np.isfinite(v).any() else np.nan for v in vals]),
            "n": np.array([int(np.isfinite(v).sum()) for v in vals]),
        }
    return out


def on_loss_grid(loss: np.ndarray, values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """``values`` of one run as a function of its loss, linearly interpolated onto ``grid`` (Fig 5).

    The run's loss need not be monotone: it is made monotone by its running minimum (the loss the
    run has reached so far). Grid points outside the run's range of losses are NaN.
    """
    loss, values = np.asarray(loss, float), np.asarray(values, float)
    ok = np.isfinite(loss) & np.isfinite(values)
    loss, values = np.minimum.accumulate(loss[ok]), values[ok]
    if loss.size < 2:
        return np.full(len(grid), np.nan)
    # np.interp needs increasing x: reverse the (decreasing) loss, keep the last value at each loss
    x, idx = np.unique(loss[::-1], return_index=True)
    v = values[::-1][idx]
    out = np.interp(grid, x, v)
    out[(grid < x[0]) | (grid > x[-1])] = np.nan
    return out


def best_final(losses: Mapping[float, float], rtol: float = 0.0) -> tuple[float, float]:
    """(best rate, its final loss) over a grid ``{lr: final loss}``, among the runs that finished.

    Rates whose losses are within a relative ``rtol`` of the best reached the same loss (round-off):
    the largest of them is taken.
    """
    finite = {lr: v for lr, v in losses.items() if np.isfinite(v)}
    if not finite:
        return float("nan"), float("nan")
    best = min(finite.values())
    lr = max(lr for lr, v in finite.items() if v <= best + rtol * abs(best))
    return lr, finite[lr]


def spread(values: Iterable[float]) -> float:
    """max/min of positive values: 1 means perfectly flat."""
    v = np.asarray(list(values), float)
    v = v[np.isfinite(v)]
    return float(v.max() / v.min()) if v.size and v.min() > 0 else float("nan")


def growth(xs: Iterable[float], ys: Iterable[float]) -> float:
    """Slope of log y against log x (least squares): 0 flat, > 0 growing."""
    return loglog_fit(xs, ys)["slope"]


def verdict_from(checks: Mapping[str, bool]) -> str:
    """'reproduced' when every check holds, 'not reproduced' when none does, 'partly' otherwise."""
    if not checks:
        raise ValueError("verdict_from needs at least one check")
    n = sum(bool(v) for v in checks.values())
    return "reproduced" if n == len(checks) else "not reproduced" if n == 0 else "partly"


def describe_checks(checks: Mapping[str, bool]) -> str:
    """One line listing each check with ✓ or ✗."""
    return "; ".join(f"{'✓' if ok else '✗'} {name}" for name, ok in checks.items())
