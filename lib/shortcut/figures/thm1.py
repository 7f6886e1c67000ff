"""Theorem 1 of the paper, executed: the network its proof builds (Section 4.1, Theorem 1 and Eq. 3;
Appendix A.1, Lemmas 1 and 2, Fig. 10), under both readings of its assumptions.

Read literally, Definition 3's minimum distance ρ runs over the samples *and their labels*, so ρ = 0
as soon as two samples share a label: the theorem then says nothing, and it can only be tested with
``m ≤ d`` samples whose one-hot labels are all different. The paper applies it to data with ``m > d``
samples and repeated labels, where the chapter's Proposition shows that some unit must have a weight
product ≥ 1 whatever the number of units ``L``. This module runs both:

- the **literal** case (:func:`literal_subset`): the first image of each class, every unit's product
  against ``L`` (:func:`checks_literal`);
- the **repeated-label** case: :func:`compute` builds one network per step length δ with
  :func:`shortcut.science.theorem1.scaling` — every sample walks to a private anchor (the *walk* units,
  ``L`` of them), then one unit per remaining sample merges its anchor onto its label (the *merge*
  units) — and :func:`checks_repeated` tests the walk units' 1/L and the Proposition's prediction.

:func:`draw` plots the largest product against ``L`` on log-log axes with its least-squares line;
:func:`run` does all of it and returns one :class:`Result` per reading, keyed ``literal`` and ``repeated``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..experiments import zoo
from ..science import theorem1
from ..science.data import one_hot, unit_sphere
from ..science.fit import loglog_fit
from . import plots
from .checks import Check, check
from .result import Result

FIT_TOLERANCE = 1e-8    # "f(x_i) = y_i": the largest |f(x_i) − y_i| that counts as exact in float64
SLOPE = -1.0            # "max_l ‖W_{l,2}‖‖W_{l,1}‖ ≤ C(m, d, ρ)/L": slope −1 on log-log axes
SLOPE_TOLERANCE = 0.1   # a fitted slope within 0.1 of −1 is O(1/L)
SMALL = 1.0             # a unit with product < 1 is injective: it cannot merge two points (the chapter's Proposition)
EPS64 = float(np.finfo(np.float64).eps)  # float64 round-off, amplified by the network's Jacobian at a sample

# The repeated-label row's third check until 2026-11-23; kept visible as the superseded form of the Proposition's.
SMALL_CHANGED = ("replaced on 2026-11-23 (issue 12, item 6), before the new form ran on any data: with repeated "
                 "labels it is false whatever the data (the chapter's Proposition), so it decided the verdict "
                 "before anything ran; the literal theorem (m ≤ d, distinct labels) has its own row")

LITERAL, REPEATED = "literal", "repeated"
CLAIMS = {
    LITERAL: ("Theorem 1 (literal: m ≤ d, distinct labels)",
              "A network of the form (3) fits every label with every unit's product ≤ C(m, d, ρ)/L; read literally, "
              "for m ≤ d samples with distinct one-hot labels (ρ > 0 over samples and labels)."),
    REPEATED: ("Theorem 1 (m > d, labels repeat): a finding (ours)",
               "Once labels repeat (m > d), some unit's weight product is ≥ 1 at every L (our Proposition); every "
               "label is still fitted and the walk units' products fall like 1/L. With ρ = 0 over samples and "
               "labels the literal theorem says nothing here, yet this is where the paper uses it."),
}

TABLE_FORMAT = {"delta": "{:g}", "walk_bound": "{:.3g}", "max_walk_product": "{:.3g}", "max_merge_product": "{:.3g}",
                "max_product": "{:.3g}", "max_error": "{:.1e}", "max_sensitivity": "{:.3g}", "seconds": "{:.2f}"}


def data(P) -> tuple[np.ndarray, np.ndarray, str]:
    """``P.t1_samples`` images of ``P.dataset`` (from ``P.data_dir``), whitened and scaled to the unit
    sphere: (X (d, m) float64, labels (m,), a line saying which data)."""
    prob = zoo.load_problem(zoo.data_keys(P, P.t1_samples), device="cpu")
    return unit_sphere(prob.X).numpy(), prob.labels.numpy(), prob.source


def literal_subset(X: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first sample of each class, in class order: at most one sample per label, so at most ``d``."""
    first = np.array([np.flatnonzero(labels == c)[0] for c in np.unique(labels)], dtype=int)
    return X[:, first], labels[first]


