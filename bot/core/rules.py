"""The rule contract: every rule sees every event, in the registry's order; a rule may also
block a command, and rules driven by the clock sweep their deadlines.

A capability's rule module has any of these, and is switched on by its `Rule` entry in
bot/app/registry.py (RULES):
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
State lives in the database, words in templates, decisions in the audit log. The core runs
the rules it is handed (Deps.rules) and imports none of them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime

    from sqlmodel.ext.asyncio.session import AsyncSession

    from bot.core.commands import CommandSpec
    from bot.core.context import Context
    from bot.core.dispatch import Deps
    from bot.core.intents import Intent

OnEvent = Callable[["Context"], Awaitable[list["Intent"]]]
Guard = Callable[["Context", "CommandSpec", object], Awaitable[list["Intent"] | None]]
Sweep = Callable[["AsyncSession", "datetime", "Deps"], Awaitable[list["Intent"]]]
Due = Callable[["AsyncSession", "datetime", "Deps"], Awaitable[bool]]


@dataclass(frozen=True)
class Rule:
    """A rule as the pipeline runs it: its hooks, each typed (the type checker holds every
    rule module to these signatures) and each optional. `due` is the read-only probe of
    `sweep` (same conditions): without it, a rule with a sweep is swept at every tick."""

    name: str
    on_event: OnEvent | None = None
    guard: Guard | None = None
    sweep: Sweep | None = None
    due: Due | None = None


async def fan_out(rules: Sequence[Rule], ctx: Context) -> list[Intent]:
    """Run every rule's on_event and collect what they ask for."""
    intents: list[Intent] = []
    for rule in rules:
        if rule.on_event is not None:
            intents += await rule.on_event(ctx)
            ctx.check_budget(rule.name)
    return intents


async def guard(
    rules: Sequence[Rule], ctx: Context, spec: CommandSpec, args: object
) -> list[Intent] | None:
    """The first rule's refusal of this command, or None when every rule lets it run."""
    for rule in rules:
        if rule.guard is not None and (refusal := await rule.guard(ctx, spec, args)) is not None:
            return refusal
    return None


async def sweep_all(
    rules: Sequence[Rule], db: AsyncSession, now: datetime, deps: Deps
) -> list[Intent]:
    """Run every rule's sweep for the deadlines due at `now`."""
    intents: list[Intent] = []
    for rule in rules:
        if rule.sweep is not None:
            intents += await rule.sweep(db, now, deps)
    return intents
