"""The environments stay in step: pyproject.toml's ranges, environment.yml, and the lock files that
`make` installs (requirements/lock.txt; requirements/lowest.txt for `make test-lowest`)."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = None

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements" / "lock.txt"
LOWEST = ROOT / "requirements" / "lowest.txt"
TORCH_CPU = ROOT / "requirements" / "torch-cpu.txt"

needs_tomllib = pytest.mark.skipif(tomllib is None, reason="tomllib needs Python 3.11")


def _project() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as fh:
        return tomllib.load(fh)["project"]


def _wanted(project: dict) -> list[str]:
    """Every requirement of pyproject.toml: [project] dependencies and every optional group."""
    wanted = list(project.get("dependencies", []))
    for group in project.get("optional-dependencies", {}).values():
        wanted += group
    return wanted


def _pins(path: Path) -> dict[str, Version]:
    """``{name: version}`` of a lock file's ``name==version`` lines (names normalised)."""
    pins: dict[str, Version] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        assert not line.startswith("-"), f"{path.name}: an option line {line!r}; a lock names only packages"
        m = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._\-]*)==(\S+)", line)
        assert m, f"{path.name}: {line!r} is not an exact pin (name==version)"
        name = canonicalize_name(m.group(1))
        assert name not in pins, f"{path.name}: {name} is pinned twice"
        pins[name] = Version(m.group(2))
    return pins


def _norm(req: str) -> tuple[str, str]:
    req = req.split(";")[0].strip()
    m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._\-]*)(\[[^\]]*\])?\s*(.*)$", req)
    assert m, req
    name = re.sub(r"[-_.]+", "-", m.group(1)).lower()
    return name + (m.group(2) or ""), m.group(3).replace(" ", "")


@needs_tomllib
def test_environment_yml_in_step_with_pyproject():
    project = _project()
    wanted = _wanted(project)
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    have: dict[str, str] = {}
    for dep in env["dependencies"]:
        for item in (dep.get("pip", []) if isinstance(dep, dict) else [dep]):
            if item.startswith("-"):
                continue
            name, spec = _norm(item.replace("=", "==", 1) if re.match(r"^[\w\-]+=[^=]", item) else item)
            have[name] = spec
    problems = []
    for req in wanted:
        name, spec = _norm(req)
        if name not in have:
            problems.append(f"{req!r} is in pyproject.toml but not in environment.yml")
        elif have[name] != spec:
            problems.append(f"{name}: pyproject.toml says {spec!r}, environment.yml says {have[name]!r}")
    assert not problems, "\n".join(problems)
    requires = project.get("requires-python", "")
    py = [d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python")]
    assert py, "environment.yml must pin python"
    if requires.startswith(">="):
        lo = tuple(int(x) for x in requires[2:].split("."))
        pin = tuple(int(x) for x in py[0].split("=")[-1].split("."))
        assert pin >= lo, f"environment.yml's {py[0]} is older than requires-python {requires}"
    # the conda environment's Python is the one the locks are compiled for
    for lock in (LOCK, LOWEST):
        m = re.search(r"--python-version (\S+)", lock.read_text(encoding="utf-8"))
        assert m, f"{lock.name}'s header does not say which Python it was compiled for"
        assert py[0].split("=")[-1] == m.group(1), f"environment.yml has {py[0]}, {lock.name} is for {m.group(1)}"


@needs_tomllib
@pytest.mark.parametrize("lock", [LOCK, LOWEST], ids=["lock", "lowest"])
def test_lock_pins_every_dependency_within_pyprojects_ranges(lock):
    pins = _pins(lock)
    problems = []
    for text in _wanted(_project()):
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate({"python_version": "3.11", "sys_platform": "linux"}):
            continue
        name = canonicalize_name(req.name)
        if name not in pins:
            problems.append(f"{text!r} (pyproject.toml) is not in {lock.name}")
        elif not req.specifier.contains(pins[name], prereleases=True):
            problems.append(f"{lock.name} pins {name}=={pins[name]}, outside pyproject.toml's {text!r}")
        for extra in sorted(req.extras):  # dask[distributed]: what the extra adds is locked too
            for dep in map(Requirement, metadata.requires(req.name) or []):
                if dep.marker is not None and dep.marker.evaluate({"extra": extra}) \
                        and not dep.marker.evaluate({"extra": ""}) and canonicalize_name(dep.name) not in pins:
                    problems.append(f"{text!r} needs {dep.name} (extra {extra!r}), which is not in {lock.name}")
    assert not problems, "\n".join(problems) + "\nregenerate the locks: make lock"


@needs_tomllib
def test_lowest_lock_pins_each_direct_dependency_at_its_lower_bound():
    # `make test-lowest` is only a test of the lower bounds if the lowest lock is at them: a raised
    # bound in pyproject.toml without `make lock` fails here. A bound with no release of its own
    # (scipy>=1.11: 1.11.0 has no wheels) is met by the first release of that series.
    pins = _pins(LOWEST)
    problems = []
    for text in _wanted(_project()):
        req = Requirement(text)
        lows = [Version(s.version) for s in req.specifier if s.operator in (">=", "==")]
        if not lows:
            continue
        low, pin = max(lows), pins[canonicalize_name(req.name)]
        if pin.release[:len(low.release)] != low.release:
            problems.append(f"{req.name}: lower bound {low}, {LOWEST.name} pins {pin}")
    assert not problems, "\n".join(problems) + "\nregenerate the locks: make lock"


@pytest.mark.parametrize("lock", [LOCK, LOWEST], ids=["lock", "lowest"])
def test_locks_take_the_cpu_build_of_torch_and_no_cuda_packages(lock):
    pins = _pins(lock)
    cpu = [line for line in TORCH_CPU.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
    assert cpu == [f"torch=={pins['torch']}"], f"{lock.name} pins torch=={pins['torch']}, {TORCH_CPU.name} asks {cpu}"
    assert pins["torch"].local == "cpu"
    cuda = sorted(n for n in pins if n.startswith(("nvidia-", "cuda-", "triton")))
    assert not cuda, f"{lock.name} pulls CUDA packages ({', '.join(cuda)}): compile it with `make lock`"


def test_locks_say_how_to_regenerate_them():
    for lock in (LOCK, LOWEST):
        head = lock.read_text(encoding="utf-8").splitlines()[:3]
        assert any("make lock" in line and "uv pip compile pyproject.toml" in line for line in head), lock.name
    make = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert make.count("$(call pip_install_lock,$(PY),$(LOCK))") == 1  # make's venv installs the lock
    assert "-m pip install $$args -r $(2)" in make  # ... with torch's index when it is needed


def test_the_thread_free_modules_of_conftest_exist():
    """make test's second pass leaves out tests/conftest.py's THREAD_FREE modules: each is a test module."""
    from conftest import THREAD_FREE

    missing = sorted(m for m in THREAD_FREE if not (ROOT / "tests" / f"{m}.py").is_file())
    assert not missing, f"THREAD_FREE names no test module: {missing}"
