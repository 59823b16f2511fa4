"""The payment gate (regulation 3.3 and 5): only accounting confirms payments and credit terms.

Policy:
* A payment or credit request (/pay, /credit) waits for accounting. An accountant approves it;
  from PAYMENT_CHIEF_THRESHOLD up the accountant approves first and the chief accountant then
  gives the final approval. Any accounting member may reject a pending request, with a reason.
* Nobody decides their own request; a decided request stays decided; nobody outside accounting
  decides at all.
* A staff reply quoting the bot's request with an approval word ("duyệt", "ok", "đồng ý" …) or
  "từ chối <lý do>" is a decision. When in doubt (a question, "chưa", "để em kiểm tra", a
  request to someone else) nothing happens: /duyet <id> is always there. Sales staff replying
  with an approval word is an attempt to confirm it themselves: refused, recorded as a serious
  violation and reported to the heads.
* /confirm and /ship are blocked until the group has enough approved (with an amount, approved
  payments and credit must add up to it; without, one approval is enough): a minor violation,
  reported to the heads.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.core import audience as common
from bot.core.intents import Intent, SendGroup
from bot.features.payments.policy import (
    ACCOUNTING,
    GATED,
    HEAD_ROLES,
    NOT_ACCOUNTING,
    SELF_APPROVAL,
    SELF_CONFIRM_ROLES,
    Outcome,
    PaymentState,
    apply_decision,
    covered,
    decide,
)
from bot.features.payments.queries import (
    find_payment,
    group_payments,
    names_of,
    quoted_payment,
    view,
)
from bot.features.payments.replies import read_bare, read_reply
from bot.features.payments.sweep import due as due
from bot.features.payments.sweep import sweep as sweep
from bot.zalo.events import Kind
from storage import repo
from storage.models import Group, Payment, Violation

if TYPE_CHECKING:
    from bot.core.commands import CommandSpec
    from bot.core.context import Context


# ---------------------------------------------------------------- decisions (pure)


# ---------------------------------------------------------------- replies (pure)


def waits_for(payment: Payment, user_id: str, role: str | None, approve: bool) -> bool:
    """Whether `payment` waits for this accounting member's decision (not their own request;
    to approve, at the stage their role decides; any pending one may be rejected)."""
    if payment.status != "pending" or payment.requested_by == user_id or role not in ACCOUNTING:
        return False
    if not approve:
        return True
    if payment.needs_chief and payment.accountant_id is not None:
        return role == "chief_accountant" and payment.accountant_id != user_id
    return payment.accountant_id is None and (role == "accountant" or not payment.needs_chief)


async def _unquoted(ctx: Context) -> list[Intent]:
    """'duyệt' or 'từ chối <lý do>' from accounting without a quote: decides the one request
    waiting for them in the group; with several, nothing is decided and they are listed."""
    reply = read_bare(ctx.event.text) if ctx.role in ACCOUNTING else None
    if reply is None or ctx.event.group_id is None:
        return []
    payments = await group_payments(ctx.db, group_id=ctx.event.group_id)
    waiting = [p for p in payments if waits_for(p, ctx.sender_id, ctx.role, reply.approve)]
    if len(waiting) == 1:
        payment = await find_payment(
            ctx.db, payment_id=waiting[0].id or 0, group_id=ctx.event.group_id
        )
        if payment is None:
            return []
        return await settle(ctx, payment, approve=reply.approve, reason=reply.reason)
    if not waiting:
        return []
    return [
        ctx.reply(
            "payment_which",
            approve=reply.approve,
            payments=[view(p) for p in waiting],
            user_id=ctx.sender_id,
        )
    ]


# ---------------------------------------------------------------- the rule


async def on_event(ctx: Context) -> list[Intent]:
    """A staff reply quoting a payment request is a decision on it; so is a plain "duyệt" from
    accounting when exactly one request waits for them in the group."""
    event = ctx.event
    if event.kind is not Kind.GROUP_MESSAGE or not ctx.is_staff or not event.group_id:
        return []
    if (event.text or "").lstrip().startswith("/"):
        return []
    if not event.quote_msg_id:
        return await _unquoted(ctx)
    reply = read_reply(event.text)
    if reply is None:
        return []
    payment = await quoted_payment(ctx.db, event.quote_msg_id, event.group_id)
    if payment is None:
        return []
    if payment.status != "pending" and ctx.role not in ACCOUNTING:
        return []  # "ok, cảm ơn" from the sales after the decision: nothing to answer
    return await settle(ctx, payment, approve=reply.approve, reason=reply.reason)


async def guard(ctx: Context, spec: CommandSpec, args: object) -> list[Intent] | None:
    """Block /confirm and /ship until accounting has approved enough in this group."""
    if spec.name not in GATED or ctx.group is None:
        return None
    wanted: int | None = getattr(args, "amount", None)
    payments = await group_payments(ctx.db, group_id=ctx.group.group_id)
    approved = [p.amount for p in payments if p.status == "approved"]
    if covered(approved, wanted):
        return None
    detail = {"command": spec.name, "amount": wanted, "approved_total": sum(approved)}
    await repo.audit(
        ctx.db, at=ctx.now, actor_id=ctx.sender_id, action="payment.blocked",
        group_id=ctx.group.group_id, **detail,
    )  # fmt: skip
    pending = [view(p) for p in payments if p.status == "pending"]
    refusal: list[Intent] = [
        ctx.reply("payment_blocked", user_id=ctx.sender_id, pending=pending, **detail)
    ]
    return refusal + await _violation(ctx, GATED[spec.name], "minor", None, **detail)


async def settle(
    ctx: Context, payment: Payment, *, approve: bool, reason: str | None = None
) -> list[Intent]:
    """Apply the sender's approval or rejection of `payment` and say what came of it."""
    decision = decide(
        PaymentState.of(payment),
        decider_id=ctx.sender_id,
        role=ctx.role,
        approve=approve,
        reason=reason,
    )
    if decision.outcome is Outcome.REFUSED:
        assert decision.refusal is not None
        return await _refused(ctx, payment, decision.refusal, approve)
    apply_decision(
        payment, decision, decider_id=ctx.sender_id, role=ctx.role, now=ctx.now, reason=reason
    )
    ctx.db.add(payment)
    action = {
        Outcome.APPROVED: "payment.approved",
        Outcome.WAITING_CHIEF: "payment.accountant_approved",
        Outcome.REJECTED: "payment.rejected",
    }[decision.outcome]
    await _audit(ctx, action, payment, reason=payment.reject_reason)
    return await _announce(ctx, payment, decision.outcome)


