"""Rules: every rule sees every event, in the order of RULES; a rule may also block a command.

A rule is a module (or any object) with:
    async def on_event(ctx: Context) -> list[Intent]
and optionally:
    async def guard(ctx: Context, spec: CommandSpec, args: object) -> list[Intent] | None
which returns the refusal to send when the command must not run (the payment gate blocks /ship).
State lives in the database, words in templates, decisions in the audit log.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.commands import CommandSpec
    from bot.context import Context
    from bot.intents import Intent

# Rule modules, in the order they run. Add a module here to switch a rule on.
RULES: list[ModuleType] = []


async def fan_out(ctx: Context) -> list[Intent]:
    """Run every rule's on_event and collect what they ask for."""
    intents: list[Intent] = []
    for rule in RULES:
        if hasattr(rule, "on_event"):
            intents += await rule.on_event(ctx)
    return intents


async def guard(ctx: Context, spec: CommandSpec, args: object) -> list[Intent] | None:
    """The first rule's refusal of this command, or None when every rule lets it run."""
    for rule in RULES:
        if hasattr(rule, "guard") and (refusal := await rule.guard(ctx, spec, args)) is not None:
            return refusal
    return None
