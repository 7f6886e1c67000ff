"""Figure 4 of the paper: the condition number of the Hessian at the initial point against depth
(Section 5, Fig. 4).

Linear networks of width d = 10 on whitened data: plain ones from Xavier or orthogonal weights,
shortcut ones from the "zero" point (Xavier scaled by ε). Each (model, depth, seed) is one run of
:func:`~shortcut.experiments.zoo.initial_spectrum_job`, which summarises the exact Hessian's
spectrum; ``cond`` is max|λ| / P10|λ|. Beside the measurement, Theorem 2's prediction for the
2-shortcut network at the exact zero point: eigenvalues ±σ_k(C), each repeated d·L times.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.ticker import NullFormatter
import numpy as np
import pandas as pd

from . import analysis, plots
from .rates import BAND_FLOOR
from .checks import Check, check
from .result import Result
from ..experiments.sweep import run_jobs
from ..experiments.zoo import data_keys, initial_spectrum_job, load_problem, make_net
from ..science import theorem2
from ..science.hessian import summarize

CLAIM = ("2-shortcut's initial condition number is depth-invariant; Xavier's and orthogonal's grow with depth, "
         "orthogonal's more slowly.")
FLAT_MAX = 1.25       # "constant in depth": 2-shortcut's mean varies by at most 25 % over the depths (max/min)
XAVIER_GROWTH = 4.0   # "grows without bound": Xavier's mean at the deepest depth over 4× the shallowest's
ORTH_GROWTH = 2.0     # orthogonal "grows, more slowly": over 2× from the shallowest to the deepest depth


def jobs(P: Any) -> list[dict]:
    """One job per (model, depth, seed): the spectrum of the exact Hessian at the initial point."""
    data = data_keys(P, P.n_samples)
    return [{**data, "model": model, "depth": depth, "seed": seed, "eps": P.eps}
            for model in P.models for depth in P.depths for seed in range(P.seeds)]


def predicted(problem, depths) -> dict[int, float]:
    """Theorem 2's condition number of the 2-shortcut network at the exact zero point, per depth."""
    out = {}
    for depth in depths:
        net, _ = make_net("2-shortcut", depth, d=problem.X.shape[0])
        out[depth] = summarize(theorem2.predicted_eigenvalues_n2(net, problem.X, problem.Y)).cond
    return out


def collect(records, theorem2_cond: dict[int, float] | None = None) -> pd.DataFrame:
    """One row per (model, depth): mean, std and count over seeds of the initial condition number,
    and (2-shortcut rows) Theorem 2's prediction at the exact zero point, ``theorem2``."""
    rows = [{"model": model, "depth": int(x), "mean": mean, "std": std, "n": int(n)}
            for model, a in analysis.aggregate(records, x="depth", y="cond").items()
            for x, mean, std, n in zip(a["x"], a["mean"], a["std"], a["n"])]
    table = pd.DataFrame(rows, columns=["model", "depth", "mean", "std", "n"])
    pred = theorem2_cond or {}
    table["theorem2"] = [pred.get(d, np.nan) if m == "2-shortcut" else np.nan
                         for m, d in zip(table["model"], table["depth"])]
    return table


def draw(table: pd.DataFrame, order=None, scale=None):
    """The condition number against depth, mean ± std over seeds, log-log; Theorem 2's line dashed. (Where
    the spread over seeds exceeds the mean, the band's lower edge stays at :data:`rates.BAND_FLOOR` of it.)"""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    plots.mean_std(ax, plots.groups(table, "depth"), order=order, floor=BAND_FLOOR)
    theory = table.dropna(subset=["theorem2"]).sort_values("depth")
    if len(theory):
        ax.plot(theory["depth"], theory["theorem2"], "k--", lw=1, label="2-shortcut, Theorem 2 at 0")
    depths = sorted(table["depth"].unique())
    ax.set(xscale="log", yscale="log", xlabel="depth (weight layers)", ylabel=r"$\max|\lambda| / P_{10}|\lambda|$",
           title="Initial condition number of the Hessian")
    ax.set_xticks(depths, [str(d) for d in depths])
    ax.xaxis.set_minor_formatter(NullFormatter())  # the depths label the axis; log minor labels would crowd it
    ax.legend(fontsize=8)
    if scale:
        plots.scale_note(fig, scale)
    plt.close(fig)
    return fig