def rho_literal(X: np.ndarray, labels: np.ndarray) -> float:
    """Definition 3 read literally: the minimum distance of the samples and their labels y_i = e_{c_i}, one
    label per sample (0 as soon as two samples share a label)."""
    return theorem1.min_distance(np.concatenate([X, one_hot(labels, X.shape[0]).T], axis=1))


def compute(X: np.ndarray, labels: np.ndarray, deltas, eta: float) -> pd.DataFrame:
    """One constructed network per step length in ``deltas``: a row each (see ``theorem1.scaling``)."""
    return pd.DataFrame(theorem1.scaling(X, labels, deltas, eta=eta))


def slope(table: pd.DataFrame, column: str = "max_walk_product") -> dict[str, float]:
    """The least-squares line of log(``column``) against log L (NaN below two points)."""
    return loglog_fit(table["L"], table[column])


def draw(table: pd.DataFrame, note: str = "", literal: bool = False):
    """The largest product of every unit (``literal``) or of the walk units, and of the merge units where
    there are any, against the number of walk units L (log-log), with the least-squares line."""
    column = "max_product" if literal else "max_walk_product"
    fit = slope(table, column)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    Ls = table["L"].to_numpy(dtype=float)
    blue = plots.color("2-shortcut")
    ax.plot(Ls, table[column], "o", color=blue, label="every unit (measured)" if literal else "walk units (measured)")
    if np.isfinite(fit["slope"]):
        ax.plot(Ls, np.exp(fit["intercept"]) * Ls ** fit["slope"], "-", color=blue,
                label=f"fit: slope {fit['slope']:.3f}")
    if np.isfinite(table["max_merge_product"]).any():
        ax.plot(Ls, table["max_merge_product"], "s--", color="#7f7f7f", label="merge units (independent of L)")
    ax.axhline(SMALL, color="k", lw=0.6, ls=":")
    title = "Theorem 1, literal: distinct labels" if literal else "Theorem 1's construction, labels repeat"
    return plots.finish_loglog(fig, ax, note, xlabel="units L" if literal else "walk units L",
                               ylabel=r"$\max_l \|W_{l,2}\|\,\|W_{l,1}\|$", title=title)


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


def check_slope(table: pd.DataFrame, every: bool = False) -> Check:
    """The largest product of the walk units (of every unit, ``every``) falls like 1/L: fitted log-log
    slope within SLOPE_TOLERANCE of −1."""
    fit = slope(table, "max_product" if every else "max_walk_product")
    name = "every unit's product falls like 1/L" if every else "walk units' products fall like 1/L"
    if not np.isfinite(fit["slope"]):
        return check(name, None, reason=f"{len(table)} step length(s) with finite products: no slope to fit")
    return check(name, abs(fit["slope"] - SLOPE) < SLOPE_TOLERANCE,
                 f"slope {fit['slope']:.3f} within {SLOPE_TOLERANCE:g} of {SLOPE:g}".replace("of -", "of −"))


def check_small(table: pd.DataFrame) -> Check:
    """Superseded (see SMALL_CHANGED): every unit small as L grows — the merge units' largest product below
    SMALL (with no merge unit there is nothing large; the walk units are :func:`check_slope`'s)."""
    name = "every unit small as L grows"
    merge = table["max_merge_product"].to_numpy(dtype=float)
    if np.isnan(merge).all():
        return check(name, True, "no merge units: no two samples share a label")
    return check(name, bool(np.nanmax(merge) < SMALL),
                 f"impossible with repeated labels: merge units ≥ 1; largest {np.nanmax(merge):.3g}")


