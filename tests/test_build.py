"""The build holds up: partial builds, per-page labels, failed and interrupted chapters, results
folders, replaced verdicts, per-chapter hashes, Ctrl-C, and the README's fork recipe.

Most tests run on a tiny fake book in a temporary folder (two chapters of a few cells each); the
last one forks a real chapter of this repository in a copy of it and builds the copy alone. The
tests that start kernels and jupyter-book are marked ``slow`` (about 30 s to 2 min each).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import types
from pathlib import Path

import nbformat
import pytest
import yaml

from processes import ended
from shortcut import book
from shortcut.book import build, fork, labels, verdicts

ROOT = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------------------------------------------
# a tiny fake book: intro + alpha + beta + references
# ---------------------------------------------------------------------------------------------------

FRONT = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
    format_version: 0.13
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---
"""

CHAPTER = FRONT + """
# {title}

```{{code-cell}} ipython3
:tags: [parameters]

profile = "default"
results_dir = None
{params}
```

```{{code-cell}} ipython3
from shortcut.book import configure; P = configure("{name}", globals(), show=False)
```
{body}"""

INTRO_BODY = """
```{code-cell} ipython3
from shortcut.book import status_report
_ = status_report(P)
```

See {numref}`beta-fig-line`, {ref}`Beta's end <beta-sec-end>` and {doc}`beta`.
"""

# nap: sleep (for the Ctrl-C test), after leaving a file that says so; fail: raise in a cell.
CHAPTER_BODY = """
```{code-cell} ipython3
import json, os, time
(P.results_dir / P.chapter).mkdir(parents=True, exist_ok=True)
(P.results_dir / P.chapter / "record.json").write_text(json.dumps({"pid": os.getpid(), "threads": os.environ.get("OMP_NUM_THREADS")}))
assert not P.fail, "this chapter was asked to fail"
time.sleep(P.nap)
```

## A figure

$$
y = x
$$ (eq-line)

```{prf:theorem} Something
:label: thm-one

The line {eq}`eq-line` is straight.
```

```{code-cell} ipython3
:tags: [remove-output]

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from myst_nb import glue
from shortcut.book import record_verdict
fig, ax = plt.subplots(figsize=(2, 2))
ax.plot([0, 1], [0, P.slope])
glue("fig", fig, display=False)
for f in P.figures:
    record_verdict(P, f, "a claim", "reproduced", "tiny")
```

```{glue:figure} fig
:name: fig-line

A line.
```

(sec-end)=
See {numref}`fig-line`, {prf:ref}`thm-one`, {ref}`the end <sec-end>`.
"""

SCHEMA_ENTRIES = """  figures: {type: list, of: str, empty: true}
  nap: {type: float, min: 0}
  fail: {type: bool}
"""


def make_fake_book(root: Path, chapters=("alpha", "beta")) -> Path:
    (root / "book" / "profiles").mkdir(parents=True)
    for f in ("_config.yml", "references.bib"):
        shutil.copy(ROOT / f, root / f)
    shutil.copytree(ROOT / "book" / "_static", root / "book" / "_static")  # _config.yml names it
    toc = {"format": "jb-book", "root": "book/intro",
           "chapters": [{"file": f"book/{c}"} for c in chapters] + [{"file": "book/references"}]}
    (root / "_toc.yml").write_text(yaml.safe_dump(toc, sort_keys=False))
    profile = {"description": "tiny", "common": {}, "intro": {}}
    for c in chapters:
        profile[c] = {"slope": 1.0, "figures": ["Fig A"], "nap": 0, "fail": False}
    (root / "book" / "profiles" / "ci.yaml").write_text(yaml.safe_dump(profile, sort_keys=False))
    schema = "common: {}\nintro: {}\n" + "".join(  # the first chapter's entry has an anchor, the others refer to it
        f"{c}:\n  slope: {'&slope {type: float}' if i == 0 else '*slope'}\n{SCHEMA_ENTRIES}" for i, c in enumerate(chapters))
    (root / "book" / "profiles" / "schema.yaml").write_text(schema)
    (root / "book" / "references.md").write_text("# References\n\n```{bibliography}\n:all:\n```\n")
    (root / "book" / "intro.md").write_text(CHAPTER.format(title="Intro", name="intro", params="", body=INTRO_BODY))
    for c in chapters:
        params = "slope = None\nfigures = None\nnap = None\nfail = None"
        (root / "book" / f"{c}.md").write_text(CHAPTER.format(title=c.title(), name=c, params=params, body=CHAPTER_BODY))
    return root


