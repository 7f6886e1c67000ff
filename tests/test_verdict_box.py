"""How a verdict is shown: the sentence on what decided it, the table of checks, superseded forms folded,
the runs left out in one line; the same as text; older records read back from their prose; the scale line
in the caption; and the site checker's test that every verdict box has its table."""

import json
import re
import types
from dataclasses import replace
from pathlib import Path

import matplotlib.pyplot as plt
import pytest

from loading import load_module
from shortcut import book
from shortcut.book.verdicts import Verdict
from shortcut.figures import plots
from shortcut.figures.checks import (FAILED, PASSED, UNDECIDABLE, Check, check, decided_by, describe,
                                     excluded_line, parse_describe, parse_line, report_html, report_text, verdict)
from shortcut.figures.result import Result, parse_detail

ROOT = Path(__file__).resolve().parent.parent


def _rows(html: str) -> list[str]:
    return re.findall(r"<tr class=\"([^\"]*)\"", html)


def _reading(now, then, reading=True):
    old = replace(check("ends near orthogonal after the last epoch", then, "ratio 1.1e-4", reason="r"),
                  changed="replaced on 2026-11-23: compared at equal loss", reading=reading)
    new = check("ends near orthogonal at equal loss", now, "ratio 1.21", reason="r", threshold="ratio within ×2",
                threshold_reason='the paper\'s "ends near"')
    return replace(new, superseded=(old,))


# ---------------------------------------------------------------------------------------------------
# the sentence
# ---------------------------------------------------------------------------------------------------


def test_a_verdict_decided_by_one_failing_check_names_it():
    checks = [check("smallest at 90% of the losses", True), check("larger at large loss", False, "×0.8"),
              check("ends near orthogonal", True)]
    assert verdict(checks) == "partly"
    sentence = decided_by(checks)
    assert sentence == "Decided by check 2 (“larger at large loss”), which failed; the other 2 passed."
    only = [check("flat in depth", False, "max/min 3")]
    assert decided_by(only) == "Every decided check failed: check 1 (“flat in depth”)."


def test_several_failing_checks_are_named_by_number():
    checks = [check("a", False), check("b", True), check("c", False), check("d", None, reason="one rate")]
    assert decided_by(checks) == "Decided by checks 1 and 3, which failed; of the others, 1 passed and 1 could not be decided."
    assert decided_by([check("a", False), check("b", False), check("c", None, reason="r")]) == (
        "Every decided check failed: checks 1 and 2; one other could not be decided.")


def test_the_sentence_for_reproduced_inconclusive_disagreeing_and_standin():
    assert decided_by([check("a", True), check("b", True)]) == "Every check passed (2 of 2)."
    assert decided_by([check("a", True), check("b", None, reason="2 stable rates < 3")]) == (
        "Nothing failed, but check 2 (“b”) could not be decided: 2 stable rates < 3.")
    split = decided_by([check("a", True), _reading(True, False)])
    assert split.startswith("Decided by check 2 (“ends near orthogonal at equal loss”), which passed while its "
                            "superseded reading failed (two readings that disagree count as partly)")
    assert decided_by([check("a", True)], standin="random images").startswith("Not tested: the run used random images")


# ---------------------------------------------------------------------------------------------------
# the table
# ---------------------------------------------------------------------------------------------------


def test_the_table_has_a_row_per_check_with_threshold_reason_measured_and_outcome():
    checks = [check("smallest", True, "at 97%", threshold="≥ 90% of the losses",
                    threshold_reason='the paper\'s "at every loss"'), check("larger at large loss", False, "×0.8")]
    html = report_html(checks)
    assert html.count('<table class="shortcut-checks">') == 1
    assert _rows(html) == ["shortcut-check shortcut-passed", "shortcut-check shortcut-failed"]
    assert "<th>threshold · why</th><th>measured</th><th>outcome</th>" in html
    assert "≥ 90% of the losses" in html and "the paper&#x27;s &quot;at every loss&quot;" in html
    assert "✓ passed" in html and "✗ failed" in html and "at 97%" in html
    assert "in the statement" in html  # the second check has no separate threshold


