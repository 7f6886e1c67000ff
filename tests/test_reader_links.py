"""The reader's way from a page to the source, an issue, a launchable notebook and a citation.

* The repository's address is declared once, in ``_config.yml``; the files that repeat it agree.
* ``.binder/`` installs the lock and the project and opens ``book/<chapter>.md`` as a notebook.
* ``shortcut.book.sphinx_links`` points "suggest edit" and the launch buttons at ``book/<chapter>.md``.
* The executed notebook (the page's download) names no path of the machine that built it.
* LICENSE, CITATION.cff and the intro's "How to cite".

The last test builds one chapter at the ci profile in a copy of the repository (a fresh checkout),
reads the built page and its notebook, and runs that notebook in another copy (``slow``: about 2 min).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import types
from pathlib import Path

import nbformat
import pytest
import yaml

from shortcut import book
from shortcut.book import build, sphinx_links

ROOT = Path(__file__).resolve().parent.parent


def _config() -> dict:
    return yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))


def _repository() -> str:
    return _config()["repository"]["url"].rstrip("/")


def _version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]


# ---------------------------------------------------------------------------------------------------
# the repository's address, once
# ---------------------------------------------------------------------------------------------------


def test_the_config_names_the_repository_and_turns_the_reader_s_buttons_on():
    cfg = _config()
    repo = cfg["repository"]
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", repo["url"]), repo["url"]
    assert repo["branch"] == "main" and repo["path_to_book"] == "."
    html = cfg["html"]
    for button in ("use_repository_button", "use_issues_button", "use_edit_page_button", "use_download_button"):
        assert html[button] is True, button
    assert cfg["launch_buttons"]["binderhub_url"] == "https://mybinder.org"
    assert "shortcut.book.sphinx_links" in cfg["sphinx"]["extra_extensions"]
    assert "CC BY 4.0" in html["extra_footer"] and "MIT" in html["extra_footer"]


def test_every_file_that_repeats_the_repository_s_address_agrees_with_the_config():
    """A fork changes `repository: url:` in _config.yml; this test then says what else to change."""
    url = _repository()
    problems = []
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    if cff.get("repository-code") != url:
        problems.append(f"CITATION.cff: repository-code: {cff.get('repository-code')!r} -> write {url!r}")
    urls = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"].get("urls", {})
    for key, want in (("Repository", url), ("Issues", f"{url}/issues")):
        if urls.get(key) != want:
            problems.append(f"pyproject.toml: [project.urls] {key} = {urls.get(key)!r} -> write {want!r}")
    for rel in ("README.md", "book/intro.md"):
        text = (ROOT / rel).read_text(encoding="utf-8")
        if url not in text:
            problems.append(f"{rel}: does not name {url} (in 'Cite, licence, launch' / 'How to cite')")
        others = sorted({m for m in re.findall(r"https://github\.com/[\w.-]+/[\w.-]+", text)
                         if m.startswith("https://github.com/") and m.rstrip(".") != url
                         and m.split("/")[3] == url.split("/")[3]})
        problems += [f"{rel}: names {o}, not {url}" for o in others]
    assert not problems, ("the repository's address in _config.yml (repository: url:) is " + url
                          + "; the files that repeat it differ:\n  " + "\n  ".join(problems))


# ---------------------------------------------------------------------------------------------------
# Binder
# ---------------------------------------------------------------------------------------------------


def test_binder_installs_the_lock_with_torch_s_cpu_index_and_then_the_project():
    req = (ROOT / ".binder" / "requirements.txt").read_text(encoding="utf-8")
    lines = [line.split("#", 1)[0].strip() for line in req.splitlines()]
    lines = [line for line in lines if line]
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in lines
    assert "-r ../requirements/lock.txt" in lines  # pip reads a nested -r relative to the file that names it
    assert (ROOT / ".binder" / "../requirements/lock.txt").resolve() == (ROOT / "requirements" / "lock.txt")
    lock = (ROOT / "requirements" / "lock.txt").read_text(encoding="utf-8")
    assert re.search(r"^jupytext==", lock, re.M), "Binder opens book/<chapter>.md with Jupytext: the lock must have it"
    # the lock is compiled for Python 3.11 (its header); Binder must run that Python
    assert "--python-version 3.11" in lock.splitlines()[1]
    assert (ROOT / ".binder" / "runtime.txt").read_text(encoding="utf-8").strip() == "python-3.11"
    post = ROOT / ".binder" / "postBuild"
    assert post.stat().st_mode & 0o111, "postBuild must be executable"
    script = post.read_text(encoding="utf-8")
    assert script.startswith("#!/bin/bash") and "set -euo pipefail" in script
    assert "pip install --no-deps -e ." in script
    assert re.search(r"^jupytext-config set-default-viewer\b.*\bmarkdown\b", script, re.M)


# ---------------------------------------------------------------------------------------------------
# the edit and launch links (shortcut.book.sphinx_links), on the theme's own context
# ---------------------------------------------------------------------------------------------------

REPO = "https://github.com/demystifying-resnet/demystifying-resnet"


def _theme_context(pagename: str) -> dict:
    """The links sphinx-book-theme 1.x makes for a staged notebook with ``path_to_book: .``."""
    staged = f"./{pagename}.ipynb"

    def get_edit_provider_and_url():
        return "GitHub", f"{REPO}/edit/main/{staged}"

    return {
        "page_source_suffix": ".ipynb",
        "get_edit_provider_and_url": get_edit_provider_and_url,
        "header_buttons": [
            {"label": "launch-buttons", "buttons": [
                {"text": "Binder", "url": f"https://mybinder.org/v2/gh/demystifying-resnet/demystifying-resnet/main"
                                          f"?urlpath=lab/tree/{staged}"}]},
            {"label": "download-buttons", "buttons": [
                {"label": "download-source-button", "url": f"../_sources/{pagename}.ipynb"}]},
            {"label": "source-buttons", "buttons": [
                {"label": "source-repository-button", "url": REPO},
                {"label": "source-edit-button", "url": f"{REPO}/edit/main/{staged}"},
                {"label": "source-issues-button", "url": f"{REPO}/issues/new?title=Issue%20on%20page%20%2F{pagename}.html"}]},
        ],
    }


def _app(staged: Path, path_to_docs: str = ".") -> types.SimpleNamespace:
    return types.SimpleNamespace(env=types.SimpleNamespace(doc2path=lambda name: str(staged)),
                                 config=types.SimpleNamespace(html_theme_options={"path_to_docs": path_to_docs}))


def test_edit_and_launch_name_the_chapter_s_md_and_the_download_keeps_the_executed_notebook(tmp_path, monkeypatch):
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "theorems.md").write_text("---\njupytext: {}\n---\n")
    staged = tmp_path / "stage" / "book" / "theorems.ipynb"
    staged.parent.mkdir(parents=True)
    staged.write_text("{}")
    monkeypatch.setenv(book.ROOT_ENV, str(tmp_path))
    ctx = _theme_context("book/theorems")
    sphinx_links.fix_links(_app(staged), "book/theorems", "page.html", ctx, None)
    buttons = {b.get("label") or b["text"]: b["url"] for g in ctx["header_buttons"] for b in g["buttons"]}
    assert buttons["source-edit-button"] == f"{REPO}/edit/main/book/theorems.md"
    assert ctx["get_edit_provider_and_url"]() == ("GitHub", f"{REPO}/edit/main/book/theorems.md")
    assert buttons["Binder"] == ("https://mybinder.org/v2/gh/demystifying-resnet/demystifying-resnet/main"
                                 "?urlpath=lab/tree/book/theorems.md")
    assert buttons["download-source-button"] == "../_sources/book/theorems.ipynb"
    assert buttons["source-repository-button"] == REPO
    assert buttons["source-issues-button"].startswith(f"{REPO}/issues/new?")


def test_the_source_comes_from_the_jupytext_metadata_without_the_root(tmp_path, monkeypatch):
    monkeypatch.delenv(book.ROOT_ENV, raising=False)
    staged = tmp_path / "book" / "dynamics.ipynb"
    staged.parent.mkdir()
    nb = nbformat.v4.new_notebook(metadata={"jupytext": {"text_representation": {"extension": ".md"}}})
    nbformat.write(nb, staged)
    assert sphinx_links.repository_source("book/dynamics", staged, None) == "book/dynamics.md"
    plain = tmp_path / "book" / "references.md"
    assert sphinx_links.repository_source("book/references", plain, None) is None  # a markdown page: as it is


@pytest.mark.parametrize("path_to_book, url, want", [
    (".", f"{REPO}/edit/main/./book/x.ipynb", f"{REPO}/edit/main/book/x.md"),
    ("", f"{REPO}/edit/main/book/x.ipynb", f"{REPO}/edit/main/book/x.md"),
    ("docs/", f"{REPO}/edit/main/docs/book/x.ipynb", f"{REPO}/edit/main/docs/book/x.md"),
    ("docs", "https://mybinder.org/v2/gh/o/r/main?urlpath=tree/docs/book/x.ipynb",
     "https://mybinder.org/v2/gh/o/r/main?urlpath=tree/docs/book/x.md"),
])
def test_retarget_replaces_the_staged_file_by_the_source(path_to_book, url, want):
    repo_path = sphinx_links.repository_path(path_to_book, "book/x.md")
    assert sphinx_links.retarget(url, path_to_book, "book/x.ipynb", repo_path) == want


# ---------------------------------------------------------------------------------------------------
# the executed notebook names no path of the machine that built it
# ---------------------------------------------------------------------------------------------------


def _plan_with(root: Path, results: Path) -> types.SimpleNamespace:
    return types.SimpleNamespace(root=root, profile="ci", results_dir=results)


def test_papermill_gets_no_results_dir_for_the_checkout_s_own_and_a_relative_one_inside_it(tmp_path):
    root = tmp_path.resolve()
    assert build.notebook_results_dir(_plan_with(root, root / "_build" / "results" / "ci")) == {}
    assert build.notebook_results_dir(_plan_with(root, root / "runs" / "mine")) == {"results_dir": "runs/mine"}
    # configure() reads a relative results_dir from the root: the same folder
    outside = tmp_path.parent / "elsewhere"
    assert build.notebook_results_dir(_plan_with(root, outside)) == {"results_dir": str(outside)}


def test_the_injected_cell_says_how_to_re_run_and_papermill_s_paths_are_relative(tmp_path):
    root = tmp_path.resolve()
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell('profile = "default"\nresults_dir = None', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell('# Parameters\nprofile = "ci"\n', metadata={"tags": ["injected-parameters"]}),
    ], metadata={"papermill": {"input_path": str(root / "_build/ci/notebooks/book/x.ipynb"),
                               "output_path": str(root / "_build/ci/running/book/x.ipynb"),
                               "parameters": {"profile": "ci"}}})
    for _ in range(2):  # idempotent
        build.for_readers(_plan_with(root, root / "_build" / "results" / "ci"), nb)
    cell = nb.cells[1]
    assert "remove-cell" in cell.metadata["tags"]
    assert cell.source.startswith(build.READER_NOTE) and cell.source.count("# Parameters") == 1
    assert cell.source.endswith('profile = "ci"\n')
    assert nb.metadata.papermill.input_path == "_build/ci/notebooks/book/x.ipynb"
    assert nb.metadata.papermill.output_path == "_build/ci/running/book/x.ipynb"


# ---------------------------------------------------------------------------------------------------
# licence and citation
# ---------------------------------------------------------------------------------------------------


def test_licence_mit_for_the_code_and_cc_by_for_the_text():
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License") and "Copyright (c) 2026" in text
    assert "CC BY 4.0" in text and "remains its authors'" in text
    assert tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["license"] == {"text": "MIT"}
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "## Cite, licence, launch" in readme and "CC BY 4.0" in readme and "MIT" in readme


def test_citation_cff_cites_this_edition_and_the_paper():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert cff["cff-version"] == "1.2.0" and cff["type"] == "software"
    assert cff["version"] == _version()
    assert set(cff["license"]) == {"MIT", "CC-BY-4.0"}
    paper = cff["references"][0]
    assert paper["title"] == "Demystifying ResNet" and paper["year"] == 2016
    assert [a["family-names"] for a in paper["authors"]] == ["Li", "Jiao", "Han", "Weissman"]
    assert {"type": "other", "value": "arXiv:1611.01186"} in paper["identifiers"]


def test_the_intro_says_how_to_cite_both_and_the_licence():
    intro = (ROOT / "book" / "intro.md").read_text(encoding="utf-8")
    m = re.search(r"^## How to cite\n(?P<body>.*?)(?=^## |\Z)", intro, re.M | re.S)
    assert m, "book/intro.md has no '## How to cite' section"
    body = m["body"]
    bibtex = re.search(r"```bibtex\n(?P<bib>.*?)```", body, re.S)
    assert bibtex, "How to cite: give the entries as a ```bibtex block"
    bib = bibtex["bib"]
    paper = (ROOT / "references.bib").read_text(encoding="utf-8")
    entry = re.search(r"@article\{li2016demystifying,.*?\n\}", paper, re.S)[0]
    assert entry in bib, "the paper's entry must be references.bib's li2016demystifying"
    assert re.search(r"@software\{[^,]+,", bib) and f"version = {{{_version()}}}" in bib
    assert f"url     = {{{_repository()}}}" in bib
    assert "CC BY 4.0" in body and "MIT" in body and "remains its authors'" in body
    assert 'profile = "ci"' in intro  # how to run a launched or downloaded notebook at the ci profile


# ---------------------------------------------------------------------------------------------------
# one chapter at ci in a fresh checkout: the built page's buttons and its downloadable notebook
# ---------------------------------------------------------------------------------------------------


def _copy_of_the_repository(dst: Path) -> Path:
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True,
                            check=True)
    for rel in filter(None, listed.stdout.decode().split("\0")):
        if (ROOT / rel).is_file():
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, dst / rel)
    return dst


def _hrefs(html: str) -> list[str]:
    return [h.replace("&amp;", "&") for h in re.findall(r'href="([^"]+)"', html)]


@pytest.mark.slow
def test_a_chapter_page_has_launch_repository_edit_and_download_and_its_notebook_runs_in_a_fresh_checkout(tmp_path):
    """One chapter (initial_point, the quickest at ci) built at ci in a copy of the repository: the page's buttons, its downloadable
    notebook with no path of the machine that built it, and that notebook run again, as downloaded, in
    another copy."""
    repo = _copy_of_the_repository(tmp_path / "checkout")
    env = {k: v for k, v in os.environ.items() if k != book.ROOT_ENV}
    proc = subprocess.run([sys.executable, "-m", "shortcut.book.build", "--profile", "ci", "--chapters", "initial_point"],
                          cwd=repo, env=env, capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-5000:]}\n{proc.stderr[-5000:]}"
    site = repo / "_build" / "ci" / "html"
    page = (site / "book" / "initial_point.html").read_text(encoding="utf-8")
    hrefs = _hrefs(page)
    url = _repository()
    assert url in hrefs, "the repository button"
    assert f"{url}/edit/main/book/initial_point.md" in hrefs, "suggest edit: book/initial_point.md"
    assert not [h for h in hrefs if "/edit/" in h and h.endswith(".ipynb")], "no edit link to a staged notebook"
    assert any(h.startswith(f"{url}/issues/new?") for h in hrefs), "the issues button"
    org_repo = "/".join(url.split("/")[-2:])
    binder = f"https://mybinder.org/v2/gh/{org_repo}/main?urlpath=lab/tree/book/initial_point.md"
    assert binder in hrefs, f"the launch button; the page's mybinder links: {[h for h in hrefs if 'mybinder' in h]}"
    download = "../_sources/book/initial_point.ipynb"
    assert download in hrefs and (site / "_sources" / "book" / "initial_point.ipynb").is_file(), "the download button"
    assert "CC BY 4.0" in page, "the licence in the footer"
    intro = (site / "book" / "intro.html").read_text(encoding="utf-8")
    assert 'id="how-to-cite"' in intro and f"https://mybinder.org/v2/gh/{org_repo}/main?urlpath=lab/tree/book/intro.md" \
        in _hrefs(intro)

    # the downloadable notebook: papermill's cell and record name no path of this machine
    for nb_path in (repo / "_build" / "ci" / "site-src" / "book" / "initial_point.ipynb", site / "_sources" / "book" / "initial_point.ipynb"):
        nb = nbformat.read(nb_path, as_version=4)
        injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
        assert len(injected) == 1, nb_path
        assert str(tmp_path) not in injected[0].source and not re.search(r"['\"]/", injected[0].source), injected[0].source
        assert re.search(r'^profile = "ci"$', injected[0].source, re.M)
        assert "results_dir" not in injected[0].source  # left to the chapter: _build/results/ci of any checkout
        record = json.dumps(nb.metadata.get("papermill", {}))
        assert str(tmp_path) not in record, record

    # ... and it runs again, as downloaded, in another fresh checkout (saved in its book/)
    fresh = _copy_of_the_repository(tmp_path / "fresh")
    shutil.copy(site / "_sources" / "book" / "initial_point.ipynb", fresh / "book" / "downloaded.ipynb")
    rerun = subprocess.run([sys.executable, "-m", "papermill", "-k", "python3", "--cwd", "book", "book/downloaded.ipynb",
                            "book/downloaded.out.ipynb"], cwd=fresh, env=env, capture_output=True, text=True, timeout=900)
    assert rerun.returncode == 0, f"the downloaded notebook failed in a fresh checkout:\n{rerun.stderr[-5000:]}"
    assert (fresh / "_build" / "results" / "ci" / "verdicts" / "initial_point.json").is_file(), \
        "its results go to the fresh checkout's _build/results/ci"
