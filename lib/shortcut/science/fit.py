"""Power laws: the exponent of y ~ x^k by least squares on log-log axes (Theorem 1's O(1/L), Fig 4's growth)."""

from __future__ import annotations

from typing import Iterable

import numpy as np


def loglog_fit(xs: Iterable[float], ys: Iterable[float]) -> dict[str, float]:
    """Least squares ``log y = slope·log x + intercept`` over the finite points; slope, intercept, r2.

    All three are NaN when fewer than two points are finite. Zeros and negatives have no logarithm:
    they are left out like NaNs, without a RuntimeWarning.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        x, y = np.log(np.asarray(list(xs), float)), np.log(np.asarray(list(ys), float))
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 2:
        return {"slope": float("nan"), "intercept": float("nan"), "r2": float("nan")}
    x, y = x[ok], y[ok]
    slope, intercept = np.polyfit(x, y, 1)
    ss = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float(((y - slope * x - intercept) ** 2).sum()) / ss if ss > 0 else 1.0
    return {"slope": float(slope), "intercept": float(intercept), "r2": r2}