def test_a_superseded_form_sits_in_a_folded_row_of_its_own():
    html = report_html([_reading(True, False)])
    assert _rows(html) == ["shortcut-check shortcut-passed", "shortcut-superseded shortcut-failed"]
    main, folded = html.split('<tr class="shortcut-superseded')
    assert "after the last epoch" not in main  # the old statement is only in the folded row
    assert "<details><summary>Superseded form of check 1: ✗ failed — still counts" in folded
    assert "ends near orthogonal after the last epoch" in folded and "ratio 1.1e-4" in folded
    assert "replaced on 2026-11-23: compared at equal loss" in folded
    assert "its readings disagree: counted as partly" in main
    replaced = report_html([_reading(True, False, reading=False)])
    assert "a replaced statement: shown, not counted" in replaced and "disagree" not in replaced


def test_an_undecidable_outcome_renders_as_such():
    html = report_html([check("rate-free at depth 96", None, reason="2 stable rates < 3")], "inconclusive")
    assert _rows(html) == ["shortcut-check shortcut-undecidable"]
    assert "? undecidable" in html and "2 stable rates &lt; 3" in html and "—" in html  # no numbers measured
    assert "could not be decided: 2 stable rates &lt; 3" in html


def test_the_runs_left_out_are_counted_in_one_line():
    left = ["6 of 10 xavier runs diverged at lr 0.1; the curves average the 4 others",
            "2 of 10 orthogonal runs diverged at lr 0.1; the curves average the 8 others"]
    line = excluded_line(left)
    assert line.startswith("8 runs left out of the averages: 6 of 10 xavier") and "\n" not in line
    assert excluded_line(["depths [96] (not run)"]) == "Left out of the averages: depths [96] (not run)."
    assert excluded_line([]) == ""
    html = report_html([check("a", True)], excluded=left)
    assert html.count('<p class="shortcut-excluded">') == 1 and "8 runs left out" in html


def test_the_plain_text_fallback_says_the_same():
    text = report_text([check("a", True, "1.0", threshold="≥ 0.9"), _reading(True, False),
                        check("c", None, reason="too few runs")], "partly", ["1 of 3 xavier runs diverged"])
    lines = text.splitlines()
    assert lines[0].startswith("Decided by check 2 (“ends near orthogonal at equal loss”)")
    assert " 1. ✓ passed: a" in lines and "    threshold: ≥ 0.9" in lines and "    measured: 1.0" in lines
    assert any(x.startswith("    superseded form (still counts") and "✗ failed" in x for x in lines)
    assert " 3. ? undecidable: c" in lines and "    undecidable: too few runs" in lines
    assert lines[-1] == "1 run left out of the averages: 1 of 3 xavier runs diverged."


def test_with_no_checks_the_table_holds_the_recorded_prose():
    html = report_html([], "partly", fallback="ratio 2.1")
    assert '<table class="shortcut-checks">' in html and "ratio 2.1" in html


# ---------------------------------------------------------------------------------------------------
# records: checks stored one by one, and older records read back from their prose
# ---------------------------------------------------------------------------------------------------


def test_a_check_round_trips_through_plain_data():
    c = _reading(True, False, reading=False)
    back = Check.from_dict(json.loads(json.dumps(c.to_dict())))
    assert back == c and back.superseded[0].reading is False
    assert Check.from_dict({"name": "a", "outcome": PASSED, "unknown": 1}) == Check("a", PASSED)


def test_lines_read_back_into_checks():
    checks = [check("smallest at ≥ 90% of the losses", True, "at 97%: below xavier's at 100%"),
              _reading(True, False), check("peaks where the index falls", False, "peak at epoch 15; window 3–7"),
              check("rate-free (spread ≤ 1.05)", None, reason="2 stable rates < 3")]
    back = parse_describe(describe(checks))
    assert [c.outcome for c in back] == [PASSED, PASSED, FAILED, UNDECIDABLE]
    assert [c.name for c in back] == [c.name for c in checks]
    assert [c.detail for c in back] == [c.detail for c in checks]
    assert back[3].reason == "2 stable rates < 3"
    old = back[1].superseded[0]
    assert (old.name, old.outcome, old.detail) == ("ends near orthogonal after the last epoch", FAILED, "ratio 1.1e-4")
    assert old.changed == "replaced on 2026-11-23: compared at equal loss" and back[1].disagrees
    assert verdict(back) == verdict(checks) == "partly"
    assert parse_line("not a check") is None and parse_describe("") is None
    assert parse_line("✓ a (≥ 90%)").threshold == "≥ 90%"  # an older line's parentheses held the threshold