def _curve(table: pd.DataFrame, model: str) -> pd.DataFrame:
    return table[table["model"] == model].sort_values("depth")


def _growth(table: pd.DataFrame, model: str) -> float | None:
    """A model's mean at the deepest depth over its mean at the shallowest (None: cannot be told)."""
    c = _curve(table, model)
    return float(c["mean"].iloc[-1] / c["mean"].iloc[0]) if len(c) >= 2 else None


def _missing(table: pd.DataFrame, *models: str) -> str:
    """Why a check of ``models`` cannot be decided ('' when each has at least two depths)."""
    short = [m for m in models if len(_curve(table, m)) < 2]
    return f"{', '.join(short)} not run at two depths or more" if short else ""


def checks(table: pd.DataFrame) -> list[Check]:
    """The paper's three statements on the table of :func:`collect`."""
    out = []
    why = _missing(table, "2-shortcut")
    flat = analysis.spread(_curve(table, "2-shortcut")["mean"]) if not why else np.nan
    out.append(check(f"2-shortcut's condition number is flat in depth (max/min over depths ≤ {FLAT_MAX:g})",
                     None if why else bool(flat <= FLAT_MAX), f"max/min {flat:.3g}", reason=why))
    for model, least in (("xavier", XAVIER_GROWTH), ("orthogonal", ORTH_GROWTH)):
        why, g = _missing(table, model), _growth(table, model)
        out.append(check(f"{model}'s condition number grows with depth (more than ×{least:g} from the shallowest "
                         "depth to the deepest)", None if why else bool(g > least),
                         "" if why else f"×{g:.3g}", reason=why))
    why = _missing(table, "orthogonal", "xavier")
    slopes = {m: analysis.growth(_curve(table, m)["depth"], _curve(table, m)["mean"])
              for m in ("orthogonal", "xavier")} if not why else {}
    out.append(check("orthogonal's grows more slowly than Xavier's (smaller log-log slope)",
                     None if why else bool(slopes["orthogonal"] < slopes["xavier"]),
                     "" if why else f"slopes {slopes['orthogonal']:.2f} and {slopes['xavier']:.2f}", reason=why))
    return out


def numbers(table: pd.DataFrame) -> dict[str, str]:
    """The values the chapter's prose quotes."""
    two = _curve(table, "2-shortcut")
    gap = (two["mean"] / two["theorem2"] - 1).abs().max() if len(two) else np.nan
    one, orth = (_curve(table, m).set_index("depth")["mean"] for m in ("1-shortcut", "orthogonal"))
    one_orth = (one / orth - 1).abs().max()  # NaN where the two share no depth
    fmt = lambda g: "n/a" if g is None else f"{g:.3g}"  # noqa: E731
    return {"flat": f"{analysis.spread(two['mean']):.3g}", "theory_gap": f"{100 * gap:.2g}%",
            "xavier_growth": fmt(_growth(table, "xavier")), "orth_growth": fmt(_growth(table, "orthogonal")),
            "one_orth_gap": "n/a" if np.isnan(one_orth) else f"{100 * one_orth:.2g}%",
            "shallow": int(table["depth"].min()), "deep": int(table["depth"].max()),
            "flat_max": f"{FLAT_MAX:g}", "xavier_least": f"{XAVIER_GROWTH:g}", "orth_least": f"{ORTH_GROWTH:g}"}


def run(P: Any, root: str | Path | None = None) -> Result:
    """Run (or resume) the sweep under ``root`` (default ``P.results_dir / P.chapter``), then
    collect, draw and check."""
    root = Path(root) if root is not None else Path(P.results_dir) / P.chapter
    todo = jobs(P)
    prob = load_problem(todo[0], device=str(P.device))  # first: missing data stop here, with the reason
    records = run_jobs(P, root, todo, functools.partial(initial_spectrum_job, device=str(P.device)),
                       desc="Fig 4 sweep")
    pred = predicted(prob, P.depths) if "2-shortcut" in P.models else {}
    table = collect(records, pred)
    scale = {"data": prob.source, "samples": prob.m, "depths": list(P.depths), "seeds": P.seeds, "eps": P.eps}
    return Result(label="Figure 4", claim=CLAIM, checks=checks(table), scale=scale,
                  figure=draw(table, order=P.models, scale=scale), table=table, numbers=numbers(table))
