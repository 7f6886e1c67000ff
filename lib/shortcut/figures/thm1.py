"""Theorem 1 of the paper, executed: the network its proof builds (Section 4.1, Theorem 1 and Eq. 3;
Appendix A.1, Lemmas 1 and 2, Fig. 10).

:func:`compute` builds one network per step length δ with :func:`shortcut.science.theorem1.scaling` on
whitened images normalised to the unit sphere (Assumption 1): every sample walks to a private anchor in
Lemma 1 steps along Lemma 2 paths (the *walk* units, ``L`` of them, whose weights the theorem is about),
then one Lemma 1 unit per remaining sample merges its anchor onto its label (the *merge* units).
:func:`draw` plots the largest walk-unit product ``max_l ‖W_{l,2}‖‖W_{l,1}‖`` against ``L`` on log-log
axes with its least-squares line; :func:`checks` tests the theorem's statements; :func:`run` does all of it.
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..experiments import zoo
from ..science import theorem1
from ..science.data import unit_sphere
from ..science.fit import loglog_fit
from . import plots
from .checks import Check, check
from .result import Result

FIT_TOLERANCE = 1e-8    # "f(x_i) = y_i": the largest |f(x_i) − y_i| that counts as exact in float64
SLOPE = -1.0            # "max_l ‖W_{l,2}‖‖W_{l,1}‖ ≤ C(m, d, ρ)/L": slope −1 on log-log axes
SLOPE_TOLERANCE = 0.1   # a fitted slope within 0.1 of −1 is O(1/L)
SMALL = 1.0             # "every unit small": below 1, which a merging unit cannot be (the chapter's Proposition)
EPS64 = float(np.finfo(np.float64).eps)  # float64 round-off, amplified by the network's Jacobian at a sample

CLAIM = "A network of the form (3) fits every label with all units' weight products O(1/L)."

TABLE_FORMAT = {"delta": "{:g}", "walk_bound": "{:.3g}", "max_walk_product": "{:.3g}", "max_merge_product": "{:.3g}",
                "max_error": "{:.1e}", "max_sensitivity": "{:.3g}", "seconds": "{:.2f}"}


def data(P) -> tuple[np.ndarray, np.ndarray, str]:
    """``P.t1_samples`` images of ``P.dataset`` (from ``P.data_dir``), whitened and scaled to the unit
    sphere: (X (d, m) float64, labels (m,), a line saying which data)."""
    prob = zoo.load_problem(zoo.data_keys(P, P.t1_samples), device="cpu")
    return unit_sphere(prob.X).numpy(), prob.labels.numpy(), prob.source


def compute(X: np.ndarray, labels: np.ndarray, deltas, eta: float) -> pd.DataFrame:
    """One constructed network per step length in ``deltas``: a row each (see ``theorem1.scaling``)."""
    return pd.DataFrame(theorem1.scaling(X, labels, deltas, eta=eta))


def slope(table: pd.DataFrame) -> dict[str, float]:
    """The least-squares line of log(largest walk-unit product) against log L (NaN below two points)."""
    return loglog_fit(table["L"], table["max_walk_product"])


def draw(table: pd.DataFrame, note: str = ""):
    """Largest walk-unit and merge-unit products against the number of walk units L (log-log)."""
    fit = slope(table)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    Ls = table["L"].to_numpy(dtype=float)
    blue = plots.color("2-shortcut")
    ax.plot(Ls, table["max_walk_product"], "o", color=blue, label="walk units (measured)")
    if np.isfinite(fit["slope"]):
        ax.plot(Ls, np.exp(fit["intercept"]) * Ls ** fit["slope"], "-", color=blue,
                label=f"fit: slope {fit['slope']:.3f}")
    ax.plot(Ls, table["max_merge_product"], "s--", color="#7f7f7f", label="merge units (independent of L)")
    ax.axhline(SMALL, color="k", lw=0.6, ls=":")
    return plots.finish_loglog(fig, ax, note, xlabel="walk units L", ylabel=r"$\max_l \|W_{l,2}\|\,\|W_{l,1}\|$",
                               title="Theorem 1's construction")


def check_fit(table: pd.DataFrame) -> Check:
    """Every network fits every label: ``max_i ‖f(x_i) − y_i‖_∞ < FIT_TOLERANCE``. Undecidable where the
    networks that miss amplify float64 round-off (``max_sensitivity · EPS64``) past the tolerance."""
    err = table["max_error"].to_numpy(dtype=float)
    sens = table["max_sensitivity"].to_numpy(dtype=float)
    worst = float(np.nanmax(err)) if np.isfinite(err).any() else float("inf")
    name, detail = "f(x_i) = y_i for every sample", f"max error {worst:.1e}"
    miss = ~(err < FIT_TOLERANCE)
    if not miss.any():
        return check(name, True, detail)
    if np.all(~(sens[miss] * EPS64 < FIT_TOLERANCE)):
        return check(name, None, detail, reason=f"the networks amplify float64 round-off by up to "
                     f"{np.nanmax(sens[miss]):.1e}: the arithmetic cannot check the construction")
    return check(name, False, detail)


def check_slope(table: pd.DataFrame) -> Check:
    """The walk units' largest product falls like 1/L: fitted log-log slope within SLOPE_TOLERANCE of −1."""
    fit = slope(table)
    name = "walk units' products fall like 1/L"
    if not np.isfinite(fit["slope"]):
        return check(name, None, reason=f"{len(table)} step length(s) with finite products: no slope to fit")
    return check(name, abs(fit["slope"] - SLOPE) < SLOPE_TOLERANCE,
                 f"slope {fit['slope']:.3f} within {SLOPE_TOLERANCE:g} of {SLOPE:g}".replace("of -", "of −"))


