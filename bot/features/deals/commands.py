"""/stage, /won, /lost and /handover: the deal's life and who is in charge of it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import col, select

from bot.core.audience import ids_with_role, invite_missing
from bot.core.commands import UsageError, command
from bot.core.context import Context
from bot.core.intents import Intent, SendGroup
from bot.core.text import fold
from bot.features.deals import rule as deals
from bot.features.sla import rule as sla
from storage import repo
from storage.models import Incident, Interaction, Payment, Reminder

STAGE_WORDS = {
    **{stage.replace("_", ""): stage for stage in deals.STAGES},
    "moi": "new",
    "baogia": "quoting",
    "chotdon": "won",
    "thang": "won",
    "dachot": "won",
    "dagiao": "fulfilled",
    "hoanthanh": "fulfilled",
    "giaohang": "fulfilled",
    "haumai": "after_sales",
    "chamsoc": "after_sales",
    "thatbai": "lost",
    "mat": "lost",
}
DEAL_ROLES = frozenset({"sales", "sales_head", "admin"})


@dataclass(frozen=True)
class StageArgs:
    stage: str
    reason: str | None = None


def parse_stage(raw: str) -> StageArgs:
    word, _, rest = raw.strip().partition(" ")
    stage = STAGE_WORDS.get(fold(word).replace("_", "").replace("-", ""))
    if stage is None:
        raise UsageError("deal_bad_stage")
    if stage == "lost":
        return parse_lost(rest)
    return StageArgs(stage)


def parse_won(raw: str) -> StageArgs:
    return StageArgs("won", raw.strip() or None)


def parse_lost(raw: str) -> StageArgs:
    if not raw.strip():
        raise UsageError("deal_lost_reason")
    return StageArgs("lost", raw.strip())


def parse_handover(raw: str) -> str:
    if not raw.strip():
        raise UsageError("handover_whom")
    return raw.strip()


def _not_yours(ctx: Context) -> bool:
    """A sales may only act on their own customers; heads on any."""
    assert ctx.group is not None
    owner = ctx.group.assigned_sales_id
    return ctx.role == "sales" and owner is not None and owner != ctx.sender_id


@command("stage", aliases=("giaidoan",), parse=parse_stage, roles=DEAL_ROLES)
async def stage(ctx: Context, args: StageArgs) -> list[Intent]:
    """Move the deal to another stage."""
    return await _move(ctx, args)


@command("won", aliases=("chotdon", "chot"), parse=parse_won, roles=DEAL_ROLES)
async def won(ctx: Context, args: StageArgs) -> list[Intent]:
    """The contract is closed: stage won, departments invited."""
    return await _move(ctx, args)


@command("lost", aliases=("thatbai", "huydon"), parse=parse_lost, roles=DEAL_ROLES)
async def lost(ctx: Context, args: StageArgs) -> list[Intent]:
    """The deal is lost, with the reason."""
    return await _move(ctx, args)


async def _move(ctx: Context, args: StageArgs) -> list[Intent]:
    group = ctx.group
    assert group is not None
    if _not_yours(ctx):
        return [ctx.reply("stage_refused", reason="not_yours", user_id=ctx.sender_id, current=None)]
    if refusal := deals.transition(group.stage, args.stage, ctx.role):
        return [
            ctx.reply("stage_refused", reason=refusal, user_id=ctx.sender_id, current=group.stage)
        ]
    before, group.stage, group.updated_at = group.stage, args.stage, ctx.now
    group.lost_reason = args.reason if args.stage == "lost" else None
    ctx.db.add(group)
    await repo.audit(
        ctx.db,
        at=ctx.now,
        actor_id=ctx.sender_id,
        group_id=group.group_id,
        action="deal.stage",
        before=before,
        after=args.stage,
        reason=args.reason,
    )
    invited, intents = ([], []) if args.stage != "won" else await deals.invite_departments(ctx)
    return [
        ctx.reply(
            "stage_changed", before=before, after=args.stage, reason=args.reason, invited=invited
        ),
        *intents,
    ]


# Long on purpose: the handover's steps as regulation 3.4 lists them, in that order.
@command("handover", aliases=("bangiao",), parse=parse_handover, roles=DEAL_ROLES)
async def handover(ctx: Context, ref: str) -> list[Intent]:
    """Hand the customer to another sales: summary, introduction, invite, follow-ups."""
    group = ctx.group
    assert group is not None
    new = await repo.find_staff(ctx.db, ref=ref, fold=fold)
    if new is None or not new.active or new.role not in ("sales", "sales_head"):
        return [
            ctx.reply("handover_refused", reason="unknown_staff", ref=ref, user_id=ctx.sender_id)
        ]
    if _not_yours(ctx) or new.zalo_user_id == group.assigned_sales_id:
        reason = "not_yours" if _not_yours(ctx) else "same_sales"
        return [ctx.reply("handover_refused", reason=reason, ref=ref, user_id=ctx.sender_id)]
    old_id = group.assigned_sales_id
    old = await repo.get_staff(ctx.db, user_id=old_id) if old_id else None
    summary = await _summary(ctx)
    group.assigned_sales_id, group.updated_at = new.zalo_user_id, ctx.now
    ctx.db.add(group)
    await sla.reassign(ctx.db, group_id=group.group_id, owner_id=new.zalo_user_id)
    heads = await ids_with_role(ctx.db, "sales_head")
    _, invites = await invite_missing(
        ctx.db,
        group_id=group.group_id,
        user_ids=[new.zalo_user_id],
        reason="handover",
        notify=ctx.sender_id,
        also_notify=tuple(heads),
    )
    await _follow_ups(ctx, [*heads, new.zalo_user_id], new.name, summary["customer"])
    await repo.audit(
        ctx.db,
        at=ctx.now,
        actor_id=ctx.sender_id,
        group_id=group.group_id,
        action="deal.handover",
        before=old_id,
        after=new.zalo_user_id,
    )
    return [
        SendGroup(
            group.group_id,
            "handover_summary",
            {**summary, "old_name": old.name if old else None, "new_name": new.name},
        ),
        SendGroup(
            group.group_id,
            "handover_intro",
            {
                "new_id": new.zalo_user_id,
                "new_name": new.name,
                "old_name": old.name if old else None,
            },
        ),
        *invites,
    ]


async def _summary(ctx: Context) -> dict[str, object]:
    assert ctx.group is not None
    group_id = ctx.group.group_id
    customer = await repo.get_customer(ctx.db, customer_id=ctx.group.customer_id)
    payments = (
        await ctx.db.exec(
            select(Payment).where(Payment.group_id == group_id, Payment.status == "pending")
        )
    ).all()
    incidents = (
        await ctx.db.exec(
            select(Incident).where(Incident.group_id == group_id, Incident.status != "resolved")
        )
    ).all()
    interactions = (
        await ctx.db.exec(
            select(Interaction)
            .where(Interaction.group_id == group_id)
            .order_by(col(Interaction.at).desc())
            .limit(5)
        )
    ).all()
    return {
        "customer": customer.name if customer else None,
        "customer_row": customer,
        "stage": ctx.group.stage,
        "payments": list(payments),
        "incidents": list(incidents),
        "interactions": list(interactions),
    }


async def _follow_ups(ctx: Context, people: list[str], new_name: str, customer: object) -> None:
    assert ctx.group is not None
    due = ctx.calendars.for_group(ctx.group).add(
        ctx.now, ctx.settings.duration("handover_followup")
    )
    for person in dict.fromkeys(people):
        ctx.db.add(
            Reminder(
                due_at=due,
                group_id=ctx.group.group_id,
                user_id=person,
                template="handover_followup",
                context={
                    "group_id": ctx.group.group_id,
                    "customer": customer,
                    "new_name": new_name,
                },
            )
        )
