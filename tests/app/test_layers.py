"""The floor plan (issue #17): storage/ and config/ import nothing from bot/; the core imports
no capability, no page, no program and not the app; the Zalo boundary only the clock."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support import ROOT


def _imported(path: Path, *, at_run_time: bool = False) -> set[str]:
    """The modules `path` imports; with `at_run_time`, not those imported for the type checker
    only (under `if TYPE_CHECKING:`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    if at_run_time:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
                node.body = []
    names: set[str] = set()
    for node in ast.walk(tree):
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


def _offenders(
    folder: str, forbidden: tuple[str, ...], *, at_run_time: bool = False
) -> dict[str, list[str]]:
    found = {
        str(path.relative_to(ROOT)): sorted(
            name
            for name in _imported(path, at_run_time=at_run_time)
            if name.startswith(forbidden) or name in forbidden
        )
        for path in (ROOT / folder).rglob("*.py")
    }
    return {path: names for path, names in found.items() if names}


def test_config_imports_nothing_from_the_bot() -> None:
    assert _offenders("config", ("bot",)) == {}


def test_the_core_imports_no_capability_page_program_or_the_app() -> None:
    assert _offenders("bot/core", ("bot.features", "bot.web", "bot.tools", "bot.app")) == {}


def test_the_zalo_boundary_imports_only_the_clock_from_the_rest_of_the_bot() -> None:
    forbidden = ("bot.features", "bot.web", "bot.tools", "bot.app")
    assert _offenders("bot/zalo", forbidden) == {}
    reaching_in = {
        name
        for path in (ROOT / "bot/zalo").rglob("*.py")
        for name in _imported(path)
        if name.startswith("bot.core")
    }
    assert reaching_in <= {"bot.core.clock"}


def test_capabilities_do_not_import_the_app_but_its_keys() -> None:
    """At run time: the doctor's checks name the Runtime they are given for the type checker."""
    found = _offenders("bot/features", ("bot.app", "bot.tools"), at_run_time=True)
    assert {path: [n for n in names if n != "bot.app.keys"] for path, names in found.items()} == {
        path: [] for path in found
    }
