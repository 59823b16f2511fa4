"""The explicit registry (bot/app/registry.py): a rule, a command, a job, an API route or a page
that is written but not switched on is a failing test, never silence."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path
from types import ModuleType

import bot.features
import bot.web
from bot.app import registry
from bot.core import schedules
from bot.core.commands import REGISTRY
from bot.core.render import labels

HOOKS = ("on_event", "guard", "sweep", "due")


def _modules(package: ModuleType) -> list[ModuleType]:
    root = Path(package.__file__ or "").parent
    names = [m.name for m in pkgutil.walk_packages([str(root)], prefix=f"{package.__name__}.")]
    return [importlib.import_module(name) for name in names]


def _source_has(module: ModuleType, text: str) -> bool:
    return text in inspect.getsource(module)


def test_every_rule_module_is_switched_on_with_every_hook_it_defines() -> None:
    rule_modules = [m for m in _modules(bot.features) if m.__name__.endswith(".rule")]
    assert rule_modules
    for module in rule_modules:
        hooks = {h: getattr(module, h) for h in HOOKS if hasattr(module, h)}
        if not hooks:
            continue  # a rule module of scheduled jobs only: see the jobs test
        [rule] = [r for r in registry.RULES if any(getattr(r, h) is fn for h, fn in hooks.items())]
        for hook, written in hooks.items():
            assert getattr(rule, hook) is written, f"{module.__name__}.{hook} is not in RULES"


def test_every_rule_in_the_registry_has_a_hook_and_a_unique_name() -> None:
    names = [rule.name for rule in registry.RULES]
    assert len(names) == len(set(names))
    assert all(any(getattr(rule, h) for h in HOOKS) for rule in registry.RULES)


def test_every_module_with_commands_is_in_the_registry_and_registers_them() -> None:
    written = {m for m in _modules(bot.features) if _source_has(m, "\n@command(")}
    assert written == set(registry.COMMANDS)
    registered = {spec.handle.__module__ for spec in REGISTRY.values()}
    assert {m.__name__ for m in registry.COMMANDS} == registered


def test_every_module_with_jobs_is_in_the_registry() -> None:
    written = {m for m in _modules(bot.features) if _source_has(m, "\n@job(")}
    assert written == set(registry.JOBS)
    assert {"care_reminders", "digest_daily", "digest_weekly", "digest_monthly", "group_sync"} <= (
        set(schedules.JOBS)
    )


def test_every_capability_api_and_every_page_is_switched_on() -> None:
    apis = [m for m in _modules(bot.features) if m.__name__.endswith(".api")]
    assert {m.setup for m in apis} == set(registry.API)
    pages = [m for m in _modules(bot.web) if hasattr(m, "setup") and m is not bot.web]
    assert {m.setup for m in pages} == set(registry.PAGES)


def test_every_command_has_its_words_in_both_languages() -> None:
    for locale in ("vi", "en"):
        words = labels(locale)["commands"]
        for name in REGISTRY:
            entry = words.get(name)
            assert entry and entry["summary"] and entry["usage"] and entry["examples"], (
                locale,
                name,
            )