@pytest.fixture
def fake(tmp_path, monkeypatch):
    monkeypatch.delenv(book.ROOT_ENV, raising=False)
    return make_fake_book(tmp_path / "fake")


def _env() -> dict:
    return {k: v for k, v in os.environ.items() if k != book.ROOT_ENV}


def run_build(root: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "shortcut.book.build", "--profile", "ci", *args], cwd=root,
                          env=_env(), capture_output=True, text=True, timeout=timeout)
    proc.output = proc.stdout + proc.stderr  # type: ignore[attr-defined]
    return proc


def _fail(proc) -> str:
    return f"exit {proc.returncode}\n{proc.stdout[-5000:]}\n{proc.stderr[-5000:]}"


# ---------------------------------------------------------------------------------------------------
# labels (no kernel)
# ---------------------------------------------------------------------------------------------------

PAGE = """(sec-a)=
## A

$$ x $$ (eq-a)

```{figure} x.png
:name: fig-a
```

```{prf:lemma} L
:label: mnist-lem
```

See {numref}`fig-a`, {eq}`eq-a`, {ref}`here <sec-a>`, {prf:ref}`mnist-lem`, {numref}`Figure %s <fig-a>`.
Elsewhere: {numref}`beta-fig-7`, {ref}`Beta's end <beta-sec-end>`, {doc}`beta`, {doc}`gamma`,
{numref}`gamma-fig-1`, {numref}`Fig. %s <gamma-fig-1>`, {eq}`eq-unknown`.
"""


def test_labels_a_page_defines_get_its_name_and_so_do_its_references():
    defined = labels.defined_labels(PAGE)
    assert defined == {"sec-a", "eq-a", "fig-a", "mnist-lem"}
    out = labels.qualify(PAGE, "mnist", defined, ["intro", "mnist", "beta", "gamma"], ["intro", "mnist", "beta"],
                         {"gamma": "Gamma rays"})
    assert "(mnist-sec-a)=" in out and "$$ (mnist-eq-a)" in out and ":name: mnist-fig-a" in out
    assert ":label: mnist-lem" in out and "mnist-mnist-lem" not in out  # already prefixed: kept
    assert "{numref}`mnist-fig-a`" in out and "{eq}`mnist-eq-a`" in out and "{ref}`here <mnist-sec-a>`" in out
    assert "{prf:ref}`mnist-lem`" in out and "{numref}`Figure %s <mnist-fig-a>`" in out
    # another page's labels: kept when it is in the site, plain text when not
    assert "{numref}`beta-fig-7`" in out and "{ref}`Beta's end <beta-sec-end>`" in out and "{doc}`beta`" in out
    assert "{doc}`gamma`" not in out and "Gamma rays" in out
    assert "fig-1 (page Gamma rays, not in this build)" in out
    assert "Fig." in out and "gamma-fig-1" not in out and "%s" not in out.split("Elsewhere")[1]
    assert "{eq}`eq-unknown`" in out  # not ours, not qualified: left for Sphinx to report


def test_labels_hint_names_the_page_of_an_unqualified_reference():
    hints = labels.unresolved("See {eq}`eq-cond` and {numref}`fig-a`.", {"fig-a"}, ["dyn", "ip"],
                              lambda x: ["ip"] if x == "eq-cond" else [])
    assert hints == ["{eq}`eq-cond` names a label of page ip: write it {eq}`ip-eq-cond`"]


def test_labels_owner_takes_the_longest_page_name():
    assert labels.owner("mnist_b-fig-7", ["mnist", "mnist_b"]) == "mnist_b"
    assert labels.owner("mnist-fig-7", ["mnist", "mnist_b"]) == "mnist"
    assert labels.owner("fig-7", ["mnist"]) is None


def test_staged_labels_are_rewritten_from_the_original_every_site_build(fake, tmp_path):
    plan = _plan(fake, tmp_path)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("See {numref}`beta-fig-line`.")])
    out = build.executed_path(plan, plan.pages[0])
    out.parent.mkdir(parents=True)
    nbformat.write(nb, out)
    build.qualify_labels(plan, ["alpha", "beta"])
    assert nbformat.read(out, 4).cells[0].source == "See fig-line (page Beta, not in this build)."
    build.qualify_labels(plan, ["alpha"])  # beta is in the site now: the link comes back
    cell = nbformat.read(out, 4).cells[0]
    assert cell.source == "See {numref}`beta-fig-line`." and build._ORIGINAL not in cell.metadata


