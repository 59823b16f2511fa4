"""Rules: every rule sees every event, in the order of RULES; a rule may also block a command.

A rule module has any of these, and is switched on by its `Rule` entry in RULES below:
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

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
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


# The rules that are switched on, in the order they run. A rule module listed in
# bot/rules/ but not here is a failing test (tests/test_registry.py), never silence.
RULES: list[Rule] = [
    Rule("sla", on_event=sla.on_event, sweep=sla.sweep, due=sla.due),
    Rule("deals", on_event=deals.on_event, sweep=deals.sweep, due=deals.due),
    Rule(
        "payment_gate",
        on_event=payment_gate.on_event,
        guard=payment_gate.guard,
        sweep=payment_gate.sweep,
        due=payment_gate.due,
    ),
    Rule("incidents", on_event=incidents.on_event, sweep=incidents.sweep, due=incidents.due),
    Rule("policy_guard", on_event=policy_guard.on_event),
    Rule(
        "satisfaction",
        on_event=satisfaction.on_event,
        sweep=satisfaction.sweep,
        due=satisfaction.due,
    ),
    Rule("care"),  # its scheduled job (care_reminders) registers with bot.schedules
    Rule("digests"),  # its jobs: digest_daily, digest_weekly, digest_monthly
    Rule("membership"),  # its job: group_sync; the reading itself is the outbox's
]
# Modules whose jobs register on import: listed above so that importing this package is what
# switches them on.
_JOB_MODULES = (care, digests, membership)


async def fan_out(ctx: Context) -> list[Intent]:
    """Run every rule's on_event and collect what they ask for."""
    intents: list[Intent] = []
    for rule in RULES:
        if rule.on_event is not None:
            intents += await rule.on_event(ctx)
            ctx.check_budget(rule.name)
    return intents


async def guard(ctx: Context, spec: CommandSpec, args: object) -> list[Intent] | None:
    """The first rule's refusal of this command, or None when every rule lets it run."""
    for rule in RULES:
        if rule.guard is not None and (refusal := await rule.guard(ctx, spec, args)) is not None:
            return refusal
    return None


async def sweep_all(db: AsyncSession, now: datetime, deps: Deps) -> list[Intent]:
    """Run every rule's sweep for the deadlines due at `now`."""
    intents: list[Intent] = []
    for rule in RULES:
        if rule.sweep is not None:
            intents += await rule.sweep(db, now, deps)
    return intents
