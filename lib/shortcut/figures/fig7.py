"""Figure 7 of the paper: linear networks after full-batch gradient descent at the best rate of a grid
(Section 5, Fig. 7; Appendix B).

The claim: the 2-shortcut network stays near the least-squares optimum L* at every depth and takes
larger learning rates than the others, and at great depth (96) Xavier's final loss no longer depends
on the rate. The runs are those of :mod:`shortcut.figures.rates` (linear nets, ``mid='id'``).
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from types import SimpleNamespace
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..experiments.records import Record
from ..experiments.zoo import depth_at_least
from . import plots, rates
from .checks import Check, check

LABEL = "Figure 7"
CLAIM = ("Linear nets: 2-shortcut stays near the optimum at every depth and takes larger learning rates; "
         "at great depth Xavier's final loss no longer depends on the rate.")
SHORTCUT = "2-shortcut"  # the network the paper singles out
PLAIN = "xavier"  # the plain network whose rate-independence at depth 96 the paper reports
NEAR_OPTIMUM = 0.01  # ours: "near the optimum" = the final loss exceeds L* by at most 1 % of L*
CONTRAST = 10.0  # ours, for the paper's contrast ("stay close to optimal as the networks become deeper, just like
# their depth-invariant initial condition numbers", the others' growing): at the largest depth 2-shortcut's excess over
# L* is at most a tenth of every other network's, a decade apart on the figure's log axis (excesses below
# rates.LOG_FLOOR count as LOG_FLOOR: round-off does not separate two networks)
NEAR_CHANGED = ("replaced on 2026-11-23 (issue 12, item 5) before the new form was run on any data, because "
                "orthogonal and 1-shortcut networks pass it too: it did not test the paper's contrast between "
                "2-shortcut and the others; the kept paper-scale run's detail was known when the new form was written")
SMALLEST_CHANGED = ("merged into the check above on 2026-11-23 (issue 12, item 5), same conditions: 'the smallest' "
                    "passes on any margin, however small")
PAPER_DEPTH = 96  # the depth at which the paper sees Xavier's loss stop depending on the rate


def jobs(P) -> list[dict]:
    """Every (model, depth, seed) of ``P.models`` × ``P.depths`` × ``P.seeds`` (linear nets) at every rate."""
    return rates.jobs(P, "Fig 7", P.models, P.depths, P.n_samples, "id")


def parameters(P) -> set[str]:
    """The chapter parameters Figure 7's runs depend on (those :func:`jobs` reads)."""
    return rates.parameters_read(jobs, P)


def collect(records: Sequence[Record], models: Sequence[str]) -> pd.DataFrame:
    """The rate grid of the runs (see :func:`rates.rate_grid`), models in the order of ``models``."""
    return rates.rate_grid(records, list(models))


def best(grid: pd.DataFrame, optimum: float) -> pd.DataFrame:
    """The best rate per (model, depth), with its final loss's ``excess`` over the optimum."""
    b = rates.best_rates(grid)
    b["excess"] = b["final loss"] - optimum
    return b


def draw(best_table: pd.DataFrame, models: Sequence[str], depths: Sequence[int], lr_range: tuple[float, float],
         note: str):
    """Best final loss above the optimum (log axis: round-off below :data:`rates.LOG_FLOOR` drawn there)
    and the best rate, against depth."""
    shown = best_table.assign(**{"plot excess": best_table["excess"].clip(lower=rates.LOG_FLOOR)})
    fig, ax_loss, _ = rates.draw_best(shown, models, "plot excess", depths, lr_range)
    ax_loss.set(ylabel=r"final loss $-\ L^\star$", title="best final loss above the optimum")
    ax_loss.legend(fontsize=8, title="hollow: not trained", title_fontsize=7)
    plots.scale_note(fig, note)
    return fig