# ---------------------------------------------------------------------------------------------------
# hashes, results folders, verdicts, fork (no kernel)
# ---------------------------------------------------------------------------------------------------


def _plan(root: Path, tmp_path: Path, profile: str = "ci") -> build.Plan:
    pages = [build.Page(p, *book.page_source(p, root)) for p in book.toc_pages(root)]
    data = book.load_profile(profile, root)
    return build.Plan(root, profile, data, tmp_path / "b", tmp_path / "r", pages, [p.name for p in pages])


def test_a_chapters_hash_covers_its_own_profile_section_not_the_others(fake, tmp_path):
    profile = fake / "book" / "profiles" / "ci.yaml"
    alpha = lambda: next(p for p in _plan(fake, tmp_path).pages if p.name == "alpha")  # noqa: E731
    before = build.fingerprint(_plan(fake, tmp_path), alpha())
    data = yaml.safe_load(profile.read_text())
    data["beta"]["slope"] = 2.0
    data["gamma"] = {"slope": 3.0}  # a fork's new section
    profile.write_text(yaml.safe_dump(data, sort_keys=False))
    assert build.fingerprint(_plan(fake, tmp_path), alpha()) == before
    for change in ({"alpha": {**data["alpha"], "slope": 5.0}}, {"common": {"device": "cpu"}}, {"description": "other"}):
        profile.write_text(yaml.safe_dump({**data, **change}, sort_keys=False))
        assert build.fingerprint(_plan(fake, tmp_path), alpha()) != before, change


def test_the_staleness_report_names_what_changed(fake, tmp_path):
    plan = _plan(fake, tmp_path)
    page = next(p for p in plan.pages if p.name == "alpha")
    build.executed_path(plan, page).parent.mkdir(parents=True)
    build.executed_path(plan, page).write_text("{}")
    build.write_hash(plan, page)
    assert build.is_current(plan, page, build.fingerprint(plan, page))
    page.source.write_text(page.source.read_text() + "\nMore prose.\n")
    assert build.what_changed(plan, page) == "its source changed"
    plan.overrides["alpha"] = {"slope": 2}
    assert build.what_changed(plan, page) == "its source, its -p overrides changed"


