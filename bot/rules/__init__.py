"""Rules: every rule sees every event, in the order of RULES; a rule may also block a command.

A rule is a module with any of:
    async def on_event(ctx: Context) -> list[Intent]
        sees every event, after the transcript is stored and before the command runs;
    async def guard(ctx: Context, spec: CommandSpec, args: object) -> list[Intent] | None
        returns the refusal to send when the command must not run (the payment gate blocks
        /ship), None to let it run;
    async def sweep(db: AsyncSession, now: datetime, deps: Deps) -> list[Intent]
        for rules driven by the clock: called about every second, and at start so deadlines
        that passed while the service was down are acted on. The database owns the timers: a
        sweep finds due rows and takes each step with a conditional UPDATE, so two processes
        never act on the same deadline twice.
State lives in the database, words in templates, decisions in the audit log.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

from bot.rules import (
    care,
    deals,
    digests,
    incidents,
    membership,
    payment_gate,
    policy_guard,
    satisfaction,
    sla,
)

if TYPE_CHECKING:
    from datetime import datetime

    from sqlmodel.ext.asyncio.session import AsyncSession

    from bot.commands import CommandSpec
    from bot.context import Context
    from bot.dispatch import Deps
    from bot.intents import Intent

# Rule modules, in the order they run. Add a module here to switch a rule on.
RULES: list[ModuleType] = [
    sla,
    deals,
    payment_gate,
    incidents,
    policy_guard,
    satisfaction,
    care,
    digests,
    membership,
]


async def fan_out(ctx: Context) -> list[Intent]:
    """Run every rule's on_event and collect what they ask for."""
    intents: list[Intent] = []
    for rule in RULES:
        if hasattr(rule, "on_event"):
            intents += await rule.on_event(ctx)
            ctx.check_budget(rule.__name__)
    return intents


async def guard(ctx: Context, spec: CommandSpec, args: object) -> list[Intent] | None:
    """The first rule's refusal of this command, or None when every rule lets it run."""
    for rule in RULES:
        if hasattr(rule, "guard"):
            refusal: list[Intent] | None = await rule.guard(ctx, spec, args)
            if refusal is not None:
                return refusal
    return None


async def sweep_all(db: AsyncSession, now: datetime, deps: Deps) -> list[Intent]:
    """Run every rule's sweep for the deadlines due at `now`."""
    intents: list[Intent] = []
    for rule in RULES:
        if hasattr(rule, "sweep"):
            intents += await rule.sweep(db, now, deps)
    return intents
