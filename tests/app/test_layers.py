"""The floor plan (issue #17): storage/ is below the bot and imports nothing from bot/."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support import ROOT


def _imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_storage_imports_nothing_from_the_bot() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(n for n in _imported(path) if n.split(".")[0] == "bot")
        for path in (ROOT / "storage").rglob("*.py")
    }
    assert {path: names for path, names in offenders.items() if names} == {}
