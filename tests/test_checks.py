"""The three outcomes of a check and the verdict they add up to."""

from dataclasses import replace

import pytest

from shortcut.figures.checks import FAILED, PASSED, UNDECIDABLE, Check, check, describe, verdict
from shortcut.figures.result import Result


def test_check_from_a_result():
    assert check("a", True).outcome == PASSED
    assert check("a", False).outcome == FAILED
    assert check("a", None, reason="two stable rates").outcome == UNDECIDABLE


def test_an_undecidable_check_must_say_why():
    with pytest.raises(ValueError, match="say why"):
        check("a", None)
    with pytest.raises(ValueError, match="not an outcome"):
        Check("a", "maybe")


@pytest.mark.parametrize("outcomes, expected", [
    ([True, True], "reproduced"),
    ([True, False], "partly"),
    ([False, False], "not reproduced"),
    ([True, None], "inconclusive"),
    ([None], "inconclusive"),
    ([False, None], "not reproduced"),
    ([True, False, None], "partly"),
])
def test_verdict(outcomes, expected):
    checks = [check(f"c{i}", ok, reason="r") for i, ok in enumerate(outcomes)]
    assert verdict(checks) == expected


def test_verdict_needs_a_check():
    with pytest.raises(ValueError):
        verdict([])


def test_describe_shows_marks_numbers_reasons_and_superseded_forms():
    old = Check("ends near orthogonal after the last epoch", FAILED, "ratio 1.1e-4", changed="2026-11-23, compared at equal loss")
    new = Check("ends near orthogonal at the curves' end", PASSED, "ratio 1.21", superseded=(old,))
    text = describe([new, check("rate-free at depth 96", None, reason="2 stable rates < 3")])
    assert text.startswith("✓ ends near orthogonal at the curves' end (ratio 1.21) [superseded form, 2026-11-23")
    assert "✗ ends near orthogonal after the last epoch (ratio 1.1e-4)]" in text
    assert "? rate-free at depth 96 — undecidable: 2 stable rates < 3" in text


def test_a_standin_result_carries_no_verdict():
    r = Result("Figure 9", "n = 2 keeps improving", [check("a", True)], {"data": "digits"}, standin="MNIST digits")
    assert r.verdict == "not tested"
    assert "not tested on the paper's data" in r.detail
    assert Result("Figure 9", "c", [check("a", True)], {}).verdict == "reproduced"


def _reading(now, then):
    """A check decided ``now`` whose superseded form was decided ``then`` (True / False / None)."""
    old = check("old reading", then, reason="r")
    return replace(check("new reading", now, reason="r"), superseded=(replace(old, changed="today, why"),))


@pytest.mark.parametrize("readings, others, expected", [
    ((True, False), [], "partly"),               # the new form passes, the old one failed: not reproduced
    ((False, True), [], "partly"),               # the other way round: not "not reproduced" either
    ((True, False), [True, True], "partly"),
    ((True, False), [False], "partly"),
    ((True, False), [None], "partly"),
    ((True, True), [True], "reproduced"),         # readings that agree: the check counts once
    ((False, False), [False], "not reproduced"),
    ((True, None), [True], "reproduced"),         # an undecidable reading neither agrees nor disagrees
    ((None, True), [True], "inconclusive"),       # ... and the current form's outcome counts
])
def test_two_readings_that_disagree_give_partly(readings, others, expected):
    checks = [_reading(*readings)] + [check(f"c{i}", ok, reason="r") for i, ok in enumerate(others)]
    assert verdict(checks) == expected


def test_a_disagreement_is_said_on_the_check_s_line():
    assert _reading(True, False).disagrees and _reading(False, True).disagrees
    assert "its readings disagree: counted as partly" in _reading(True, False).line()
    assert not _reading(True, True).disagrees and not _reading(True, None).disagrees
    assert "disagree" not in _reading(True, True).line()
    r = Result("Figure 5", "c", [_reading(True, False), check("b", True)], {})
    assert r.verdict == "partly" and "its readings disagree" in r.detail


def test_a_replaced_statement_is_shown_but_does_not_count_as_a_disagreeing_reading():
    old = Check("every unit small", FAILED, changed="replaced: it could not fail", reading=False)
    new = Check("some unit >= 1", PASSED, superseded=(old,))
    assert not new.disagrees and verdict([new]) == "reproduced"
    assert "every unit small" in describe([new])
    reread = Check("some unit >= 1", PASSED, superseded=(Check("x", FAILED, changed="re-read"),))
    assert reread.disagrees and verdict([reread]) == "partly"