def test_a_new_lock_or_pyproject_makes_every_chapter_stale(fake, tmp_path):
    """After `make lock LOCK_ARGS=--upgrade` (new numpy, new torch) no chapter may report "up to date"."""
    plan = _plan(fake, tmp_path)
    lock = fake / "requirements" / "lock.txt"
    lock.parent.mkdir(exist_ok=True)
    lock.write_text("numpy==2.0.0\n")
    (fake / "pyproject.toml").write_text('[project]\nname = "x"\n')
    for page in plan.pages:
        build.executed_path(plan, page).parent.mkdir(parents=True, exist_ok=True)
        build.executed_path(plan, page).write_text("{}")
        build.write_hash(plan, page)
    lock.write_text("numpy==2.1.0\n")
    for page in plan.pages:
        assert not build.is_current(plan, page, build.fingerprint(plan, page)), page.name
        assert build.what_changed(plan, page) == "the installed versions (requirements/lock.txt, pyproject.toml) changed"
    lock.write_text("numpy==2.0.0\n")
    (fake / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "1"\n')
    assert all(not build.is_current(plan, p, build.fingerprint(plan, p)) for p in plan.pages)


def test_the_staged_toc_leaves_out_pages_not_run_and_pages_added_while_building(fake, tmp_path):
    plan = _plan(fake, tmp_path)
    toc = yaml.safe_load((fake / "_toc.yml").read_text())
    toc["chapters"].insert(0, {"file": "book/gamma"})  # added to _toc.yml after the build started
    (fake / "_toc.yml").write_text(yaml.safe_dump(toc, sort_keys=False))
    plan.stage.mkdir(parents=True)
    build.write_stage_toc(plan, {"book/beta"})
    staged = yaml.safe_load((plan.stage / "_toc.yml").read_text())
    assert [c["file"] for c in staged["chapters"]] == ["book/alpha", "book/references"]


def test_a_results_folder_of_its_own_builds_its_own_site(tmp_path):
    root = tmp_path / "repo"
    default = (root / "_build").resolve()
    assert build.build_and_results_dirs(root, "ci", None, None) == (default, default / "results" / "ci")
    other = (tmp_path / "mine").resolve()
    assert build.build_and_results_dirs(root, "ci", None, other) == (other / "_build", other)
    assert build.build_and_results_dirs(root, "ci", None, default / "results" / "ci") == (default, default / "results" / "ci")
    assert build.build_and_results_dirs(root, "ci", tmp_path / "b", other) == ((tmp_path / "b").resolve(), other)


def test_a_build_folder_refuses_another_results_folder(fake, tmp_path, capsys):
    b = tmp_path / "b"
    (b / "ci").mkdir(parents=True)
    (b / "ci" / build.RESULTS_MARK).write_text(str(tmp_path / "first") + "\n")
    os.chdir(fake)
    assert build.main(["--profile", "ci", "--build-dir", str(b), "--results-dir", str(tmp_path / "second"), "--list"]) == 2
    assert "holds the site of results folder" in capsys.readouterr().err
    assert build.main(["--profile", "ci", "--build-dir", str(b), "--results-dir", str(tmp_path / "first"), "--list"]) == 0


def test_a_new_execution_replaces_a_chapters_verdicts(tmp_path, monkeypatch):
    P = types.SimpleNamespace(chapter="dyn", profile="ci", results_dir=tmp_path)
    verdicts.record_verdict(P, "Fig. 4", "claim", "reproduced", "s")
    verdicts.record_verdict(P, "Fig. 5", "claim", "partly", "s")  # same execution: added
    assert [r["figure"] for r in book.load_verdicts(tmp_path)] == ["Fig. 4", "Fig. 5"]
    monkeypatch.setattr(verdicts, "_RUN", "another-kernel")
    verdicts.record_verdict(P, "Fig. 5", "claim", "reproduced", "s")  # a new execution: Fig. 4 is gone
    assert [(r["figure"], r["verdict"]) for r in book.load_verdicts(tmp_path)] == [("Fig. 5", "reproduced")]


def test_copy_section_keeps_comments_and_drops_the_copys_anchors():
    text = "# head\na: &x {type: int}\nalpha:\n  n: 1  # why\n  m: *x\n  k: &k [1, 2]\n\n# next\nbeta: {}\n"
    out = fork.copy_section(text, "alpha", "alpha_b")
    assert out.startswith(text.split("\n# next")[0])
    assert "alpha_b:\n  n: 1  # why\n  m: *x\n  k: [1, 2]\n\n# next\nbeta: {}\n" in out
    data = yaml.safe_load(out)
    assert data["alpha_b"] == data["alpha"] == {"n": 1, "m": {"type": "int"}, "k": [1, 2]}
    assert fork.copy_section("a: {}\nb: 1", "b", "c") == "a: {}\nb: 1\nc: 1\n"
    assert fork.copy_section(text, "gamma", "g") is None


def test_fork_copies_page_profile_and_schema_sections_and_toc_line(fake, monkeypatch, capsys):
    monkeypatch.chdir(fake)
    assert fork.main(["alpha", "alpha_b"]) == 0
    page = (fake / "book" / "alpha_b.md").read_text()
    assert 'configure("alpha_b", globals()' in page and "# Alpha (alpha_b)" in page
    assert [Path(p).name for p in book.toc_pages(fake)] == ["intro", "alpha", "alpha_b", "beta", "references"]
    for name in ("ci.yaml", "schema.yaml"):
        data = yaml.safe_load((fake / "book" / "profiles" / name).read_text())
        assert data["alpha_b"] == data["alpha"], name
    assert "make chapter NAME=alpha_b" in capsys.readouterr().out
    for args, message in ((["alpha", "alpha_b"], "exists already"), (["alpha", "Alpha-b"], "not a chapter name"),
                          (["nope", "x"], "not a chapter of _toc.yml")):
        assert fork.main(args) == 2
        assert message in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------------
# builds of the fake book (kernels, jupyter-book)
# ---------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_partial_builds_failed_chapters_and_replaced_verdicts(fake, tmp_path):
    b = tmp_path / "b"
    # 1. one chapter alone: the intro's links to beta (never run) become plain text; alpha's labels are its own
    first = run_build(fake, "--chapters", "alpha", "--build-dir", str(b))
    assert first.returncode == 0, _fail(first)
    site = b / "ci" / "html" / "book"
    intro = (site / "intro.html").read_text()
    assert "fig-line (page Beta, not in this build)" in intro and "Beta’s end" in intro
    alpha = (site / "alpha.html").read_text()
    for anchor in ('id="alpha-fig-line"', 'id="alpha-thm-one"', 'id="alpha-sec-end"', 'id="equation-alpha-eq-line"',
                   'href="#alpha-fig-line"'):
        assert anchor in alpha
    assert "Traceback" not in first.output and "Kernel is running over TCP" not in first.output

    # 2. beta fails: its notebook goes to failed/, not into the site
    second = run_build(fake, "--chapters", "beta", "-p", "beta.fail=true", "--build-dir", str(b), "--no-site")
    assert second.returncode == 1, _fail(second)
    failed = b / "ci" / "failed" / "book" / "beta.ipynb"
    assert failed.is_file() and str(failed) in second.stderr and "asked to fail" in second.stderr
    assert not (b / "ci" / "site-src" / "book" / "beta.ipynb").exists()
    assert not (b / "ci" / "running" / "book" / "beta.ipynb").exists()

    # 3. alpha again with other figures: the site builds without beta, alpha's verdicts are replaced
    third = run_build(fake, "--chapters", "alpha", "-p", "alpha.figures=[Fig B]", "--build-dir", str(b))
    assert third.returncode == 0, _fail(third)
    assert "beta: its last run at profile 'ci' failed or was interrupted" in third.stdout
    assert "sources changed" not in third.output and "No key" not in third.output
    assert not (b / "ci" / "html" / "book" / "beta.html").exists()
    rows = book.load_verdicts(b / "results" / "ci")
    assert [(r["chapter"], r["figure"]) for r in rows] == [("alpha", "Fig B")]
    assert "Fig B" in (b / "ci" / "html" / "book" / "intro.html").read_text()


def _cell_times(path: Path) -> tuple[float, float]:
    """When a notebook's first code cell started and its last one ended (papermill's record), in seconds."""
    from datetime import datetime

    cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    when = [datetime.fromisoformat(c["metadata"]["papermill"][k].replace("Z", "+00:00")).timestamp()
            for c, k in ((cells[0], "start_time"), (cells[-1], "end_time"))]
    return when[0], when[1]


@pytest.mark.slow
def test_chapters_run_side_by_side_with_the_cores_shared_and_a_failure_keeps_the_other(fake, tmp_path):
    b = tmp_path / "b"
    proc = run_build(fake, "--jobs", "2", "-p", "alpha.nap=5", "-p", "beta.nap=5", "--build-dir", str(b), "--no-site")
    assert proc.returncode == 0, _fail(proc)
    assert "2 chapters, 2 at a time" in proc.stdout
    assert "[alpha] " in proc.stdout and "[beta] " in proc.stdout  # papermill's lines, each with its chapter
    (a0, a1), (b0, b1) = (_cell_times(b / "ci" / "site-src" / "book" / f"{c}.ipynb") for c in ("alpha", "beta"))
    assert a0 < b1 and b0 < a1, "the two chapters did not overlap"
    shared = os.environ.get("OMP_NUM_THREADS") or str(build.kernel_threads(2)["OMP_NUM_THREADS"])
    for c in ("alpha", "beta"):
        assert json.loads((b / "results" / "ci" / c / "record.json").read_text())["threads"] == shared
    assert proc.stdout.index("alpha: done") < proc.stdout.index("intro: executing")  # the root page last
    assert proc.stdout.index("beta: done") < proc.stdout.index("intro: executing")

    # beta fails at once while alpha naps: alpha finishes and is kept, beta goes to failed/, exit 1
    again = run_build(fake, "--jobs", "2", "--force", "-p", "alpha.nap=5", "-p", "beta.fail=true", "--build-dir", str(b),
                      "--no-site")
    assert again.returncode == 1, _fail(again)
    assert "beta failed; waiting for alpha to finish (kept), starting no other chapter" in again.stdout
    assert "alpha: done" in again.stdout and "asked to fail" in again.stderr
    assert (b / "ci" / "site-src" / "book" / "alpha.ipynb").is_file()
    assert (b / "ci" / "failed" / "book" / "beta.ipynb").is_file()


def test_kernel_threads_share_the_cores_and_keep_a_setting_of_the_callers(monkeypatch):
    for var in build.THREAD_VARS:
        monkeypatch.delenv(var, raising=False)
    assert build.kernel_threads(2, cores=2) == {v: "1" for v in build.THREAD_VARS}
    assert build.kernel_threads(3, cores=16)["OMP_NUM_THREADS"] == "5"
    assert build.kernel_threads(4, cores=2)["OMP_NUM_THREADS"] == "1"  # at least one each
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert "OMP_NUM_THREADS" not in build.kernel_threads(2, cores=8)


def test_jobs_below_one_is_refused_naming_the_option(fake, tmp_path):
    proc = run_build(fake, "--jobs", "0", "--build-dir", str(tmp_path / "b"))
    assert proc.returncode == 2 and "--jobs 0: the number of chapters executed side by side must be at least 1" in proc.stderr


@pytest.mark.slow
def test_results_dir_without_build_dir_builds_next_to_the_results(fake, tmp_path):
    mine = tmp_path / "mine"
    proc = run_build(fake, "--chapters", "intro", "--results-dir", str(mine), "--no-site")
    assert proc.returncode == 0, _fail(proc)
    assert (mine / "_build" / "ci" / "site-src" / "book" / "intro.ipynb").is_file()
    assert not (fake / "_build").exists()  # the book's own build folder is untouched


@pytest.mark.parametrize("file, what, broken, line", [
    ("book/profiles/ci.yaml", "the profile", "description: tiny\nalpha: {slope: 1.0\n", 3),
    ("_toc.yml", "the table of contents", "format: jb-book\nroot: book/intro\n  chapters: x\n", 3),
    ("book/profiles/schema.yaml", "the parameter schema", "alpha:\n  slope: [1\n", 3),
])
def test_a_malformed_yaml_file_is_named_with_its_line_not_a_parser_traceback(fake, tmp_path, file, what, broken, line):
    (fake / file).write_text(broken)
    proc = run_build(fake, "--chapters", "alpha", "--build-dir", str(tmp_path / "b"))
    assert proc.returncode == 2, _fail(proc)
    assert f"{what} {fake / file} is not valid YAML, line {line}" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_ctrl_c_ends_the_build_with_one_line_and_exit_130(fake, tmp_path):
    b = tmp_path / "b"
    record = b / "results" / "ci" / "alpha" / "record.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "shortcut.book.build", "--profile", "ci", "--chapters", "alpha", "-p", "alpha.nap=600",
         "--build-dir", str(b)],
        cwd=fake, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    t0 = time.time()
    while not record.is_file() and time.time() - t0 < 120 and proc.poll() is None:
        time.sleep(0.2)
    assert record.is_file(), "the chapter never started"
    time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole foreground group
    # well before the chapter's 600 s nap ends: a clean shutdown, or the build's own deadline (GRACE_S)
    out, err = proc.communicate(timeout=build.GRACE_S + 120)
    assert proc.returncode == 130, f"{out[-3000:]}\n{err[-3000:]}"
    # No raw KeyboardInterrupt traceback anywhere, and none at all on stderr. (The kernel gets the Ctrl-C
    # too; when it dies before the driver notices, papermill's log on stdout may report the dead kernel.)
    assert "KeyboardInterrupt" not in out + err and "Traceback" not in err
    last = [line for line in err.splitlines() if line.strip()]
    assert len(last) == 1 and last[0].startswith("shortcut.build: interrupted; kept:"), err
    assert "1 run record(s) written" in last[0] and "run the same command again" in last[0]
    assert str(b / "ci" / "failed" / "book" / "alpha.ipynb") in last[0]
    assert not (b / "ci" / "site-src" / "book" / "alpha.ipynb").exists()
    kernel = json.loads(record.read_text())["pid"]
    assert ended(kernel), f"the chapter's kernel (pid {kernel}) outlived the build"  # shut down with the build


