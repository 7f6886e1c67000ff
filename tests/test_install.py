"""`make venv` off this machine: the lock's torch (the CPU build, on PyTorch's index, not on PyPI) is
found where a user elsewhere finds it, and here, where a wheel folder has it, no index is waited on.

Each test runs the Makefile's real install recipe (``make venv``) into a fresh venv, with pip's own
configuration switched off (``PIP_CONFIG_FILE=/dev/null``, no ``PIP_FIND_LINKS``) as on a plain Python
elsewhere. The lock is one line, ``torch==2.13.0+cpu``, and the torch is a small stand-in wheel of that
exact name and version, served from a local PEP 503 index (a stand-in for PyTorch's) or a wheel folder;
an empty local index stands in for PyPI, which has no ``+cpu`` build; the project is a stand-in with
a build backend in its own tree, so nothing here needs the network.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PIN = "torch==2.13.0+cpu"
WHEEL = "torch-2.13.0+cpu-py3-none-any.whl"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("make") is None, reason="needs make"),
]

sys.path.insert(0, str(ROOT / "scripts"))
import torch_index  # noqa: E402


def _fake_torch_wheel(folder: Path) -> Path:
    """A pure-Python wheel named and versioned as the lock's torch (it installs a module ``torch``
    whose ``__version__`` says it is the stand-in)."""
    folder.mkdir(parents=True, exist_ok=True)
    info = "torch-2.13.0+cpu.dist-info"
    files = {
        "torch/__init__.py": '__version__ = "2.13.0+cpu"\nSTAND_IN = True\n',
        f"{info}/METADATA": "Metadata-Version: 2.1\nName: torch\nVersion: 2.13.0+cpu\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    path = folder / WHEEL
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
        zf.writestr(f"{info}/RECORD", "".join(f"{n},,\n" for n in [*files, f"{info}/RECORD"]))
    return path


#: The stand-in project's build backend (PEP 517 / 660, in its own tree): an empty wheel, so that the
#: Makefile's editable install of the project needs no setuptools from an index.
BACKEND = """
import zipfile

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    name, info = "stand_in_project-0-py3-none-any.whl", "stand_in_project-0.dist-info"
    files = {info + "/METADATA": "Metadata-Version: 2.1\\nName: stand-in-project\\nVersion: 0\\n",
             info + "/WHEEL": "Wheel-Version: 1.0\\nGenerator: tests\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"}
    with zipfile.ZipFile(wheel_directory + "/" + name, "w") as zf:
        for path, text in files.items():
            zf.writestr(path, text)
        zf.writestr(info + "/RECORD", "".join(p + ",,\\n" for p in [*files, info + "/RECORD"]))
    return name

build_editable = build_wheel
"""


def _index(root: Path, wheel: Path | None) -> str:
    """A PEP 503 simple index under ``root`` holding ``wheel`` (or nothing); its file:// URL."""
    project = root / "torch"
    project.mkdir(parents=True, exist_ok=True)
    links = f'<a href="{wheel.as_uri()}">{wheel.name}</a>' if wheel else ""
    (project / "index.html").write_text(f"<!DOCTYPE html><html><body>{links}</body></html>\n")
    (root / "index.html").write_text('<!DOCTYPE html><html><body><a href="torch/">torch</a></body></html>\n')
    return root.as_uri()


@pytest.fixture()
def elsewhere(tmp_path):
    """A checkout (Makefile, scripts, a one-line lock, a tiny project) and the environment of a plain
    Python whose pip knows PyPI only (here: an empty local index standing in for it)."""
    work = tmp_path / "checkout"
    (work / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "Makefile", work / "Makefile")
    shutil.copy(ROOT / "scripts" / "torch_index.py", work / "scripts" / "torch_index.py")
    (work / "requirements").mkdir()
    (work / "requirements" / "lock.txt").write_text(f"# a lock of one line\n{PIN}\n")
    (work / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n'
        '[project]\nname = "stand-in-project"\nversion = "0"\n'
    )
    (work / "backend.py").write_text(BACKEND)
    wheel = _fake_torch_wheel(tmp_path / "wheels")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(
        PIP_CONFIG_FILE=os.devnull,
        PIP_INDEX_URL=_index(tmp_path / "pypi", None),  # PyPI has no +cpu build of torch
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PYTHON=sys.executable,
    )
    return work, env, wheel, tmp_path


def _make_venv(work: Path, env: dict, *make_args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "-C", str(work), "venv", *make_args], env=env,
                          capture_output=True, text=True, timeout=600)


def _installed_torch(work: Path) -> str:
    out = subprocess.run([str(work / ".venv" / "bin" / "python"), "-c",
                          "import torch; print(torch.__version__, torch.STAND_IN)"],
                         capture_output=True, text=True, timeout=60)
    return out.stdout.strip()


def test_the_install_finds_torch_on_the_index_make_names(elsewhere):
    """A user elsewhere: TORCH_INDEX points at (a stand-in for) PyTorch's CPU index; it installs."""
    work, env, wheel, tmp = elsewhere
    index = _index(tmp / "pytorch", wheel)
    done = _make_venv(work, env, f"TORCH_INDEX={index}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"--extra-index-url {index}" in done.stdout
    assert _installed_torch(work) == "2.13.0+cpu True"


def test_without_the_index_the_install_fails_naming_it(elsewhere):
    """The same user with TORCH_INDEX switched off: exit 2 before pip runs, naming PyTorch's index."""
    work, env, _, _ = elsewhere
    done = _make_venv(work, env, "TORCH_INDEX=")
    assert done.returncode != 0
    assert torch_index.PYTORCH_CPU_INDEX in done.stderr and PIN in done.stderr, done.stderr
    assert "TORCH_INDEX" in done.stderr
    assert not (work / ".venv" / ".installed-stamp").exists()


def test_a_wheel_folder_of_pips_own_wins_and_the_index_is_never_contacted(elsewhere):
    """This machine: pip's configuration has a wheel folder with torch. The default TORCH_INDEX is
    replaced by an address that refuses every connection; the install neither uses nor waits on it."""
    work, env, wheel, _ = elsewhere
    env = dict(env, PIP_FIND_LINKS=str(wheel.parent))
    unreachable = "http://127.0.0.1:9/whl/cpu"  # the discard port: connection refused
    start = time.monotonic()
    done = _make_venv(work, env, f"TORCH_INDEX={unreachable}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "--extra-index-url" not in done.stdout
    assert "127.0.0.1:9" not in done.stdout + done.stderr.replace(f"TORCH_INDEX={unreachable}", "")
    assert _installed_torch(work) == "2.13.0+cpu True"
    assert time.monotonic() - start < 120


def test_the_real_lock_pins_torch_s_cpu_build():
    """The tests above stand in for this pin; if the lock stops pinning a +cpu build they test nothing."""
    assert torch_index.torch_pin(ROOT / "requirements" / "lock.txt") == PIN
    assert torch_index.torch_pin(ROOT / "requirements" / "lowest.txt") == PIN