def test_a_result_s_detail_reads_back_with_its_standin_and_left_out_runs():
    left = ["6 of 10 xavier runs diverged at lr 0.1; the curves average the 4 others", "1 of 10 orthogonal runs diverged"]
    r = Result("Figure 5", "c", [check("a", True, "1.0"), check("b", False)], {}, excluded=left, standin="noise")
    checks, excluded, standin = parse_detail(r.detail)
    assert [c.name for c in checks] == ["a", "b"] and excluded == left and standin == "noise"
    assert parse_detail("ratio 2.1") is None


def test_record_verdict_stores_the_checks_and_the_box_shows_them(tmp_path):
    P = types.SimpleNamespace(chapter="dyn", profile="small", results_dir=tmp_path, root=tmp_path)
    r = Result("Figure 5", "smaller condition number", [check("a", True), _reading(True, False)], {"runs": 3},
               excluded=["1 of 3 xavier runs diverged"])
    v = book.record_verdict(P, r.label, r.claim, r.verdict, r.scale, r.detail, checks=r.checks, excluded=r.excluded)
    stored = json.loads((tmp_path / "verdicts" / "dyn.json").read_text())["verdicts"]["Figure 5"]
    assert [c["name"] for c in stored["checks"]] == ["a", "ends near orthogonal at equal loss"]
    assert stored["excluded"] == ["1 of 3 xavier runs diverged"] and stored["standin"] == ""
    html = v._repr_html_()
    assert html.startswith('<div class="shortcut-verdict"') and '<table class="shortcut-checks">' in html
    assert "verdict: <strong" in html and "partly" in html and "1 run left out of the averages" in html
    assert "Claim:</em> smaller condition number" in html and "profile <code>small</code>" in html
    text = repr(v)
    assert text.startswith("Verdict (Figure 5): partly") and "\n   1. ✓ passed: a" in text
    # a record without the checks' fields: its prose is read back into the same table
    older = Verdict({k: x for k, x in v.items() if k not in ("checks", "excluded", "standin")})
    assert _rows(older._repr_html_()) == _rows(html)
    # and prose that is not a line of checks still gets its table, holding the prose
    free = Verdict(chapter="dyn", figure="Fig 4", profile="small", claim="c", verdict="partly", scale="s",
                   detail="ratio 2.1")
    assert '<table class="shortcut-checks">' in free._repr_html_() and "ratio 2.1" in free._repr_html_()


@pytest.mark.parametrize("kept", sorted((ROOT / "book" / "figures").glob("*/*.json")), ids=lambda p: p.stem)
def test_every_kept_verdict_reads_back_into_a_table(kept):
    v = json.loads(kept.read_text())["verdict"]
    checks, _, _ = parse_detail(v["detail"])
    assert checks, kept
    html = Verdict(**v)._repr_html_()
    assert html.count("<tr class=\"shortcut-check ") == len(checks)


def test_the_kept_figure_5_box_names_the_check_whose_readings_disagree():
    v = json.loads((ROOT / "book" / "figures" / "dynamics" / "fig5-paper.json").read_text())["verdict"]
    html = Verdict(**v)._repr_html_()
    assert "Decided by check 3 (“2-shortcut and orthogonal end near the same value”), which passed while its " \
           "superseded reading failed" in html
    assert "<details><summary>Superseded form of check 3: ✗ failed — still counts" in html
    assert "6 runs left out of the averages: 6 of 10 xavier runs diverged at lr 0.1" in html


# ---------------------------------------------------------------------------------------------------
# the scale line: kept with the figure, glued for its caption, not drawn in the image
# ---------------------------------------------------------------------------------------------------


def test_the_scale_note_is_kept_for_the_caption_not_drawn():
    fig = plt.figure()
    plots.scale_note(fig, {"samples": 500, "depth": 4})
    assert fig.texts == [] and plots.scale_of(fig) == "samples 500, depth 4"
    assert plots.scale_of(plt.figure()) == "" and plots.scale_of(None) == ""
    plt.close("all")


def test_publish_glues_the_scale_line_and_records_the_checks(tmp_path, monkeypatch):
    import myst_nb

    glued = {}
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display=True: glued.__setitem__(name, value))
    P = types.SimpleNamespace(chapter="dyn", profile="small", results_dir=tmp_path, root=tmp_path)
    fig = plt.figure()
    plots.scale_note(fig, "digits, depth 4, left out none")
    r = Result("Figure 5", "c", [check("a", True)], {"runs": 3}, figure=fig, excluded=["1 of 3 runs diverged"])
    v = book.publish(P, r, "fig5", show=False)
    assert glued["fig5_scale"] == "digits, depth 4, left out none" and glued["fig5_verdict"] == "reproduced"
    assert v["checks"][0]["name"] == "a" and v["excluded"] == ["1 of 3 runs diverged"]
    book.publish(P, Result("Figure 4", "c", [check("a", True)], {"runs": 3, "depths": [2, 4]}), "fig4", show=False)
    assert glued["fig4_scale"] == "runs 3, depths [2, 4]"  # no figure note: the result's scale
    book.publish(P, Result("Figure 9", "c", [check("a", True)], {}, numbers={"scale": "own"}), "fig9", show=False)
    assert glued["fig9_scale"] == "own"  # the figure's own number wins
    plt.close("all")