HUNG_SHUTDOWN = """
import sys, time, types
from pathlib import Path
from shortcut.book import build
build.GRACE_S = 1
tmp = Path(sys.argv[1])
plan = types.SimpleNamespace(running=tmp / "running", failed=tmp / "failed", results_dir=tmp / "results",
                             started=time.time(), executed=["alpha"])
build._stop_within_grace_after_ctrl_c(plan)
try:  # the signal may come as soon as "ready" is out
    print("ready", flush=True)
    time.sleep(60)
except KeyboardInterrupt:
    time.sleep(60)  # a clean shutdown that hangs
"""


def test_a_hung_shutdown_after_ctrl_c_still_ends_the_build(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", HUNG_SHUTDOWN, str(tmp_path)], env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert err.strip().startswith("shortcut.build: interrupted; kept: chapters run to the end: alpha"), err


ABANDONED_TASK = """
import asyncio, gc, sys
from pathlib import Path
from shortcut.book import build
build._asyncio_log_to(Path(sys.argv[1]))

async def cell():
    raise RuntimeError("Kernel died")

async def main():
    asyncio.ensure_future(cell())  # what nbclient leaves behind when Ctrl-C cuts its wait
    await asyncio.sleep(0.05)

asyncio.run(main())
gc.collect()
print("shortcut.build: interrupted; kept: ...", file=sys.stderr)
"""


def test_an_abandoned_task_after_ctrl_c_logs_to_the_chapter_log_not_the_terminal(tmp_path):
    log = tmp_path / "alpha.kernel.log"
    proc = subprocess.run([sys.executable, "-c", ABANDONED_TASK, str(log)], env=_env(), capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == "shortcut.build: interrupted; kept: ...", proc.stderr
    text = log.read_text()
    assert "Task exception was never retrieved" in text and "RuntimeError: Kernel died" in text


# ---------------------------------------------------------------------------------------------------
# the README's fork recipe, on a real chapter of this repository (in a copy of it)
# ---------------------------------------------------------------------------------------------------

FORK_FROM = "initial_point"  # the cheapest chapter at the ci profile
FORK_PARAMS = ["-p", "my_fork.depths=[2, 4]", "-p", "my_fork.seeds=1", "-p", "my_fork.n_samples=200"]  # the change tried in the fork


def copy_of_the_repository(dst: Path) -> Path:
    """The files git tracks or would track (not ignored: no venvs, no builds), else all but those."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True)
    if listed.returncode != 0:
        shutil.copytree(ROOT, dst, ignore=shutil.ignore_patterns(".venv*", "_build", ".git", "__pycache__"))
        return dst
    for rel in filter(None, listed.stdout.decode().split("\0")):
        if (ROOT / rel).is_file():
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, dst / rel)
    return dst


@pytest.mark.slow
def test_the_readme_fork_recipe(tmp_path):
    repo = copy_of_the_repository(tmp_path / "repo")
    forked = subprocess.run([sys.executable, "-m", "shortcut.book.fork", FORK_FROM, "my_fork"], cwd=repo, env=_env(),
                            capture_output=True, text=True)
    assert forked.returncode == 0, forked.stderr
    b = tmp_path / "b"
    proc = run_build(repo, "--chapters", "my_fork", *FORK_PARAMS, "--build-dir", str(b))
    assert proc.returncode == 0, _fail(proc)
    site = b / "ci" / "html" / "book"
    assert (site / "my_fork.html").is_file() and not (site / f"{FORK_FROM}.html").exists()
    assert 'id="my-fork-fig-4"' in (site / "my_fork.html").read_text()  # its own labels (Sphinx ids: '_' -> '-')
    rows = book.load_verdicts(b / "results" / "ci")
    assert rows and {r["chapter"] for r in rows} == {"my_fork"}
    assert (b / "results" / "ci" / "my_fork").is_dir() and not (b / "results" / "ci" / FORK_FROM).exists()
    intro = (site / "intro.html").read_text()
    # its row in the status table: the figure's name, linked to the figure on the fork's page
    assert re.search(r'<td class="shortcut-item"><a href="my_fork\.html#[^"]*"[^>]*>' + re.escape(rows[0]["figure"]), intro)


def test_a_chapter_with_a_pool_of_its_own_runs_alone():
    from types import SimpleNamespace

    data = {"common": {"device": "auto"}, "path": Path("p.yaml"),
            "chapters": {"a": {"executor": "process"}, "b": {"executor": "inline"}, "c": {}, "d": {"executor": "inline"}}}
    plan = SimpleNamespace(profile_data=data, root=None, overrides={"d": {"executor": "dask"}})
    pools = {name: build.has_pool(plan, SimpleNamespace(name=name)) for name in "abcd"}
    assert pools == {"a": True, "b": False, "c": False, "d": True}  # an override counts