def check_proposition(table: pd.DataFrame) -> Check:
    """The Proposition's prediction where labels repeat: at every L some unit's product is at least SMALL.
    Undecidable without a shared label (then the Proposition predicts nothing). Carries the superseded
    "every unit small" check."""
    name = f"some unit's product ≥ {SMALL:g} at every L (our Proposition)"
    if not (table["n_merge"] > 0).any():
        new = check(name, None, reason="no two samples share a label: the Proposition predicts nothing")
    else:
        largest = table["max_product"].to_numpy(dtype=float)
        new = check(name, bool(np.all(largest >= SMALL)),
                    f"smallest over L of the largest product {np.min(largest):.3g}; merge units' largest "
                    f"{np.nanmax(table['max_merge_product']):.3g}")
    return replace(new, superseded=(replace(check_small(table), changed=SMALL_CHANGED, reading=False),))


def applies(rho: float) -> str:
    """Why the literal theorem says nothing about data whose literal ρ (samples and labels) is ``rho``, or ''."""
    return "" if rho > 0 else ("ρ = 0 over samples and labels (two samples share a label): the literal theorem "
                               "says nothing about these data")


def checks_literal(table: pd.DataFrame, rho: float) -> list[Check]:
    """The literal statement: every label fitted, every unit's product O(1/L) — undecidable where ρ = 0."""
    why = applies(rho)
    if why:
        return [check("f(x_i) = y_i for every sample", None, reason=why),
                check("every unit's product falls like 1/L", None, reason=why)]
    return [check_fit(table), check_slope(table, every=True)]


def checks_repeated(table: pd.DataFrame) -> list[Check]:
    """The reading the paper uses (labels repeat): every label fitted, the walk units' products O(1/L), and
    the Proposition's prediction that some unit stays large."""
    return [check_fit(table), check_slope(table), check_proposition(table)]


def styled(table: pd.DataFrame):
    """The table as the chapter shows it."""
    return table.style.format({k: v for k, v in TABLE_FORMAT.items() if k in table}).hide(axis="index")


def run(P) -> dict[str, Result]:
    """Theorem 1 at the chapter's parameters ``t1_samples``, ``t1_deltas``, ``t1_eta``, ``dataset``, ``data_dir``:
    the literal case on the first image of each class, and the repeated-label case on all ``t1_samples``."""
    X, labels, source = data(P)
    d, m = X.shape
    Xl, labl = literal_subset(X, labels)
    out = {}
    for key, (Xk, labk) in {LITERAL: (Xl, labl), REPEATED: (X, labels)}.items():
        table = compute(Xk, labk, P.t1_deltas, P.t1_eta)
        mk, rho = Xk.shape[1], rho_literal(Xk, labk)
        literal = key == LITERAL
        what = f"the first image of each of its {mk} classes" if literal else f"all {mk} images"
        fit = slope(table, "max_product" if literal else "max_walk_product")
        note = f"{source}; {what}; d = {d}, η = {P.t1_eta}, δ in {list(P.t1_deltas)}"
        numbers: dict[str, Any] = {
            "m": mk, "data": f"{source}; {what}", "source": source, "rho": f"{rho:.3g}",
            "rho_labels": f"{theorem1.min_distance(np.concatenate([Xk, np.eye(d)[:, np.unique(labk)]], axis=1)):.3g}",
            "err": f"{table['max_error'].max():.1e}", "slope": f"{fit['slope']:.3f}", "r2": f"{fit['r2']:.5f}",
            "Lmax": f"{int(table['L'].max()):,}", "smallest": f"{table['max_product'].min():.3g}"}
        if not literal:
            numbers["merge"] = f"{table['max_merge_product'].max():.3g}"
        found = checks_literal(table, rho) if literal else checks_repeated(table)
        out[key] = Result(label=CLAIMS[key][0], claim=CLAIMS[key][1], checks=found,
                          scale={"data": f"{source}; {what}", "samples": mk, "d": d,
                                 "ρ (samples and labels)": f"{rho:.3g}", "walk units": [int(v) for v in table["L"]]},
                          figure=draw(table, note, literal=literal), table=table, numbers=numbers)
    return out
