"""Figure 8 of the paper: networks with ReLUs at the mid positions after full-batch gradient descent at
the best rate of a grid (Section 5, Fig. 8; Appendix B).

A ReLU sits between the two layers of every 2-shortcut unit, and at the same places in the plain
networks, so that every network of a depth has as many ReLUs. The claim: the 2-shortcut network finds
low losses at every depth, and at great depth (64) Xavier-ReLU's and orthogonal-ReLU's final losses no
longer depend on the rate. The runs are those of :mod:`shortcut.figures.rates` with ``mid='relu'``.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import pandas as pd
import yaml

from ..experiments.records import Record
from . import plots, rates
from .checks import Check, check

LABEL = "Figure 8"
CLAIM = ("ReLU nets: 2-shortcut finds low losses at every depth; at great depth Xavier-ReLU's and "
         "orthogonal-ReLU's final losses no longer depend on the rate.")
SHORTCUT = "2-shortcut"  # the network the paper singles out
NEAR_BEST = 1.05  # ours: "finds low losses" = within 5 % of the best plain network's loss at every depth


def jobs(P) -> list[dict]:
    """Every (model, depth, seed) of ``P.relu_models`` × ``P.relu_depths`` × ``P.seeds`` (ReLU nets, on
    ``P.relu_samples`` samples) at every rate."""
    return rates.jobs(P, "Fig 8", P.relu_models, P.relu_depths, P.relu_samples, "relu")


def collect(records: Sequence[Record], models: Sequence[str]) -> pd.DataFrame:
    """The rate grid of the runs (see :func:`rates.rate_grid`), models in the order of ``models``."""
    return rates.rate_grid(records, list(models))


def draw(best_table: pd.DataFrame, models: Sequence[str], depths: Sequence[int], lr_range: tuple[float, float],
         optimum: float, note: str):
    """Best final loss (dashed: the linear optimum of the same data) and the best rate, against depth."""
    fig, ax_loss, _ = rates.draw_best(best_table, models, "final loss", depths, lr_range)
    ax_loss.axhline(optimum, color="k", ls="--", lw=1, label=r"linear optimum $L^\star$")
    ax_loss.set(ylabel="final loss", title="best final loss (ReLU at mid positions)")
    ax_loss.legend(fontsize=8, title="hollow: not trained", title_fontsize=7)
    plots.scale_note(fig, note)
    return fig


def _ratios(best_table: pd.DataFrame) -> tuple[pd.DataFrame, list[str], pd.Series]:
    """(final loss per depth and model, the plain models, the 2-shortcut's loss over the best plain one's)."""
    per_depth = best_table.pivot(index="depth", columns="model", values="final loss")
    others = [m for m in dict.fromkeys(best_table["model"]) if m != SHORTCUT]
    return per_depth, others, per_depth[SHORTCUT] / per_depth[others].min(axis=1)


def checks(best_table: pd.DataFrame) -> list[Check]:
    """The paper's statements about Figure 8, at the largest depth of the table."""
    models = set(best_table["model"])
    deep = int(best_table["depth"].max()) if len(best_table) else 0
    name1 = f"{SHORTCUT}'s loss at depth {deep} is the lowest"
    name2 = f"{SHORTCUT} within {100 * (NEAR_BEST - 1):.0f}% of the best loss at every depth"
    if SHORTCUT not in models or len(models) < 2:
        why = f"no {SHORTCUT} network was run" if SHORTCUT not in models else "no plain network to compare with"
        out = [check(name1, None, reason=why), check(name2, None, reason=why)]
    else:
        per_depth, others, ratio = _ratios(best_table)
        lost = [int(d) for d, v in ratio.items() if not v <= NEAR_BEST]
        out = [check(name1, bool(ratio.iloc[-1] < 1),
                     f"{per_depth[SHORTCUT].iloc[-1]:.3g} vs {per_depth[others].iloc[-1].min():.3g}"),
               check(name2, not lost, f"worst ratio {ratio.max():.3g}" + (f", at depths {lost}" if lost else ""))]
    return out + [rates.rate_independent(best_table, m, deep, suffix="-ReLU")
                  for m in dict.fromkeys(best_table["model"]) if m != SHORTCUT]


def numbers(best_table: pd.DataFrame, grid: pd.DataFrame, optimum: float) -> dict[str, Any]:
    """The values the chapter's prose quotes, formatted."""
    per_depth, others, ratio = _ratios(best_table)
    worst = float(per_depth[SHORTCUT][ratio.idxmax()])
    spread = lambda m, depth=None: rates.at(best_table, m, depth, "rate spread")
    shallow = int(best_table["depth"].min())
    return {
        "deep": int(per_depth.index[-1]),
        "loss2": f"{per_depth[SHORTCUT].iloc[-1]:.3g}",
        "loss_plain": f"{per_depth[others].iloc[-1].min():.3g}",
        "worst_ratio": f"{ratio.max():.3g}", "worst_depth": int(ratio.idxmax()), "worst_loss": f"{worst:.3g}",
        "plain_deep": ", ".join(f"{m} {rates.at(best_table, m):.3g}" for m in others),
        "worst_vs_linear": "above even" if worst > optimum else "below",
        "optimum": f"{optimum:.4f}",
        "spreads": ", ".join(f"{m} {rates.spread_text(spread(m))}" for m in others),
        "spreads_shallow": ", ".join(f"{m} {rates.spread_text(spread(m, shallow), '.3g')}" for m in others),
        "excluded": rates.excluded_text(grid),
    }


def work_tflop(parameters: Mapping[str, Any], d: int = 10) -> float:
    """The arithmetic of Figure 8's sweep at ``parameters`` (a chapter's, or a kept run's as text) if no run
    diverged, in TFLOP: per matrix and epoch three products of d × d by d × m (one forward, two backward)."""
    value = lambda k: yaml.safe_load(parameters[k]) if isinstance(parameters[k], str) else parameters[k]  # noqa: E731
    return (6 * d * d * value("relu_samples") * sum(value("relu_depths")) * len(value("relu_models"))
            * value("seeds") * value("n_lrs") * value("epochs")) / 1e12


def run(P, records: Sequence[Record] | None = None) -> rates.SweepResult:
    """Figure 8 from the chapter's parameters ``P``: runs what is missing (unless ``records`` are given,
    e.g. from :func:`rates.sweep` together with Figure 7's), then the table, the figure and the checks."""
    records = records if records is not None else rates.sweep(P, {"Fig 8": jobs(P)})["Fig 8"]
    grid, optimum = collect(records, P.relu_models), float(records[0].data["optimum"])
    table, prob = rates.best_rates(grid), rates.problem(P, P.relu_samples)
    figure = draw(table, P.relu_models, P.relu_depths, (P.lr_min, P.lr_max), optimum,
                  rates.scale_line(P, prob, P.relu_depths))
    return rates.SweepResult(label=LABEL, claim=CLAIM, checks=checks(table), scale=rates.scale(P, prob, P.relu_depths),
                             figure=figure, table=table, grid=grid, numbers=numbers(table, grid, optimum),
                             excluded=rates.excluded(grid))
