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

How a verdict is shown (:func:`report_html`, :func:`report_text`; the verdict box of
``shortcut.book.verdicts.Verdict``): the verdict with one sentence on what decided it
(:func:`decided_by`), then a table of the checks — the statement, its threshold with the threshold's
reason, the value measured, the outcome — each superseded form in a folded row of its own, and the runs
left out of the averages counted in one line (:func:`excluded_line`). A verdict recorded before the
checks were stored one by one has only the prose of :func:`describe`; :func:`parse_line` reads it back.
"""

from __future__ import annotations

import html
import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Iterable, Mapping, Sequence

PASSED, FAILED, UNDECIDABLE = "passed", "failed", "undecidable"
OUTCOMES = (PASSED, FAILED, UNDECIDABLE)
MARKS = {PASSED: "✓", FAILED: "✗", UNDECIDABLE: "?"}


@dataclass(frozen=True)
class Check:
    """One tested statement: ``name`` (the claim, with its threshold), ``outcome``, ``detail`` (the
    numbers it was decided on: the value measured), ``reason`` (why it is undecidable), ``superseded``
    (earlier forms), and for the verdict's table ``threshold`` (the criterion alone, e.g. "≥ 90 % of the
    common losses") with ``threshold_reason`` (why that threshold: the paper's wording, or a derivation)."""

    name: str
    outcome: str
    detail: str = ""
    reason: str = ""
    superseded: tuple["Check", ...] = field(default=())
    changed: str = ""  # for a superseded form: why and when it was replaced
    reading: bool = True  # for a superseded form: another reading of the same claim (False: a replaced statement)
    threshold: str = ""
    threshold_reason: str = ""

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

    def to_dict(self) -> dict[str, Any]:
        """The check as plain data (for a verdict's JSON record); :meth:`from_dict` reads it back."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Check":
        """A :class:`Check` from :meth:`to_dict`'s output (unknown keys ignored, missing ones defaulted)."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["superseded"] = tuple(cls.from_dict(old) for old in data.get("superseded", ()))
        return cls(**values)


def check(name: str, ok: bool | None, detail: str = "", reason: str = "", threshold: str = "",
          threshold_reason: str = "") -> Check:
    """A :class:`Check` from a test's result: ``True`` passed, ``False`` failed, ``None`` undecidable
    (then ``reason`` is required); ``threshold`` and its ``threshold_reason`` for the verdict's table."""
    outcome = UNDECIDABLE if ok is None else PASSED if ok else FAILED
    return Check(name=name, outcome=outcome, detail=detail, reason=reason if ok is None else "",
                 threshold=threshold, threshold_reason=threshold_reason)


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


# ---------------------------------------------------------------------------------------------------
# reading a check back from its line (verdicts recorded before the checks were stored one by one)
# ---------------------------------------------------------------------------------------------------

_OUTCOME_OF = {mark: outcome for outcome, mark in MARKS.items()}
_DISAGREE = " — its readings disagree: counted as partly"
_SUPERSEDED = "[superseded form, "
_UNDECIDABLE = " — undecidable: "
_UNRECORDED = "not recorded"
_THRESHOLD_LIKE = re.compile(r"\s*(?:[≥≤<>]|within\b)")


def _closing(text: str, start: int, open_: str = "[", close: str = "]") -> int:
    """The index of the bracket that closes the one at ``start`` (-1 if none does)."""
    depth = 0
    for i in range(start, len(text)):
        depth += (text[i] == open_) - (text[i] == close)
        if depth == 0:
            return i
    return -1


def _name_and_detail(body: str) -> tuple[str, str]:
    """``"name (detail)"`` -> (name, detail): the detail is the last parenthesised group, when it ends the text."""
    if body.endswith(")"):
        depth = 0
        for i in range(len(body) - 1, 0, -1):
            depth += (body[i] == ")") - (body[i] == "(")
            if depth == 0:
                if body[i - 1] == " ":
                    return body[: i - 1], body[i + 1: -1]
                break
    return body, ""


