"""The book's plotting conventions: one colour per model everywhere, mean ± std bands, the scale line kept with
the figure for its caption."""

from __future__ import annotations

from typing import Mapping

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

MODEL_COLORS = {
    "xavier": "#d62728",
    "orthogonal": "#ff7f0e",
    "1-shortcut": "#9467bd",
    "2-shortcut": "#1f77b4",
    "3-shortcut": "#2ca02c",
    "4-shortcut": "#8c564b",
}

# and one marker per model, so that curves that coincide (orthogonal and 1-shortcut in Figure 4) stay visible
MODEL_MARKERS = {"xavier": "o", "orthogonal": "s", "1-shortcut": "^", "2-shortcut": "o", "3-shortcut": "D",
                 "4-shortcut": "v"}


def setup() -> None:
    """Seaborn's paper style, readable sizes."""
    sns.set_theme(context="notebook", style="whitegrid", font_scale=0.95)
    plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 110, "figure.autolayout": True})


def color(model: str) -> str:
    return MODEL_COLORS.get(model, "#7f7f7f")


def mean_std(ax, agg: Mapping[str, Mapping[str, np.ndarray]], order=None, marker: str | None = "model",
             floor: float | None = None, **kwargs) -> None:
    """Plot ``analysis.aggregate`` output: a line per group with a ±1 std band (its lower edge kept at
    least ``floor`` times the mean when given, so that a log axis can draw it). ``marker``: the model's
    own (:data:`MODEL_MARKERS`), a matplotlib marker, or None for none."""
    for g in order or agg:
        if g not in agg:
            continue
        a = agg[g]
        m = MODEL_MARKERS.get(g, "o") if marker == "model" else marker
        ax.plot(a["x"], a["mean"], marker=m, color=color(g), label=g, **kwargs)
        lower = a["mean"] - a["std"] if floor is None else np.maximum(a["mean"] - a["std"], a["mean"] * floor)
        ax.fill_between(a["x"], lower, a["mean"] + a["std"], color=color(g), alpha=0.2, lw=0)


def groups(table, x: str, by: str = "model") -> dict[str, dict[str, np.ndarray]]:
    """A tidy table with columns ``by``, ``x``, ``mean`` and ``std`` (one row per group and x) as the
    ``{group: {"x", "mean", "std"}}`` that :func:`mean_std` draws, x sorted."""
    out = {}
    for g, rows in table.groupby(by, sort=False):
        rows = rows.sort_values(x)
        out[g] = {"x": rows[x].to_numpy(float), "mean": rows["mean"].to_numpy(float),
                  "std": rows["std"].to_numpy(float)}
    return out


def loss_ticks(axis) -> None:
    """Readable ticks on a log axis that spans about a decade or two (a loss): at 1, 2 and 5 times the
    powers of ten, written plainly (0.5, not 5×10⁻¹), no minor labels."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def scale_note(fig, text: str | Mapping) -> None:
    """Attach the scale a figure was computed at (a mapping as ``key value, key value``) to ``fig``, for
    its caption: ``shortcut.book.publish`` glues it as ``<key>_scale`` and the chapter's caption quotes
    it. It is not drawn in the image, where it would shrink with the figure to below the caption's size
    (a 12-inch figure shown in a 730 px column prints 8 pt text at about 6 px); :func:`scale_of` reads it."""
    if isinstance(text, Mapping):
        text = ", ".join(f"{k} {v}" for k, v in text.items())
    fig.shortcut_scale = str(text)


def scale_of(fig) -> str:
    """The scale line :func:`scale_note` attached to ``fig`` ("" if none, or no figure)."""
    return str(getattr(fig, "shortcut_scale", "") or "")


def finish_loglog(fig, ax, note: str | Mapping = "", xticks=None, **labels):
    """Log-log axes with ``labels`` (xlabel, ylabel, title), x ticks labelled at ``xticks``, a legend and
    the scale ``note``; the figure closed (it is shown where it is glued) and returned."""
    ax.set(xscale="log", yscale="log", **labels)
    if xticks is not None:
        ax.set_xticks(xticks, [str(t) for t in xticks])
    ax.legend(fontsize=8)
    if note:
        scale_note(fig, note)
    plt.close(fig)
    return fig