async def _refused(ctx: Context, payment: Payment, code: str, approve: bool) -> list[Intent]:
    self_confirm = approve and (
        code == SELF_APPROVAL or (code == NOT_ACCOUNTING and ctx.role in SELF_CONFIRM_ROLES)
    )
    await _audit(
        ctx, "payment.refused", payment, refusal=code, attempted="approve" if approve else "reject",
        text=ctx.event.text, violation=self_confirm,
    )  # fmt: skip
    intents: list[Intent] = [
        ctx.reply(
            "payment_refused",
            reason=code,
            payment=view(payment),
            payment_id=payment.id,
            names=await names_of(ctx.db, payment),
            user_id=ctx.sender_id,
        )
    ]
    if self_confirm:
        intents += await _violation(
            ctx, "self_confirm_attempt", "serious", payment, refusal=code, text=ctx.event.text
        )
    return intents


async def _announce(ctx: Context, payment: Payment, outcome: Outcome) -> list[Intent]:
    context = {"payment": view(payment), "names": await names_of(ctx.db, payment)}
    if outcome is not Outcome.WAITING_CHIEF:
        template = "payment_approved" if outcome is Outcome.APPROVED else "payment_rejected"
        return [ctx.reply(template, **context)]
    chiefs = await common.ids_with_role(ctx.db, "chief_accountant")
    return [
        SendGroup(
            payment.group_id,
            "payment_waiting_chief",
            {**context, "chiefs": chiefs},
            quote_msg_id=ctx.event.msg_id,
            notify_user_id=ctx.sender_id,
            ref={"payment_id": payment.id},
        )
    ]


async def _violation(
    ctx: Context, kind: str, severity: str, payment: Payment | None, **detail: Any
) -> list[Intent]:
    """Record a violation by the sender and tell the heads (never in the customer's group)."""
    group_id = ctx.event.group_id
    if payment is not None:
        detail = {"payment_id": payment.id, "amount": payment.amount, **detail}
    ctx.db.add(
        Violation(
            group_id=group_id,
            staff_id=ctx.sender_id,
            kind=kind,
            severity=severity,
            at=ctx.now,
            detail=detail,
        )
    )
    heads = [h for h in await common.ids_with_role(ctx.db, *HEAD_ROLES) if h != ctx.sender_id]
    alert = {
        "kind": kind,
        "severity": severity,
        "staff_name": ctx.sender.name if ctx.sender else ctx.sender_id,
        "role": ctx.role,
        "group_label": await common.group_label(ctx.db, ctx.event.group_id or "", ctx.group),
        "payment": view(payment) if payment else None,
        "command": detail.get("command"),
        "amount": detail.get("amount"),
        "text": ctx.event.text,
    }
    return common.alert_heads(ctx.settings, heads, "payment_alert", alert)


async def _audit(ctx: Context, action: str, payment: Payment, **detail: Any) -> None:
    await repo.audit(
        ctx.db,
        at=ctx.now,
        actor_id=ctx.sender_id,
        action=action,
        group_id=payment.group_id,
        payment_id=payment.id,
        kind=payment.kind,
        amount=payment.amount,
        **detail,
    )


# ---------------------------------------------------------------- accounting's deadline


def deadlines(ctx: Context, group: Group) -> tuple[datetime, datetime]:
    """When a new request's accountants are reminded and the chief and heads alerted:
    PAYMENT_APPROVAL_SLA and twice it, in the group's working time (regulation 3.2 asks
    accounting to confirm "ngay lập tức")."""
    calendar = ctx.calendars.for_group(group)
    limit = ctx.settings.duration("payment_approval_sla")
    return calendar.add(ctx.now, limit), calendar.add(ctx.now, limit * 2)
