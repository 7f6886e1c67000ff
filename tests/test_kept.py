"""Kept figures: a chapter saves a stamped figure with its facts; `shortcut.book.kept` copies it into the book."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from shortcut import book  # noqa: E402
from shortcut.book import build, kept, verdicts  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def chapter(tmp_path, monkeypatch):
    """A throwaway book with one chapter section, configured as a papermill run with one override."""
    root = tmp_path / "root"
    (root / "book" / "profiles").mkdir(parents=True)
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n  - file: book/dyn\n")
    (root / "book" / "profiles" / "big.yaml").write_text(
        "description: big\ncommon: {device: cpu}\nintro: {}\ndyn: {depths: [2, 96], seeds: 10}\n")
    (root / "book" / "profiles" / "schema.yaml").write_text(  # what shortcut.book.schema checks
        "common: {device: {type: device}}\nintro: {}\n"
        "dyn: {depths: {type: list, of: int, min: 1}, seeds: {type: int, min: 1}}\n")
    monkeypatch.setenv(book.ROOT_ENV, str(root))
    ns = {"profile": "big", "results_dir": str(tmp_path / "results"), "device": None, "depths": None, "seeds": 3}
    return root, book.configure("dyn", ns, show=False)


def _figure():
    fig, ax = plt.subplots()
    ax.plot([1, 2], [3, 4])
    return fig


def test_save_figure_writes_a_stamped_png_and_its_facts(chapter):
    root, P = chapter
    fig = _figure()
    texts_before = len(fig.texts)
    v = book.record_verdict(P, "Fig 7", "a claim", "partly", {"depths": [2, 96]}, detail="check: no")
    png = kept.save_figure(P, fig, "fig7", verdict=v)
    assert png == P.results_dir / "figures" / "dyn" / "fig7.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(fig.texts) == texts_before  # the stamp is in the file, not left on the figure
    meta = json.loads(png.with_suffix(".json").read_text())
    assert meta["profile"] == "big" and meta["chapter"] == "dyn" and meta["figure"] == "fig7"
    assert meta["changed_parameters"] == {"seeds": "3"}  # given, not from the profile; results_dir left out
    assert meta["parameters"]["depths"] == "[2, 96]"
    assert meta["verdict"]["verdict"] == "partly" and meta["verdict"]["detail"] == "check: no"
    assert "CPU" in meta["machine"] and "torch" in meta["machine"]
    assert sorted(p.name for p in png.parent.iterdir()) == ["fig7.json", "fig7.png"]  # no temporary files


def test_keep_copies_into_the_book_and_load_kept_reads_it(chapter):
    root, P = chapter
    v = book.record_verdict(P, "Fig 7", "a claim", "reproduced", "small")
    kept.save_figure(P, _figure(), "fig7", verdict=v)
    assert kept.main(["--profile", "big", "--results-dir", str(P.results_dir), "dyn/fig7"]) == 0
    assert (root / "book" / "figures" / "dyn" / "fig7-big.png").is_file()
    k = kept.load_kept("dyn", "fig7-big", root)
    assert k["file"] == "book/figures/dyn/fig7-big.png"
    assert "profile big" in k.summary and "seeds=3" in k.summary
    html = k._repr_html_()
    assert "reproduced" in html and "Kept figure" in html
    table = kept.kept_figures(root)
    assert [(t["chapter"], t["figure"]) for t in table] == [("dyn", "fig7")]
    assert table[0]["link"] == "dyn.html"  # a page of the toc (the file need not exist for the link)
    assert "fig7" in repr(table) and "reproduced" in repr(table)
    facts = k.facts(root)
    assert facts["verdict"] == "reproduced" and facts["summary"] == k.summary and facts["scale"] == "small"
    assert facts["changes"] == "seeds = 3 (the big profile: 10)"  # what the run changed, beside the profile's value
    assert "the dyn chapter again at the big profile's own parameters" in facts["rerun"]
    assert "`" not in facts["rerun"]  # glued as text: no markup


def test_keep_and_load_kept_name_what_is_missing(chapter, capsys):
    root, P = chapter
    kept.save_figure(P, _figure(), "fig3")
    assert kept.main(["--profile", "big", "--results-dir", str(P.results_dir), "dyn/fig7"]) == 1
    err = capsys.readouterr().err
    assert "no figure dyn/fig7" in err and "dyn/fig3" in err  # says what is there
    with pytest.raises(FileNotFoundError, match="no kept figure"):
        kept.load_kept("dyn", "fig7-big", root)
    with pytest.raises(SystemExit):
        kept.main(["--profile", "big", "fig7"])  # not chapter/figure


def _one_page_plan(root, tmp_path, name: str):
    """A build plan of the throwaway book with one page, ``book/<name>.md``, and that page."""
    (root / "book" / f"{name}.md").write_text(f"# {name}\n")
    page = build.Page(f"book/{name}", root / "book" / f"{name}.md", "notebook")
    return build.Plan(root, "big", book.load_profile("big", root), tmp_path / "b", tmp_path / "r", [page], [name]), page


def test_a_kept_figure_changes_its_chapters_build_hash(chapter, tmp_path):
    root, _ = chapter
    plan, page = _one_page_plan(root, tmp_path, "dyn")
    before = build.fingerprint(plan, page)
    folder = root / book.KEPT_FIGURES / "dyn"
    folder.mkdir(parents=True)
    (folder / "fig7-big.json").write_text("{}")
    assert build.kept_files(root, "dyn") == [folder / "fig7-big.json"]
    assert build.fingerprint(plan, page) != before
    (root / book.KEPT_FIGURES / "other").mkdir()
    (root / book.KEPT_FIGURES / "other" / "x.png").write_bytes(b"x")  # another chapter's: no effect
    assert build.kept_files(root, "dyn") == [folder / "fig7-big.json"]


# ---------------------------------------------------------------------------------------------------
# kept verdicts of a held-out replication (book/replications/<profile>/)
# ---------------------------------------------------------------------------------------------------


def _replication_run(P, commit: str):
    """A chapter's verdict file as a replication run writes it, its checks at ``commit``."""
    v = book.record_verdict(P, "Figure 7", "the 2-shortcut net stays near the optimum", "partly", "small",
                            detail="check: no")
    path = P.results_dir / "verdicts" / "dyn.json"
    data = json.loads(path.read_text())
    data["commit"] = commit
    path.write_text(json.dumps(data))
    return v


