"""One event, start to finish: transcript -> rules -> the command -> outbox rows.

Runs inside the event's transaction (the inbox commits it), so an event has all its effects
or none, and a redelivered or retried event can never have them twice.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.calendars import Calendars
from bot.core.clock import Clock
from bot.core.commands import UsageError, lookup, split_command, suggest
from bot.core.context import Context
from bot.core.enqueue import enqueue
from bot.core.intents import Intent
from bot.core.render import Renderer
from bot.core.rules import Rule, fan_out, guard
from bot.zalo.events import Kind, ZaloEvent, as_object
from config.settings import Settings
from storage import repo
from storage.models import CommandRun, GroupMember, Staff

log = logging.getLogger(__name__)

_MESSAGES = frozenset({Kind.GROUP_MESSAGE, Kind.USER_MESSAGE, Kind.OA_GROUP_ECHO, Kind.OA_ECHO})
_OUTGOING = frozenset({Kind.OA_GROUP_ECHO, Kind.OA_ECHO})
_LIFECYCLE_ACTIONS = {
    Kind.GROUP_CREATED: "group.created",
    Kind.MEMBER_JOINED: "group.member_joined",
    Kind.MEMBER_LEFT: "group.member_left",
    Kind.GROUP_REMOVED: "group.removed",
    Kind.FOLLOW: "oa.follow",
    Kind.UNFOLLOW: "oa.unfollow",
}


@dataclass(frozen=True)
class Deps:
    settings: Settings
    clock: Clock
    renderer: Renderer
    calendars: Calendars
    # the rules switched on, in order (bot/app/registry.py); the core imports none of them
    rules: tuple[Rule, ...] = ()


# Long on purpose: one event start to finish on the hot path, its steps in order.
async def process_event(
    db: AsyncSession,
    event: ZaloEvent,
    deps: Deps,
    *,
    inbox_id: int | None = None,
    deadline: float | None = None,
) -> list[Intent]:
    """Apply one event to the database and queue the bot's answers; returns the intents.

    `deadline` (time.monotonic()): checked between the steps; past it EventTooSlow is raised.
    An event for another OA (its oa_id is not ZALO_OA_ID) is kept in the inbox and has no
    effect.
    """
    ours = deps.settings.zalo_oa_id
    if ours and event.oa_id and event.oa_id != ours:
        log.info("event %s is for OA %s, not ours: no effect", event.msg_id, event.oa_id)
        return []
    now = deps.clock.now()
    group, created, member, clock = None, False, repo.UNREAD, repo.UNREAD
    recorded = False
    if event.group_id and event.sender_id and event.kind is not Kind.OA_GROUP_ECHO:
        # the common case, a group message: what it needs read in one query, which on
        # PostgreSQL also stores the message in the transcript
        incoming = _transcript(event) if event.kind is Kind.GROUP_MESSAGE else None
        (group, member, sender, clock), recorded = await repo.sender_in_group(
            db, group_id=event.group_id, user_id=event.sender_id, transcript=incoming
        )
        if group is None:
            group, created = await repo.add_group(db, group_id=event.group_id, now=now), True
    else:
        sender = await repo.get_staff(db, user_id=event.sender_id) if event.sender_id else None
        if event.group_id and event.kind is not Kind.OA_GROUP_ECHO:
            group, created = await repo.ensure_group(db, group_id=event.group_id, now=now)
    ctx = Context(
        event=event,
        db=db,
        now=now,
        settings=deps.settings,
        renderer=deps.renderer,
        sender=sender,
        group=group,
        calendars=deps.calendars,
        group_is_new=created,
        sla_clock=clock,
        deadline=deadline,
    )
    await record(ctx, sender_member=member, recorded=recorded)
    intents = await fan_out(deps.rules, ctx)
    intents += await run_command(ctx, deps.rules)
    ctx.check_budget("the command")
    await enqueue(
        db, intents, renderer=deps.renderer, locale=ctx.locale, now=now, source_event_id=inbox_id
    )
    return intents


def _transcript(event: ZaloEvent) -> dict[str, Any]:
    """The message's transcript columns but direction and sender_kind (see record)."""
    return {
        "msg_id": event.msg_id or "",
        "group_id": event.group_id,
        "user_id": event.sender_id or "oa",
        "event_name": event.name,
        "text": event.text,
        "quote_msg_id": event.quote_msg_id,
        "attachments": [{"type": a.type, "payload": a.payload} for a in event.attachments],
        "zalo_timestamp": event.timestamp,
        "sent_at": event.at,
    }