def parse_line(text: str) -> Check | None:
    """The :class:`Check` that :meth:`Check.line` wrote ``text`` from, or None when ``text`` is not such a
    line. What a line does not say is defaulted: the reason of an undecidable superseded form ("not
    recorded"), the threshold; a superseded form counts as a reading of the same claim unless the line
    shows that it was decided the other way without disagreeing (then it was a replaced statement).
    Parentheses that end a decided check's line are its detail (the numbers), or its threshold when they
    start with one (≥, ≤, <, >, "within"), as older lines wrote; a check whose detail is empty but whose
    statement ends in parentheses comes back with those as its detail."""
    text = text.strip()
    if len(text) < 3 or text[0] not in _OUTCOME_OF or text[1] != " ":
        return None
    disagrees = text.endswith(_DISAGREE)
    if disagrees:
        text = text[: -len(_DISAGREE)]
    at = text.find(" " + _SUPERSEDED)
    head, rest = (text, "") if at < 0 else (text[:at], text[at + 1:])
    olds = []
    while rest:
        end = _closing(rest, 0) if rest.startswith(_SUPERSEDED) else -1
        if end < 0:
            return None
        inner = rest[len(_SUPERSEDED): end]
        marks = list(re.finditer(r": ([✓✗?]) ", inner))
        if not marks:
            return None
        m = marks[-1]
        name, detail = _name_and_detail(inner[m.end():])
        outcome = _OUTCOME_OF[m[1]]
        olds.append(Check(name, outcome, detail, reason=_UNRECORDED if outcome == UNDECIDABLE else "",
                          changed=inner[: m.start()]))
        rest = rest[end + 1:].lstrip()
    outcome, body, reason = _OUTCOME_OF[head[0]], head[2:], ""
    if outcome == UNDECIDABLE:  # an undecidable check has no numbers: parentheses belong to its statement
        body, sep, reason = body.partition(_UNDECIDABLE)
        name, detail, reason = body, "", reason if sep else _UNRECORDED
    else:
        name, detail = _name_and_detail(body)
    threshold = ""
    if _THRESHOLD_LIKE.match(detail):  # an older line put the threshold, not the numbers, in parentheses
        threshold, detail = detail, ""
    decided = {PASSED, FAILED}
    olds = [Check(o.name, o.outcome, o.detail, o.reason, changed=o.changed,
                  reading=disagrees or not ({o.outcome, outcome} == decided)) for o in olds]
    return Check(name, outcome, detail, reason, superseded=tuple(olds), threshold=threshold)


def parse_describe(text: str) -> list[Check] | None:
    """The checks :func:`describe` wrote ``text`` from (see :func:`parse_line`), or None when it is not
    such a text."""
    items, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += (ch == "[") - (ch == "]")
        if depth == 0 and text.startswith("; ", i) and text[i + 2: i + 3] in _OUTCOME_OF and text[i + 3: i + 4] == " ":
            items.append(text[start:i])
            start = i + 2
    items.append(text[start:])
    found = [parse_line(item) for item in items]
    return None if not text.strip() or any(c is None for c in found) else found


# ---------------------------------------------------------------------------------------------------
# how a verdict is shown: one sentence on what decided it, a table of the checks, the runs left out
# ---------------------------------------------------------------------------------------------------

OUTCOME_WORDS = {PASSED: "passed", FAILED: "failed", UNDECIDABLE: "undecidable"}


def _ref(i: int, c: Check) -> str:
    return f"check {i} (“{c.name}”)"


def _refs(numbered: Sequence[tuple[int, Check]]) -> str:
    """One check by its number and statement; several by their numbers (the table has the statements)."""
    if len(numbered) == 1:
        return _ref(*numbered[0])
    return "checks " + _and([str(i) for i, _ in numbered])