def test_a_verdict_file_names_the_commit_its_checks_ran_at(chapter):
    _, P = chapter
    book.record_verdict(P, "Figure 7", "a claim", "partly", "small")
    data = json.loads((P.results_dir / "verdicts" / "dyn.json").read_text())
    assert "commit" in data  # "" here: the throwaway book is no git checkout
    assert verdicts.code_version(str(book.find_root())) == ""
    if (ROOT / ".git").exists():  # the book's own checkout: a commit, maybe +uncommitted
        here = verdicts.code_version(str(ROOT))
        assert len(here.split("+")[0]) == 40 and here.split("+")[1:] in ([], ["uncommitted"]), here


def test_keep_verdicts_copies_a_committed_run_and_refuses_an_uncommitted_one(chapter, capsys):
    root, P = chapter
    _replication_run(P, "a" * 40 + "+uncommitted")
    assert kept.main(["--profile", "big", "--results-dir", str(P.results_dir), "--verdicts"]) == 1
    assert "uncommitted code" in capsys.readouterr().err
    assert not (root / book.KEPT_VERDICTS).exists()
    _replication_run(P, "b" * 40)
    assert kept.main(["--profile", "big", "--results-dir", str(P.results_dir), "--verdicts", "dyn"]) == 0
    copy = json.loads((root / book.KEPT_VERDICTS / "big" / "dyn.json").read_text())
    assert copy["commit"] == "b" * 40 and copy["verdicts"]["Figure 7"]["verdict"] == "partly"
    assert "CPU" in copy["kept"]["machine"]
    assert kept.main(["--profile", "other", "--results-dir", str(P.results_dir), "--verdicts"]) == 1
    assert "not 'other'" in capsys.readouterr().err  # recorded at another profile
    assert kept.main(["--profile", "big", "--results-dir", str(P.results_dir), "--verdicts", "nope"]) == 1
    assert "no verdicts of nope" in capsys.readouterr().err