def checks(best_table: pd.DataFrame, optimum: float, deep: int) -> list[Check]:
    """The paper's three statements about Figure 7, at the largest depth ``deep`` where one is named: 2-shortcut
    near the optimum and apart from the others (:func:`contrast`), its best rate the largest, Xavier's loss
    independent of the rate."""
    b2 = best_table[best_table["model"] == SHORTCUT]
    others = [m for m in dict.fromkeys(best_table["model"]) if m != SHORTCUT]
    out = []
    why = f"no {SHORTCUT} network was run" if b2.empty else "no other network to compare with" if not others else ""
    # 1. near the optimum at every depth, and far nearer to it than the others at the largest depth
    ex = {m: rates.at(best_table, m, col="excess") for m in others}
    out.append(contrast(None, False, deep, np.nan, ex, why=why) if b2.empty else
               contrast(float((b2["excess"] / optimum).max()), bool(b2["trained"].all()), deep,
                        rates.at(best_table, SHORTCUT, col="excess"), ex))
    # 2. the largest best rate at the largest depth
    name2 = f"{SHORTCUT} takes the largest best rate at depth {deep} (of the networks that trained)"
    lr = {m: rates.at(best_table, m, col="best lr") for m in others if rates.at(best_table, m, col="trained")}
    if why or not lr:
        out.append(check(name2, None, reason=why or f"no other network trained at depth {deep}"))
    else:
        lr2 = rates.at(best_table, SHORTCUT, col="best lr")
        out.append(check(name2, bool(lr2 >= max(lr.values())), f"{lr2:.3g} vs at most {max(lr.values()):.3g}"))
    # 3. Xavier's final loss independent of the rate at the largest depth
    out.append(rates.rate_independent(best_table, PLAIN, deep))
    return out


def _floored(excess: float) -> float:
    """An excess over L* as the contrast compares it: round-off counts as :data:`rates.LOG_FLOOR`, no stable rate
    (NaN) as infinitely far."""
    return max(float(excess), rates.LOG_FLOOR) if np.isfinite(excess) else np.inf


def contrast(worst: float | None, trained: bool, deep: int, ex2: float, others: Mapping[str, float],
             why: str = "") -> Check:
    """The paper's "2-shortcut stays close to optimal as the networks become deeper", against the others: its
    largest excess over L* at any depth (``worst``, a fraction of L*) at most :data:`NEAR_OPTIMUM`, every one of
    its networks ``trained``, and at the largest depth ``deep`` its excess ``ex2`` at most 1/:data:`CONTRAST` of
    every other network's (``others``: model -> excess; NaN: no stable rate). ``why`` (with ``worst`` None): the
    reason it cannot be decided. The two earlier forms it replaces are kept, with their outcomes."""
    name = (f"{SHORTCUT} near the optimum at every depth (excess ≤ {NEAR_OPTIMUM:g} of L*) and at depth {deep} "
            f"at least {CONTRAST:g}× closer to it than every other network")
    old_near = f"{SHORTCUT} near the optimum at every depth (excess ≤ {NEAR_OPTIMUM:g} of L*)"
    old_smallest = f"{SHORTCUT}'s excess at depth {deep} is the smallest"
    if worst is None:
        new, olds = check(name, None, reason=why), (check(old_near, None, reason=why),
                                                    check(old_smallest, None, reason=why))
    elif not others:
        near = trained and worst <= NEAR_OPTIMUM
        why = "no other network to compare with"
        new, olds = check(name, None, reason=why), (check(old_near, near, f"largest excess {worst:.2g} of L*"),
                                                    check(old_smallest, None, reason=why))
    else:
        runner = min(others, key=lambda m: _floored(others[m]))
        ratio = _floored(others[runner]) / _floored(ex2)
        near = trained and worst <= NEAR_OPTIMUM
        closest = (f"{runner}'s {others[runner]:.2g}" if np.isfinite(others[runner])
                   else f"{runner}, which had no stable rate")
        new = check(name, bool(near and ratio >= CONTRAST),
                    f"largest excess {worst:.2g} of L*" + ("" if trained else ", not every network trained")
                    + f"; at depth {deep} {ex2:.2g} against {closest} (the closest of the others): {ratio:.3g}×")
        unfloored = {m: v if np.isfinite(v) else np.inf for m, v in others.items()}  # as the earlier form had it
        nxt = min(unfloored, key=unfloored.get)
        olds = (check(old_near, near, f"largest excess {worst:.2g} of L*"),
                check(old_smallest, bool(ex2 < unfloored[nxt]), f"{ex2:.2g}; next {nxt} {others[nxt]:.2g}"))
    return replace(new, superseded=(replace(olds[0], changed=NEAR_CHANGED), replace(olds[1], changed=SMALLEST_CHANGED)))


