"""The package's layers: science < experiments < figures < book. An import may point down, never up."""

import ast
from pathlib import Path

import pytest

LIB = Path(__file__).resolve().parents[1] / "lib" / "shortcut"
ORDER = ["science", "experiments", "figures", "book"]


def imported_layers(path: Path) -> set[str]:
    """The layers of ``shortcut`` that the module at ``path`` imports (absolute or relative)."""
    layer = path.relative_to(LIB).parts[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:
                names = [layer]
            elif node.level == 2:
                names = [(node.module or "").split(".")[0]] if node.module else [a.name for a in node.names]
            elif node.module and node.module.startswith("shortcut."):
                names = [node.module.split(".")[1]]
        elif isinstance(node, ast.Import):
            names = [a.name.split(".")[1] for a in node.names if a.name.startswith("shortcut.")]
        found |= {n for n in names if n in ORDER}
    return found


MODULES = sorted(p for layer in ORDER for p in (LIB / layer).glob("*.py"))


def test_every_module_sits_in_a_layer():
    loose = sorted(p.name for p in LIB.glob("*.py") if p.name != "__init__.py")
    assert not loose, f"modules outside the layers: {loose}"
    assert len(MODULES) > 10


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.relative_to(LIB).as_posix())
def test_imports_point_down(path):
    here = ORDER.index(path.relative_to(LIB).parts[0])
    up = sorted(layer for layer in imported_layers(path) if ORDER.index(layer) > here)
    assert not up, f"{path.relative_to(LIB)} imports the higher layer(s) {up}"


def test_the_check_can_fail(tmp_path, monkeypatch):
    fake = LIB / "science" / "models.py"
    monkeypatch.setattr(Path, "read_text", lambda self, encoding=None: "from ..book import configure\n")
    assert imported_layers(fake) == {"book"}