def _and(parts: Sequence[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _counted(n: int, what: str) -> str:
    return f"{n} {what}" if n != 1 else f"one {what}"


def decided_by(checks: Iterable[Check], verdict_: str | None = None, standin: str = "") -> str:
    """One sentence on what decided the verdict ``verdict_`` (default: :func:`verdict` of ``checks``),
    naming the checks by their number in the table (1, 2, …), a single one also by its statement: the
    checks that failed, those whose readings disagree, or those that could not be decided. ``standin``: the data the run used
    instead of the paper's (then nothing was tested)."""
    checks = list(checks)
    if standin:
        return (f"Not tested: the run used {standin}, not the paper's data, so the checks below describe the "
                "stand-in only.")
    if not checks:
        return "No check was recorded one by one; the recorded detail is below."
    v = verdict_ or verdict(checks)
    numbered = list(enumerate(checks, 1))
    failed = [(i, c) for i, c in numbered if c.outcome == FAILED and not c.disagrees]
    split = [(i, c) for i, c in numbered if c.disagrees]
    open_ = [(i, c) for i, c in numbered if c.outcome == UNDECIDABLE]
    passed = [(i, c) for i, c in numbered if c.outcome == PASSED and not c.disagrees]
    if v == "reproduced":
        return "Its one check passed." if len(checks) == 1 else f"Every check passed ({len(checks)} of {len(checks)})."
    if v == "inconclusive" and open_:
        why = f": {open_[0][1].reason}" if len(open_) == 1 else ""
        return f"Nothing failed, but {_refs(open_)} could not be decided{why}."
    if v == "not reproduced" and failed:
        text = f"Every decided check failed: {_refs(failed)}"
        return text + (f"; {_counted(len(open_), 'other')} could not be decided." if open_ else ".")
    parts = [f"{_refs(failed)}, which failed"] if failed else []
    for i, c in split:
        other = next((o.outcome for o in c.superseded if o.reading and o.outcome not in (c.outcome, UNDECIDABLE)), FAILED)
        parts.append(f"{_ref(i, c)}, which {OUTCOME_WORDS[c.outcome]} while its superseded reading "
                     f"{OUTCOME_WORDS[other]} (two readings that disagree count as partly)")
    if not parts:
        return "Decided by the checks below."
    text = "Decided by " + _and(parts)
    if passed and not open_:
        text += f"; the other {len(passed)} passed" if len(passed) > 1 else "; the other one passed"
    elif passed or open_:
        text += f"; of the others, {len(passed)} passed and {len(open_)} could not be decided"
    return text + "."


def excluded_line(excluded: Iterable[str]) -> str:
    """The runs left out of the averages in one line, counted when every group says "N of M …"."""
    items = [x.strip() for x in excluded if x and x.strip()]
    if not items:
        return ""
    counts = [re.match(r"(\d+) of \d+\b", x) for x in items]
    if all(counts):
        n = sum(int(m[1]) for m in counts)
        head = f"{n} run{'s' if n != 1 else ''} left out of the averages"
    else:
        head = "Left out of the averages"
    return f"{head}: {'; '.join(items)}."


def _superseded_note(c: Check, old: Check) -> str:
    """How a superseded form counts towards the verdict, in a few words."""
    if not old.reading:
        return "a replaced statement: shown, not counted"
    if old.outcome == UNDECIDABLE or c.outcome == UNDECIDABLE:
        return "undecidable on one side: neither agrees nor disagrees"
    if old.outcome != c.outcome:
        return "still counts: the two readings disagree, so the verdict is at best partly"
    return "another reading of the same claim; it agrees"


def _outcome_word(c: Check) -> str:
    return f"{MARKS[c.outcome]} {OUTCOME_WORDS[c.outcome]}"


def report_html(checks: Iterable[Check], verdict_: str | None = None, excluded: Iterable[str] = (),
                standin: str = "", fallback: str = "") -> str:
    """The body of a verdict box, as HTML: :func:`decided_by`'s sentence, the table of ``checks`` (``#``,
    check, threshold and its reason, measured, outcome; each superseded form folded in a row of its own
    under its check), and :func:`excluded_line`. With no checks, the table holds ``fallback`` (the
    recorded prose) in one row, so that every box has its table."""
    e = html.escape
    checks = list(checks)
    rows = []
    for i, c in enumerate(checks, 1):
        threshold = (e(c.threshold) if c.threshold else '<span class="shortcut-sub">in the statement</span>')
        if c.threshold_reason:
            threshold += f'<span class="shortcut-sub">{e(c.threshold_reason)}</span>'
        outcome = f'<span class="shortcut-mark">{e(_outcome_word(c))}</span>'
        if c.outcome == UNDECIDABLE:
            outcome += f'<span class="shortcut-sub">{e(c.reason)}</span>'
        if c.disagrees:
            outcome += '<span class="shortcut-sub">its readings disagree: counted as partly</span>'
        rows.append(f'<tr class="shortcut-check shortcut-{c.outcome}"><td class="shortcut-n">{i}</td>'
                    f'<td class="shortcut-name">{e(c.name)}</td><td class="shortcut-threshold">{threshold}</td>'
                    f'<td class="shortcut-measured">{e(c.detail) if c.detail else "—"}</td>'
                    f'<td class="shortcut-outcome">{outcome}</td></tr>')
        for old in c.superseded:
            measured = f" <em>Measured:</em> {e(old.detail)}." if old.detail else ""
            rows.append(
                f'<tr class="shortcut-superseded shortcut-{old.outcome}"><td class="shortcut-n"></td><td colspan="4">'
                f"<details><summary>Superseded form of check {i}: {e(_outcome_word(old))} — "
                f"{e(_superseded_note(c, old))}</summary><p><em>It read:</em> {e(old.name)}.{measured} "
                f"<em>Why and when it was replaced:</em> {e(old.changed or 'not recorded')}.</p></details></td></tr>")
    if not checks:
        rows.append(f'<tr class="shortcut-check"><td class="shortcut-n"></td><td colspan="4">'
                    f"{e(fallback or 'no check was recorded')}</td></tr>")
    left = excluded_line(excluded)
    return (f'<p class="shortcut-decided">{e(decided_by(checks, verdict_, standin))}</p>'
            '<table class="shortcut-checks"><thead><tr><th class="shortcut-n">#</th><th>check</th>'
            "<th>threshold · why</th><th>measured</th><th>outcome</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
            + (f'<p class="shortcut-excluded">{e(left)}</p>' if left else ""))


def report_text(checks: Iterable[Check], verdict_: str | None = None, excluded: Iterable[str] = (),
                standin: str = "", fallback: str = "") -> str:
    """:func:`report_html` as plain text: the sentence, one block per check, the runs left out."""
    checks = list(checks)
    lines = [decided_by(checks, verdict_, standin)]
    for i, c in enumerate(checks, 1):
        lines.append(f"{i:>2}. {_outcome_word(c)}: {c.name}")
        if c.threshold:
            lines.append(f"    threshold: {c.threshold}" + (f" ({c.threshold_reason})" if c.threshold_reason else ""))
        if c.detail:
            lines.append(f"    measured: {c.detail}")
        if c.outcome == UNDECIDABLE:
            lines.append(f"    undecidable: {c.reason}")
        for old in c.superseded:
            lines.append(f"    superseded form ({_superseded_note(c, old)}): {_outcome_word(old)}: {old.name}"
                         + (f" ({old.detail})" if old.detail else "") + f"; replaced: {old.changed or 'not recorded'}")
    if not checks and fallback:
        lines.append(fallback)
    left = excluded_line(excluded)
    return "\n".join(lines + ([left] if left else []))