def test_every_figure_of_a_chapter_quotes_its_scale():
    """Each ``{glue:figure} <key>`` is followed, in its caption or the paragraph after it, by its scale line."""
    missing = []
    for page in sorted((ROOT / "book").glob("*.md")):
        text = page.read_text(encoding="utf-8")
        for m in re.finditer(r"^```\{glue:figure\} (\S+)\n(.*?)^```$(?:\n\n(.*?)(?:\n\n|\Z))?", text, re.M | re.S):
            key, caption, after = m[1], m[2], m[3] or ""
            if f"`{key}_scale`" not in caption and not after.startswith(f"Scale: {{glue:text}}`{key}_scale`"):
                missing.append(f"{page.name}: {key}")
    assert not missing, missing


# ---------------------------------------------------------------------------------------------------
# the site checker: a verdict box must have its table; its text must not be small
# ---------------------------------------------------------------------------------------------------


def _checker():
    return load_module(ROOT / "scripts" / "check_site.py")


def _site(tmp_path: Path, body: str, css: str = "") -> Path:
    site = tmp_path / "site"
    (site / "book").mkdir(parents=True)
    (site / "index.html").write_text('<meta http-equiv="refresh" content="0; url=book/a.html">')
    (site / "book" / "a.html").write_text(f"<html><head><style>{css}</style></head><body><main>"
                                          f'<article class="bd-article">{body}</article></main></body></html>')
    return site.resolve()


_BOX = ('<div class="output text_html"><div class="shortcut-verdict"><p><strong>Figure 5</strong> — verdict: '
        "partly</p>{inside}</div></div>")
_TABLE = report_html([check("smallest", True), check("larger at large loss", False)], "partly")


def test_check_site_fails_on_a_verdict_box_without_its_table(tmp_path):
    checker = _checker()
    bare = _site(tmp_path / "bare", _BOX.format(inside="<p>✓ smallest; ✗ larger at large loss</p>")
                 + '<table><tr><td class="shortcut-verdict">a status cell, not a box</td></tr></table>')
    errors = checker.check_static(bare)[0]
    assert len(errors) == 1 and "a verdict box without its table of checks" in errors[0] and "a.html:1" in errors[0]
    assert checker.main([str(bare)]) == 1
    # a table after the box, outside it, does not count
    after = _site(tmp_path / "after", _BOX.format(inside="<p>prose</p>") + _TABLE)
    assert len(checker.check_static(after)[0]) == 1
    good = _site(tmp_path / "good", _BOX.format(inside=_TABLE) + _BOX.format(inside=f"<div><p>x</p>{_TABLE}</div>"))
    assert checker.check_static(good)[0] == [] and checker.main([str(good)]) == 0


@pytest.mark.skipif(_checker().find_chromium(None) is None,
                    reason="no Chromium (apt-get install -y chromium): the browser checks cannot run")
def test_check_site_in_the_browser_fails_on_small_text_in_a_verdict_box_or_a_caption(tmp_path):
    checker = _checker()
    exe = checker.find_chromium(None)
    body = _BOX.format(inside=_TABLE) + "<figure>" \
        "<figcaption><p>Figure 5. <span class='scale'>Scale: digits, depth 4.</span></p></figcaption></figure>"
    found = {}
    for name, css in (("small", "table.shortcut-checks { font-size: 8px; } figcaption .scale { font-size: 6px; }"),
                      ("readable", "body { font-size: 16px; }")):
        site = _site(tmp_path / name, body, css)
        found[name] = checker.check_browser(site, checker.check_static(site)[2], exe, None)[0]
    small = [e for e in found["small"] if "below 12 px" in e]
    assert any("smallest" in e and "8.0 px" in e for e in small), found["small"]
    assert any("Scale: digits" in e and "6.0 px" in e for e in small), found["small"]
    assert found["readable"] == [], found["readable"]
