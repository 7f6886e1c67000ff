"""Checks of the paper's claims, and the verdict they add up to.

A figure's protocol turns its table into a list of :class:`Check`: one statement of the paper, tested
against a named threshold fixed before the run (a module-level constant with its reason), with one
of three outcomes:

* ``passed`` — the data agree with the statement;
* ``failed`` — the data contradict it;
* ``undecidable`` — the data cannot say (too few stable runs, a grid that does not reach the regime);
  ``reason`` says why. It is never counted as a failure.

:func:`verdict` adds them up: *reproduced* only when every check passed; *not reproduced* when every
decided check failed; *inconclusive* when nothing failed but something could not be decided;
*partly* otherwise. A check whose criterion was changed after data were seen keeps its earlier form in
``superseded`` (name, outcome, why and when), shown with it.

Two readings that disagree give *partly*: where a check passed and one of its superseded forms failed
on the same data, or the other way round, the verdict does not pick one of them. Such a check counts
as one passed and one failed, so its verdict is at best *partly*, never *reproduced* (nor *not
reproduced*), and its line says that its readings disagree. An undecidable reading neither agrees nor
disagrees: the check then counts as its current form. A superseded form that was a different statement,
replaced rather than re-read (``reading=False``, e.g. a check that could not fail), is shown but does not
count. (Rule of 2026-11-23, issue 12: before it, only
the current form counted, and Fig 5's kept paper-scale verdict was *reproduced* although its earlier
reading of "ends near orthogonal" failed.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

PASSED, FAILED, UNDECIDABLE = "passed", "failed", "undecidable"
OUTCOMES = (PASSED, FAILED, UNDECIDABLE)
MARKS = {PASSED: "✓", FAILED: "✗", UNDECIDABLE: "?"}


@dataclass(frozen=True)
class Check:
    """One tested statement: ``name`` (the claim, with its threshold), ``outcome``, ``detail`` (the
    numbers it was decided on), ``reason`` (why it is undecidable) and ``superseded`` (earlier forms)."""

    name: str
    outcome: str
    detail: str = ""
    reason: str = ""
    superseded: tuple["Check", ...] = field(default=())
    changed: str = ""  # for a superseded form: why and when it was replaced
    reading: bool = True  # for a superseded form: another reading of the same claim (False: a replaced statement)

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome={self.outcome!r} is not an outcome; allowed: {', '.join(OUTCOMES)}")
        if self.outcome == UNDECIDABLE and not self.reason:
            raise ValueError(f"check {self.name!r} is undecidable: say why (reason=...)")

    @property
    def passed(self) -> bool:
        return self.outcome == PASSED

    @property
    def disagrees(self) -> bool:
        """True when this form and a superseded one were decided both ways (one passed, one failed)."""
        decided = {c.outcome for c in (self, *self.superseded) if c is self or c.reading} - {UNDECIDABLE}
        return decided == {PASSED, FAILED}

    def line(self) -> str:
        """One line: mark, name, the numbers, and why it could not be decided."""
        text = f"{MARKS[self.outcome]} {self.name}"
        if self.detail:
            text += f" ({self.detail})"
        if self.outcome == UNDECIDABLE:
            text += f" — undecidable: {self.reason}"
        for old in self.superseded:
            text += f" [superseded form, {old.changed}: {MARKS[old.outcome]} {old.name}"
            text += f" ({old.detail})]" if old.detail else "]"
        if self.disagrees:
            text += " — its readings disagree: counted as partly"
        return text


def check(name: str, ok: bool | None, detail: str = "", reason: str = "") -> Check:
    """A :class:`Check` from a test's result: ``True`` passed, ``False`` failed, ``None`` undecidable
    (then ``reason`` is required)."""
    outcome = UNDECIDABLE if ok is None else PASSED if ok else FAILED
    return Check(name=name, outcome=outcome, detail=detail, reason=reason if ok is None else "")


def verdict(checks: Iterable[Check]) -> str:
    """The verdict of a list of checks (see the module's docstring for the rule)."""
    checks = list(checks)
    if not checks:
        raise ValueError("a verdict needs at least one check")
    outcomes = []
    for c in checks:  # a check whose readings disagree counts once passed and once failed
        outcomes += [PASSED, FAILED] if c.disagrees else [c.outcome]
    decided = [o for o in outcomes if o != UNDECIDABLE]
    if all(o == PASSED for o in outcomes):
        return "reproduced"
    if FAILED not in outcomes:
        return "inconclusive"
    if decided and all(o == FAILED for o in decided):
        return "not reproduced"
    return "partly"


def describe(checks: Iterable[Check]) -> str:
    """Every check on one line each (joined by '; ') for a verdict's detail."""
    return "; ".join(c.line() for c in checks)