def check_small(table: pd.DataFrame) -> Check:
    """Every unit small as L grows: the merge units' largest product below SMALL (with no merge unit —
    every sample its own label — there is nothing large; the walk units are :func:`check_slope`'s)."""
    name = "every unit small as L grows"
    merge = table["max_merge_product"].to_numpy(dtype=float)
    if np.isnan(merge).all():
        return check(name, True, "no merge units: no two samples share a label")
    return check(name, bool(np.nanmax(merge) < SMALL),
                 f"impossible with repeated labels: merge units ≥ 1; largest {np.nanmax(merge):.3g}")


def checks(table: pd.DataFrame) -> list[Check]:
    """The theorem's three statements on the table of :func:`compute`."""
    return [check_fit(table), check_slope(table), check_small(table)]


def styled(table: pd.DataFrame):
    """The table as the chapter shows it."""
    return table.style.format({k: v for k, v in TABLE_FORMAT.items() if k in table}).hide(axis="index")


def run(P) -> Result:
    """Theorem 1 at the chapter's parameters ``t1_samples``, ``t1_deltas``, ``t1_eta``, ``dataset``, ``data_dir``."""
    X, labels, source = data(P)
    d, m = X.shape
    table = compute(X, labels, P.t1_deltas, P.t1_eta)
    fit = slope(table)
    rho = theorem1.min_distance(np.concatenate([X, np.eye(d)], axis=1))
    note = f"{source}; m = {m}, d = {d}, η = {P.t1_eta}, δ in {list(P.t1_deltas)}"
    numbers: dict[str, Any] = {
        "m": m, "data": source, "rho": f"{rho:.3g}", "err": f"{table['max_error'].max():.1e}",
        "slope": f"{fit['slope']:.3f}", "r2": f"{fit['r2']:.5f}", "merge": f"{table['max_merge_product'].max():.3g}"}
    return Result(label="Theorem 1", claim=CLAIM, checks=checks(table),
                  scale={"data": source, "samples": m, "walk units": [int(v) for v in table["L"]]},
                  figure=draw(table, note), table=table, numbers=numbers)