def test_the_status_table_shows_a_replication_beside_the_books_verdict(chapter):
    root, P = chapter
    _replication_run(P, "c" * 40)
    kept.keep_verdicts(P.results_dir, "big", root)
    replications = verdicts.load_replications(root)
    assert list(replications) == ["big"]
    rows = [dict(r, verdict="reproduced") for r in book.load_verdicts(P.results_dir)]
    report = verdicts.StatusReport("default", "d", rows, [("dyn", "Dyn", "dyn.html")], P.results_dir,
                                   replications={**replications, "fashion": []})
    table = report.table()
    assert table[0]["verdict"] == "reproduced"
    assert table[0]["replications"]["big"]["verdict"] == "partly"
    assert table[0]["replications"]["fashion"] is None  # no verdict on that figure there
    page = report._repr_html_()
    assert "<th>Fashion-MNIST (held out)</th>" in page and "<th>big</th>" in page
    assert page.count('class="shortcut-replication"') == 2 and "cccccccccccc" in page
    assert "big: partly" in repr(report)
    same = verdicts.StatusReport("big", "d", rows, [], P.results_dir, replications=replications)
    assert same.replications == {}  # the profile's own kept verdicts are not a column beside themselves


def test_the_intro_says_how_a_replication_compares_figure_by_figure(chapter):
    root, P = chapter
    _replication_run(P, "e" * 40)
    kept.keep_verdicts(P.results_dir, "big", root)
    replications = verdicts.load_replications(root)
    rows = book.load_verdicts(P.results_dir)

    def report(verdict, extra=()):
        return verdicts.StatusReport("default", "d", [dict(r, verdict=verdict) for r in rows] + list(extra),
                                     [("dyn", "Dyn", "dyn.html")], P.results_dir, replications=replications)

    same = report("partly").compare("big")
    assert same == {"n": 1, "agree": 1, "differ": [], "checks_differ": [], "checks_compared": 0,
                    "not_replicated": [], "commits": ["eeeeeee"]}
    assert report("partly").compared_text("big")["differ"] == "None differs."
    other = dict(rows[0], figure="Figure 8", verdict="reproduced")
    c = report("reproduced", [other]).compare("big")
    assert c["n"] == 1 and c["agree"] == 0 and c["differ"] == [("Figure 7", "reproduced", "partly")]
    assert c["not_replicated"] == [("dyn", "Figure 8")]
    text = report("reproduced", [other]).compared_text("big")
    assert text["differ"] == "They differ on Figure 7 (reproduced on MNIST, partly on big). Not run on big: Figure 8 (page 'Dyn')."
    assert text["n"] == "1" and text["agree"] == "0" and text["commits"] == "eeeeeee"
    checked = [dict(r, verdict="partly", checks=[{"name": "flat", "outcome": "passed"}, {"name": "low", "outcome": "failed"}])
               for r in rows]
    there = {"big": [dict(v, checks=[{"name": "flat", "outcome": "passed"}, {"name": "low", "outcome": "passed"}])
                     for v in replications["big"]]}
    c = verdicts.StatusReport("default", "d", checked, [], P.results_dir, replications=there).compare("big")
    assert c["checks_compared"] == 2 and c["checks_differ"] == [("Figure 7", "low", "failed", "passed")]
    text = verdicts.StatusReport("default", "d", checked, [], P.results_dir, replications=there).compared_text("big")
    assert text["differ"] == "None differs. Check by check, the outcomes differ on Figure 7: “low” (failed on MNIST, passed on big)."
    there["big"][0]["checks"][1]["outcome"] = "failed"
    text = verdicts.StatusReport("default", "d", checked, [], P.results_dir, replications=there).compared_text("big")
    assert text["differ"] == ("None differs. Check by check, too: each of the 2 checks has the same outcome on both, "
                              "every comparison on the same side of its threshold.")
    itself = verdicts.StatusReport("big", "d", rows, [], P.results_dir, replications=replications)
    assert itself.compared_text("big")["differ"].startswith("(This page was built at profile 'big'")
    none = verdicts.StatusReport("default", "d", rows, [], P.results_dir, replications={"fashion": []})
    assert none.compared_text("fashion")["differ"].startswith("No figure has a verdict on both yet")


def test_kept_verdicts_change_the_root_pages_build_hash(chapter, tmp_path):
    root, P = chapter
    plan, intro = _one_page_plan(root, tmp_path, "intro")
    before = build.fingerprint(plan, intro)
    _replication_run(P, "d" * 40)
    kept.keep_verdicts(P.results_dir, "big", root)
    assert build.fingerprint(plan, intro) != before
