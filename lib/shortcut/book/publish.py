"""Putting a figure's :class:`~shortcut.figures.result.Result` on its page: the figure and the numbers
glued for the prose, the verdict recorded for the status table and shown under the figure.

One call per figure keeps a chapter's code cell short::

    fig4 = figures.fig4.run(P)
    publish(P, fig4, "fig4")
"""

from __future__ import annotations

from typing import Any

from .verdicts import Verdict, format_scale, record_verdict


def publish(P: Any, result: Any, key: str, show: bool = True) -> Verdict:
    """Glue ``result.figure`` as ``key`` (displayed too, so that a notebook executed by papermill shows
    it; tag the cell ``remove-output`` to keep it off the page), each of ``result.numbers`` as
    ``<key>_<name>``, the verdict as ``<key>_verdict`` and the scale line as ``<key>_scale`` (for the
    caption: the figure's :func:`~shortcut.figures.plots.scale_note`, else the result's scale; a
    ``scale`` among the numbers wins); record the verdict, with its checks one by one, under ``key``
    (the status table links to the ``{glue:figure} <key>`` of the page); return it (shown when ``show``)."""
    from myst_nb import glue

    from ..figures.plots import scale_of

    if result.figure is not None:
        glue(key, result.figure, display=True)
    for name, value in result.numbers.items():
        glue(f"{key}_{name}", value, display=False)
    if "scale" not in result.numbers:
        glue(f"{key}_scale", scale_of(result.figure) or format_scale(result.scale), display=False)
    glue(f"{key}_verdict", result.verdict, display=False)
    verdict = record_verdict(P, figure=result.label, claim=result.claim, verdict=result.verdict,
                             scale=result.scale, detail=result.detail, key=key,
                             short=getattr(result, "short_claim", "") or "", checks=result.checks,
                             excluded=getattr(result, "excluded", ()), standin=getattr(result, "standin", ""))
    if show:
        from .profiles import _show

        _show(verdict)
    return verdict