def numbers(best_table: pd.DataFrame, grid: pd.DataFrame, optimum: float, deep: int, models: Sequence[str]
            ) -> dict[str, Any]:
    """The values the chapter's prose quotes, formatted."""
    b2 = best_table[best_table["model"] == SHORTCUT]
    others = [m for m in models if m != SHORTCUT]
    ex = {m: rates.at(best_table, m, col="excess") for m in others if (best_table["model"] == m).any()}
    runner = min(ex, key=lambda m: _floored(ex[m])) if ex else ""
    ex2 = rates.at(best_table, SHORTCUT, col="excess") if len(b2) else np.nan
    worst = float((b2["excess"] / optimum).max()) if len(b2) else np.nan
    xs = best_table[best_table["model"] == PLAIN].set_index("depth")
    xs = xs.iloc[-1] if len(xs) else None
    init = grid[(grid["model"] == PLAIN) & (grid["depth"] == grid.loc[grid["model"] == PLAIN, "depth"].max())]
    flat = xs is not None and bool(xs["rate spread"] <= rates.FLAT)
    note = ("So the rate no longer matters there, as in the paper." if flat else
            "So at this depth the rate still matters, or too few rates were stable to tell"
            + (f"; the paper sees the change at depth {PAPER_DEPTH}, which this profile's grid does not reach."
               if deep < PAPER_DEPTH else "."))
    lr_others = {m: rates.at(best_table, m, col="best lr") for m in others if rates.at(best_table, m, col="trained")}
    return {
        "optimum": f"{optimum:.5f}", "deep": deep,
        "worst_rel": f"{100 * worst:.2g}%" if worst < 1 else f"{100 * worst:.0f}%",
        "ex2": f"{ex2:.2g}" if len(b2) else "–",
        "runner_up": runner, "ex_runner": f"{ex[runner]:.2g}" if runner else "–",
        "lr2": f"{rates.at(best_table, SHORTCUT, col='best lr'):.3g}" if len(b2) else "–",
        "lr_others": ", ".join(f"{m} {v:.3g}" for m, v in lr_others.items()) or "none",
        "xs_spread": rates.spread_text(xs["rate spread"]) if xs is not None else "undefined",
        "xs_stable": f"{xs['stable rates']} of the {xs['rates']}" if xs is not None else "–",
        "xs_loss": f"{xs['final loss']:.4f}" if xs is not None else "–",
        "xs_initial": f"{init['initial min'].min():.3g} to {init['initial max'].max():.3g}" if len(init) else "–",
        "stable_range": "; ".join(
            f"{m} {rates.at(best_table, m, best_table.loc[best_table['model'] == m, 'depth'].min(), 'largest stable lr'):.3g}"
            f" → {rates.at(best_table, m, col='largest stable lr'):.3g}" for m in models if m != "3-shortcut"),
        "flat": f"{rates.FLAT:g}", "xs_note": note,
        "not_trained": ", ".join(f"{r.model} (depth {r.depth})" for r in best_table.itertuples() if not r.trained)
        or "none",
        "excluded": rates.excluded_text(grid),
        **contrast_numbers(ex2, ex, optimum),
    }


def contrast_numbers(ex2: float, others: Mapping[str, float], optimum: float) -> dict[str, str]:
    """The numbers of the contrast at the largest depth (``others``: model -> excess over L*): how many times
    2-shortcut is closer to L* than the closest other network, every network's excess, which others are inside
    the band :data:`NEAR_OPTIMUM` too, and the 1-shortcut and orthogonal networks' excesses."""
    rel = lambda v: ("no stable rate" if not np.isfinite(v) else f"{100 * v / optimum:.2g}% of L*"  # noqa: E731
                     if v < optimum else f"{v / optimum:.3g} times L*")
    inside = lambda v: bool(np.isfinite(v) and v <= NEAR_OPTIMUM * optimum)  # noqa: E731
    runner = min(others, key=lambda m: _floored(others[m])) if others else ""
    one, ortho = others.get("1-shortcut", np.nan), others.get("orthogonal", np.nan)
    fmt = lambda v: f"{v:.2g}" if np.isfinite(v) else "–"  # noqa: E731
    return {
        "contrast": f"{_floored(others[runner]) / _floored(ex2):.3g}" if runner else "–",
        "contrast_min": f"{CONTRAST:g}", "band": f"{100 * NEAR_OPTIMUM:g}%",
        "excess_deep": "; ".join(f"{m} {fmt(v)} ({rel(v)})" for m, v in {SHORTCUT: ex2, **others}.items()),
        "also_near": ", ".join(m for m, v in others.items() if inside(v)) or "none",
        "ex1": fmt(one), "rel1": rel(one), "band1": "inside" if inside(one) else "outside",
        "ratio1": f"{_floored(one) / _floored(ex2):.3g}" if np.isfinite(one) else "–",
        "ex_ortho": fmt(ortho), "rel_ortho": rel(ortho),
    }


