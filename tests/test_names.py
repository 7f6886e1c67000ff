"""Every command and module a message, docstring or page names exists: ``python -m shortcut.X`` is a
module that runs, and a dotted name ``shortcut.a.b`` in double backticks (or as a :mod: / :func: role)
resolves to a module or an attribute of one. A renamed module leaves no stale name behind."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FILES = sorted([*(ROOT / "lib" / "shortcut").rglob("*.py"), *(ROOT / "book").glob("*.md"), ROOT / "README.md",
                ROOT / "Makefile", *(ROOT / "benchmarks").glob("*.py"), *(ROOT / "benchmarks").glob("*.md"),
                *(ROOT / "scripts").glob("*.py")])
COMMAND = re.compile(r"python3? -m (shortcut(?:\.\w+)+)")
DOTTED = re.compile(r"(?:``|:(?:mod|func|class|data|meth):`~?)(shortcut(?:\.\w+)+)(?=`)")


def resolves(name: str) -> bool:
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


def names(pattern: re.Pattern) -> list[tuple[str, str]]:
    return sorted({(m[1], str(path.relative_to(ROOT))) for path in FILES
                   for m in pattern.finditer(path.read_text(encoding="utf-8"))})


@pytest.mark.parametrize("module, where", names(COMMAND))
def test_every_command_named_runs_a_module_that_exists(module, where):
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin, f"{where} names `python -m {module}`: no such module"


def test_every_dotted_name_in_the_text_resolves():
    stale = [f"{where}: {name}" for name, where in names(DOTTED) if not resolves(name)]
    assert not stale, "names of modules or objects that do not exist:\n" + "\n".join(stale)


def test_the_checker_finds_a_stale_name():
    assert resolves("shortcut.science.hessian.summarize") and resolves("shortcut.book")
    assert not resolves("shortcut.hessian.summarize") and not resolves("shortcut.science.hessian.nothing")
