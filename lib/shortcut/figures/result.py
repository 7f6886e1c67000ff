"""What a figure's protocol returns: the plotted table, the figure, the checks, and the numbers the
prose quotes.

Every figure module (``shortcut.figures.fig4``, ``fig7`` …) has the same shape: ``jobs(P)`` (the runs
it needs, from the chapter's parameters ``P``), ``collect(records)`` (records -> the plotted table),
``draw(table)`` (pure plotting), ``checks(table)`` (the paper's claims tested against named thresholds)
and ``run(P)``, which does all four and returns a :class:`Result`. ``P`` is anything with the
chapter's parameters as attributes (the book's ``Params``, or a ``types.SimpleNamespace`` in a test).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .checks import Check, describe, parse_describe, verdict


@dataclass
class Result:
    """One figure (or theorem) of the paper, recomputed.

    ``label`` is the paper's name ("Figure 7", "Theorem 2 (n = 2)"); ``claim`` the paper's claim in one
    sentence; ``scale`` what it was computed at (data, samples, depths, seeds, epochs, what was left
    out and why); ``numbers`` the values the chapter's prose quotes, already formatted; ``excluded``
    one line per group of runs left out of an average, e.g. "6 of 10 Xavier runs diverged at lr 0.1".
    ``standin`` names the stand-in data when the data were not the paper's: then there is no verdict
    on the paper's claim.
    """

    label: str
    claim: str
    checks: list[Check]
    scale: dict[str, Any]
    figure: Any = None
    table: Any = None
    numbers: dict[str, Any] = field(default_factory=dict)
    excluded: list[str] = field(default_factory=list)
    standin: str = ""

    @property
    def verdict(self) -> str:
        return "not tested" if self.standin else verdict(self.checks)

    @property
    def detail(self) -> str:
        parts = []
        if self.standin:
            parts.append(f"not tested on the paper's data: the run used {self.standin}; its checks describe the "
                         "stand-in only")
        parts.append(describe(self.checks))
        if self.excluded:
            parts.append("left out: " + "; ".join(self.excluded))
        return " — ".join(parts)


_STANDIN = re.compile(r"^not tested on the paper's data: the run used (?P<standin>.*?); its checks describe the "
                      r"stand-in only — ", re.S)
_LEFT_OUT = " — left out: "


def parse_detail(detail: str) -> tuple[list[Check], list[str], str] | None:
    """(checks, excluded, standin) read back from a :attr:`Result.detail` (a verdict recorded before its
    checks were stored one by one), or None when ``detail`` is not such a text. The groups of runs left
    out come back split where each starts with "N of M"."""
    standin = ""
    m = _STANDIN.match(detail)
    if m:
        standin, detail = m["standin"], detail[m.end():]
    checks_text, sep, left = detail.partition(_LEFT_OUT)
    excluded = re.split(r"; (?=\d+ of \d+ )", left) if sep else []
    found = parse_describe(checks_text)
    return None if found is None else (found, [x for x in excluded if x], standin)