def run(P, records: Sequence[Record] | None = None) -> rates.SweepResult:
    """Figure 7 from the chapter's parameters ``P``: runs what is missing (unless ``records`` are given,
    e.g. from :func:`rates.sweep` together with Figure 8's), then the table, the figure and the checks."""
    records = records if records is not None else rates.sweep(P, {"Fig 7": jobs(P)})["Fig 7"]
    grid, optimum = collect(records, P.models), float(records[0].data["optimum"])
    table, deep, prob = best(grid, optimum), max(P.depths), rates.problem(P, P.n_samples)
    three = sorted({depth_at_least("3-shortcut", d) for d in P.depths}) if "3-shortcut" in P.models else []
    note = rates.scale_line(P, prob, P.depths) + (f"; 3-shortcut depths {three}" if three else "")
    return rates.SweepResult(label=LABEL, claim=CLAIM, checks=checks(table, optimum, deep),
                             scale=rates.scale(P, prob, P.depths), table=table, grid=grid,
                             figure=draw(table, P.models, P.depths, (P.lr_min, P.lr_max), note),
                             numbers=numbers(table, grid, optimum, deep, P.models), excluded=rates.excluded(grid))


# the end of :func:`contrast`'s detail, read back from a kept figure's verdict
KEPT_CONTRAST = re.compile(r"at depth (?P<deep>\d+) (?P<ex2>\S+) against (?P<runner>\S+?)(?:'s (?P<ex_runner>\S+)|, "
                           r"which had no stable rate) \(the closest of the others\): (?P<contrast>\S+)×")


def kept_numbers(kept: Mapping[str, Any], P) -> dict[str, str]:
    """The facts of a kept Figure 7 (the JSON beside ``book/figures/mnist/fig7-paper.png``) the prose
    quotes: its verdict, its grid, its data and what they reduce from the paper's, which of its changed
    parameters enter Figure 7, how its verdict was amended after the run, if it was, and the numbers of
    the contrast (:func:`contrast`) read back from its verdict's detail — the JSON keeps no records, so a
    kept run older than that check has none (``paper_contrast_note`` says so). The closest other network's
    excess is given as a fraction of L* when the kept run's data are those of ``P`` (then L* is the same)."""
    kp, changed = kept["parameters"], kept.get("changed_parameters") or {}
    enter = sorted(parameters(P) & set(changed))
    amended = kept.get("amended", "")
    v = kept.get("verdict") or {}
    data = (v.get("scale_raw") or {}).get("data", "")
    reduced = SimpleNamespace(epochs=int(kp["epochs"]), seeds=int(kp["seeds"]), depths=json.loads(kp["depths"]),
                              relu_depths=[])
    found = KEPT_CONTRAST.search(v.get("detail", ""))
    facts = found.groupdict(default="–") if found else dict.fromkeys(("deep", "ex2", "runner", "ex_runner",
                                                                        "contrast"), "–")
    prob = rates.problem(P, P.n_samples) if found and facts["ex_runner"] != "–" and data else None
    same = prob is not None and prob.source == data
    return {
        "amended": f"Its verdict was amended: {amended}." if amended else "",
        "verdict": v.get("verdict", "none recorded"),
        "grid": f"depths {kp['depths']}, {kp['seeds']} seeds, {kp['n_lrs']} rates from {kp['lr_min']} to "
                f"{kp['lr_max']}, {kp['epochs']} epochs",
        "changes": "run at the profile's own parameters" if not changed else
                   f"of the changed parameters, {', '.join(enter)} enter Figure 7" if enter else
                   "none of the changed parameters enters Figure 7",
        "data": data or "data not recorded",
        "reduced": rates.reductions(reduced, 0, 0, data=data, relu=False),
        **{k: facts[k] for k in ("deep", "ex2", "runner", "ex_runner", "contrast")},
        "rel_runner": f"{100 * float(facts['ex_runner']) / prob.optimum:.2g}% of L*" if same else
                      "its L* is not stored; this page's data differ" if found else "–",
        "contrast_note": "" if found else
                         "The kept run predates the check of the contrast; re-run at the paper profile to apply it.",
    }