# Long on purpose: the record of every kind of event, one branch each.
async def record(
    ctx: Context, *, sender_member: GroupMember | None = repo.UNREAD, recorded: bool = False
) -> None:
    """Keep the transcript and the group's membership; lifecycle events go to the audit log.

    `sender_member`: the sender's GroupMember row in the event's group as just read (None: not
    there), when process_event read it. `recorded`: the transcript row is stored already.
    """
    event = ctx.event
    if event.kind in (Kind.USER_MESSAGE, Kind.FOLLOW) and ctx.sender is not None:
        _can_receive_again(ctx.sender)
    if event.kind in _MESSAGES:
        outgoing = event.kind in _OUTGOING
        if event.group_id and event.sender_id and not outgoing:
            await repo.mark_member(
                ctx.db,
                group_id=event.group_id,
                user_id=event.sender_id,
                now=ctx.now,
                member=sender_member,
            )
        if not recorded:
            await repo.insert_message(
                ctx.db,
                **_transcript(event),
                direction="out" if outgoing else "in",
                sender_kind="oa" if outgoing else ("staff" if ctx.is_staff else "customer"),
            )
        return
    if event.kind is Kind.REACTION:
        await _record_reaction(ctx)
        return
    if event.kind in (Kind.MEMBER_JOINED, Kind.MEMBER_LEFT) and event.group_id:
        for user_id in event.member_ids:
            await repo.mark_member(
                ctx.db,
                group_id=event.group_id,
                user_id=user_id,
                now=ctx.now,
                present=event.kind is Kind.MEMBER_JOINED,
            )
    if action := _LIFECYCLE_ACTIONS.get(event.kind):
        await repo.audit(
            ctx.db,
            at=ctx.now,
            actor_id=event.sender_id or "zalo",
            action=action,
            group_id=event.group_id,
            event=event.name,
            members=list(event.member_ids),
        )


def _can_receive_again(staff: Staff) -> None:
    """A staff member who writes to the OA 1:1 (or follows it) can receive 1:1 messages again
    (Zalo's 7-day window starts anew)."""
    if staff.dm_blocked_code is not None or staff.dm_blocked_at is not None:
        staff.dm_blocked_code, staff.dm_blocked_at = None, None


async def _record_reaction(ctx: Context) -> None:
    """A reaction goes into the transcript as a line of its own, pointing at the message it
    reacts to (whose msg_id it reuses, so it needs an id of its own), in that message's group."""
    event = ctx.event
    if not event.msg_id:
        return
    reacted = await repo.find_message(ctx.db, msg_id=event.msg_id)
    message = as_object(event.raw.get("message"))
    icon = message.get("react_icon") or message.get("reaction") or message.get("icon")
    outgoing = event.name.startswith("oa_")
    await repo.insert_message(
        ctx.db,
        msg_id=f"react:{event.sender_id or 'oa'}:{event.timestamp}:{event.msg_id}"[:100],
        group_id=reacted.group_id if reacted is not None else event.group_id,
        user_id=event.sender_id or "oa",
        direction="out" if outgoing else "in",
        sender_kind="oa" if outgoing else ("staff" if ctx.is_staff else "customer"),
        event_name=event.name,
        text=str(icon)[:100] if icon else None,
        quote_msg_id=event.msg_id,
        attachments=[],
        zalo_timestamp=event.timestamp,
        sent_at=event.at,
    )


async def run_command(ctx: Context, rules: Sequence[Rule]) -> list[Intent]:
    """Run the staff member's slash-command, if the message is one. Customers' text is chat."""
    event = ctx.event
    if event.kind not in (Kind.GROUP_MESSAGE, Kind.USER_MESSAGE) or not ctx.is_staff:
        return []
    invocation = split_command(event.text)
    if invocation is None:
        return []
    spec = lookup(invocation.word)
    name = spec.name if spec else invocation.word[:40]
    intents, outcome = await _dispatch(ctx, rules, invocation.word, invocation.args)
    await repo.record_command(
        ctx.db,
        run=CommandRun(
            group_id=event.group_id,
            user_id=ctx.sender_id,
            msg_id=event.msg_id,
            name=name,
            text=(event.text or "")[:2000],
            outcome=outcome,
            at=ctx.now,
        ),
    )
    return intents


async def _dispatch(
    ctx: Context, rules: Sequence[Rule], word: str, raw_args: str
) -> tuple[list[Intent], str]:
    spec = lookup(word)
    who = {"user_id": ctx.sender_id, "typed": word}
    if spec is None:
        return [ctx.reply("unknown_command", word=word, suggestion=suggest(word), **who)], "unknown"
    if not spec.allows(ctx.role):
        return [
            ctx.reply("denied", command=spec.name, roles=sorted(spec.roles), role=ctx.role, **who)
        ], "denied"
    if spec.group_only and ctx.group is None:
        return [ctx.reply("group_only", command=spec.name, **who)], "denied"
    try:
        args = spec.parse(raw_args)
        if (refusal := await guard(rules, ctx, spec, args)) is not None:
            return refusal, "blocked"
        async with ctx.db.begin_nested():  # a failing handler leaves nothing half-written
            return await spec.handle(ctx, args), "ok"
    except UsageError as exc:
        return [ctx.reply("usage", command=spec.name, reason=exc.text(ctx.locale), **who)], "usage"
    except Exception:
        log.exception("command /%s failed on event %s", spec.name, ctx.event.msg_id)
        return [ctx.reply("command_failed", command=spec.name, **who)], "error"
