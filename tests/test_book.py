"""The book's foundation: profiles, configure(), verdicts, the build pipeline and the site checker."""

from __future__ import annotations

import importlib.util
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

ROOT = Path(__file__).resolve().parent.parent


def _load_check_site():
    spec = importlib.util.spec_from_file_location("check_site", ROOT / "scripts" / "check_site.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


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
    assert "Fig. 6" in full and "index drops &amp; gradient peaks" in full and "No verdicts" not in full


# ---------------------------------------------------------------------------------------------------
# the build: the command line, and a whole build at the ci profile
# ---------------------------------------------------------------------------------------------------


def _run_build(*args, cwd=ROOT, timeout=1800):
    env = {k: v for k, v in os.environ.items() if k != book.ROOT_ENV}
    return subprocess.run([sys.executable, "-m", "shortcut.book.build", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("args, message", [
    (["--profile", "nope"], "valid profiles: ci, default, paper"),
    (["--profile", "ci", "--chapters", "nope"], "unknown chapter(s) nope"),
    (["--profile", "ci", "-p", "intro.nope=3"], "'nope' is not a parameter of chapter 'intro'"),
    (["--profile", "ci", "-p", "intro-device"], "not of the form CHAPTER.PARAM=VALUE"),
    (["--profile", "ci", "-p", "nope.device=cpu"], "unknown chapter 'nope'"),
    (["--profile", "ci", "-p", "intro.profile=paper"], "use --profile"),
])
def test_build_rejects_a_bad_command_line_before_running_anything(args, message, tmp_path):
    proc = _run_build(*args, "--build-dir", str(tmp_path / "b"))
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert not (tmp_path / "b").exists()


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
