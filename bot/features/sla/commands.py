"""/sla and /workhours: see the group's reply deadline; heads override it for one group."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bot.core.commands import ALL_STAFF, HEADS, UsageError, command
from bot.core.context import Context
from bot.core.intents import Intent
from bot.core.text import fold
from bot.core.worktime import WorktimeError, parse_duration, parse_working_hours
from bot.features.sla.policy import first_response
from bot.features.sla.rule import api_section, open_clock
from storage import repo

OFF, DEFAULT = {"off", "tat", "tắt"}, {"default", "macdinh", "chung", "reset"}
ON = {"on", "bat"}
OUT_OF_HOURS = {"ngoaigio", "outofhours", "ngoai gio"}


@dataclass(frozen=True)
class Change:
    value: str | None  # None: show; "" back to the company default


def parse_sla(raw: str) -> Change:
    word = fold(raw.strip())
    if not word:
        return Change(None)
    first, _, rest = word.partition(" ")
    if first in OUT_OF_HOURS:  # /sla ngoaigio tat|bat: the out-of-hours acknowledgement
        if rest.strip() in OFF | ON:
            return Change("ngoaigio:" + ("off" if rest.strip() in OFF else "on"))
        raise UsageError("sla_out_of_hours")
    if word in OFF:
        return Change("off")
    if word in DEFAULT:
        return Change("")
    try:
        parse_duration(word)
    except WorktimeError:
        raise UsageError("sla_bad_limit", value=raw.strip()) from None
    return Change(word)


def parse_hours(raw: str) -> Change:
    if not raw.strip():
        raise UsageError("hours_missing")
    if fold(raw.strip()) in DEFAULT:
        return Change("")
    try:
        parse_working_hours(raw.strip())
    except WorktimeError as exc:
        raise UsageError.of(exc) from None
    return Change(raw.strip())


@command("sla", parse=parse_sla, roles=ALL_STAFF)
async def sla(ctx: Context, change: Change) -> list[Intent]:
    """Show the SLA state; a head may set, switch off or reset the group's own limit."""
    group = ctx.group
    assert group is not None
    if change.value is not None:
        if ctx.role not in HEADS:
            return [
                ctx.reply(
                    "denied",
                    command="sla",
                    roles=sorted(HEADS),
                    role=ctx.role,
                    user_id=ctx.sender_id,
                )
            ]
        if change.value.startswith("ngoaigio:"):
            group.out_of_hours_reply = change.value.endswith(":on")
            return await _changed(ctx, "sla", change.value)
        group.sla_first_response = change.value or None
        return await _changed(ctx, "sla", change.value or "default")
    clock = await open_clock(ctx.db, group_id=group.group_id)
    section = await api_section(ctx.db, group)
    limit = first_response(ctx.settings, group)
    return [
        ctx.reply(
            "sla_status",
            limit=_minutes(limit),
            own_limit=bool(group.sla_first_response),
            hours=group.working_hours or ctx.settings.working_hours,
            own_hours=bool(group.working_hours),
            clock=clock,
            breaches=section["sla"]["breaches"],
        )
    ]


@command("workhours", aliases=("giolamviec", "giolam"), parse=parse_hours, roles=HEADS)
async def workhours(ctx: Context, change: Change) -> list[Intent]:
    """Set the group's own working hours, or go back to the company's."""
    assert ctx.group is not None
    ctx.group.working_hours = change.value or None
    return await _changed(ctx, "workhours", change.value or "default")


async def _changed(ctx: Context, what: str, value: str) -> list[Intent]:
    assert ctx.group is not None
    ctx.group.updated_at = ctx.now
    ctx.db.add(ctx.group)
    await repo.audit(
        ctx.db,
        at=ctx.now,
        actor_id=ctx.sender_id,
        action=f"{what}.changed",
        group_id=ctx.group.group_id,
        value=value,
    )
    return [ctx.reply("sla_changed", what=f"{what} = {value}")]


def _minutes(limit: timedelta | None) -> int | None:
    return None if limit is None else int(limit.total_seconds() // 60)
