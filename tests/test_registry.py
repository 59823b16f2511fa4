"""The explicit registry (issue #17): a rule, a command or a job that is written but not
switched on is a failing test, never silence."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

import bot.handlers
import bot.rules
from bot import schedules
from bot.commands import REGISTRY
from bot.render import labels
from bot.rules import RULES

RULES_DIR = Path(bot.rules.__file__).parent
HANDLERS_DIR = Path(bot.handlers.__file__).parent
NOT_RULES = {"common"}  # helpers the rules share


def test_every_rule_module_is_switched_on() -> None:
    modules = {m.name for m in pkgutil.iter_modules([str(RULES_DIR)])} - NOT_RULES
    assert modules == {rule.name for rule in RULES}


def test_every_hook_a_rule_module_defines_is_registered() -> None:
    by_name = {rule.name: rule for rule in RULES}
    for name, rule in by_name.items():
        module = importlib.import_module(f"bot.rules.{name}")
        for hook in ("on_event", "guard", "sweep", "due"):
            written = getattr(module, hook, None)
            assert getattr(rule, hook) is written, f"bot.rules.{name}.{hook} is not in RULES"


def test_every_handler_module_is_imported_so_its_commands_register() -> None:
    modules = {m.name for m in pkgutil.iter_modules([str(HANDLERS_DIR)])}
    assert modules and all(f"bot.handlers.{name}" in sys.modules for name in modules)
    registered = {spec.handle.__module__ for spec in REGISTRY.values()}
    assert {f"bot.handlers.{name}" for name in modules} <= registered


def test_every_command_has_its_words_in_both_languages() -> None:
    for locale in ("vi", "en"):
        words = labels(locale)["commands"]
        for name in REGISTRY:
            entry = words.get(name)
            assert entry and entry["summary"] and entry["usage"] and entry["examples"], (
                locale,
                name,
            )


def test_the_scheduled_jobs_are_registered() -> None:
    assert {
        "care_reminders",
        "digest_daily",
        "digest_weekly",
        "digest_monthly",
        "group_sync",
    } <= set(schedules.JOBS)
