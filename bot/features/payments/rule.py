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

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core import audience as common
from bot.core.intents import Intent, SendGroup, SendUser
from bot.core.text import fold
from bot.zalo.events import Kind
from storage import repo
from storage.models import Group, Payment, Violation

if TYPE_CHECKING:
    from bot.core.commands import CommandSpec
    from bot.core.context import Context

ACCOUNTING = frozenset({"accountant", "chief_accountant"})
SELF_CONFIRM_ROLES = frozenset({"sales", "sales_head"})  # whose "ok" is a violation
HEAD_ROLES = ("sales_head", "admin")
GATED = {"confirm": "confirm_before_approval", "ship": "ship_before_approval"}

# Refusal codes: the `reason` of the payment_refused template.
SELF_APPROVAL = "self_approval"
NOT_ACCOUNTING = "not_accounting"
ALREADY_DECIDED = "already_decided"
CHIEF_AFTER_ACCOUNTANT = "chief_required_after_accountant"
ACCOUNTANT_ALREADY_APPROVED = "accountant_already_approved"
REASON_REQUIRED = "reason_required"
NOT_FOUND = "not_found"


# ---------------------------------------------------------------- decisions (pure)


class Outcome(StrEnum):
    APPROVED = "approved"
    WAITING_CHIEF = "accountant_approved_waiting_chief"
    REJECTED = "rejected"
    REFUSED = "refused"


@dataclass(frozen=True)
class PaymentState:
    """What a decision depends on."""

    status: str
    needs_chief: bool
    requested_by: str
    accountant_id: str | None = None
    chief_id: str | None = None

    @classmethod
    def of(cls, payment: Payment) -> PaymentState:
        return cls(
            payment.status,
            payment.needs_chief,
            payment.requested_by,
            payment.accountant_id,
            payment.chief_id,
        )


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    refusal: str | None = None


def _refuse(code: str) -> Decision:
    return Decision(Outcome.REFUSED, code)


def decide(
    state: PaymentState,
    *,
    decider_id: str,
    role: str | None,
    approve: bool,
    reason: str | None = None,
) -> Decision:
    """What `decider_id`, holding `role`, approving (or rejecting with `reason`) comes to."""
    if state.status != "pending":
        return _refuse(ALREADY_DECIDED)
    if decider_id == state.requested_by:
        return _refuse(SELF_APPROVAL)
    if role not in ACCOUNTING:
        return _refuse(NOT_ACCOUNTING)
    if not approve:
        return Decision(Outcome.REJECTED) if (reason or "").strip() else _refuse(REASON_REQUIRED)
    if not state.needs_chief:
        return Decision(Outcome.APPROVED)
    if state.accountant_id is None:
        if role == "accountant":
            return Decision(Outcome.WAITING_CHIEF)
        return _refuse(CHIEF_AFTER_ACCOUNTANT)
    if role == "chief_accountant" and decider_id != state.accountant_id:
        return Decision(Outcome.APPROVED)
    return _refuse(ACCOUNTANT_ALREADY_APPROVED)


def apply_decision(
    payment: Payment,
    decision: Decision,
    *,
    decider_id: str,
    role: str | None,
    now: datetime,
    reason: str | None = None,
) -> None:
    """Write an accepted decision onto the payment (a refusal changes nothing)."""
    if decision.outcome is Outcome.REFUSED:
        return
    if decision.outcome is Outcome.REJECTED:
        payment.status, payment.reject_reason = "rejected", (reason or "").strip()
    else:
        if role == "chief_accountant":
            payment.chief_id, payment.chief_at = decider_id, now
        else:
            payment.accountant_id, payment.accountant_at = decider_id, now
        if decision.outcome is Outcome.WAITING_CHIEF:
            return
        payment.status = "approved"
    payment.decided_by, payment.decided_at = decider_id, now


def covered(approved_amounts: list[int], wanted: int | None) -> bool:
    """Whether approved payments and credit allow confirming `wanted` (or anything, if None)."""
    return sum(approved_amounts) >= wanted if wanted is not None else bool(approved_amounts)


# ---------------------------------------------------------------- replies (pure)


@dataclass(frozen=True)
class Reply:
    """A staff reply to a request read as a decision."""

    approve: bool
    reason: str | None = None


_APPROVE = re.compile(
    r"(?<!\w)(duyet|ok|oke|okay|oki|okie|dong y|approved?|xac nhan|da nhan)(?!\w)"
)
_REJECT = re.compile(r"(?<!\w)(tu choi|reject(?:ed)?)(?!\w)")
# Right before the approval word: "không đồng ý", "chưa duyệt", "không được duyệt".
_NEGATED = re.compile(r"(?<!\w)(khong|ko|k|hong|chang|chua|not|dont|no)\s+(?:\w+\s+)?$")
# Anywhere: not yet, later, or asking someone else to do it ("chị duyệt giúp em").
_UNSURE = re.compile(
    r"(?<!\w)(chua|doi|de em|lat nua|ti nua|xiu|bao lai|bao sau|giup|dum|nho|xin|vui long"
    r"|can|oi|voi|(?<!da )(?:kiem tra|check|xem))(?!\w)"
)
_QUESTION_ENDINGS = {"khong", "ko", "k", "hong", "khg", "sao", "nhi", "chua"}
_QUESTION_PARTICLES = {"à", "hả", "hở", "hử"}


def _fold_chars(text: str) -> str:
    """fold() char by char, so indexes in the result match `text`."""
    return "".join((fold(ch) or " ")[0] for ch in text)


def _is_question(text: str, folded: str) -> bool:
    words = folded.split()
    last = text.split()[-1].lower() if text.split() else ""
    return (
        "?" in text
        or (bool(words) and words[-1] in _QUESTION_ENDINGS)
        or (last in _QUESTION_PARTICLES)
    )


def read_reply(text: str | None) -> Reply | None:
    """'duyệt' -> approve; 'từ chối sai số tiền' -> reject with that reason; else None."""
    text = unicodedata.normalize("NFC", text or "").strip()
    folded = _fold_chars(text)
    if not text or _is_question(text, folded):
        return None
    if match := _REJECT.search(folded):
        after = text[match.end() :].strip(" :,.-–—")
        before = text[: match.start()].strip(" :,.-–—")
        return Reply(approve=False, reason=after or before or None)
    match = _APPROVE.search(folded)
    if match is None or _NEGATED.search(folded[: match.start()]) or _UNSURE.search(folded):
        return None
    return Reply(approve=True)


# Typed without quoting the request, only these count, alone or with polite words around
# them: "ok" or "đồng ý" are too common in a group to approve money unless they reply to it.
_BARE_APPROVE = frozenset({"duyet", "approve", "approved"})
_BEFORE = frozenset({"da", "vang", "ok", "oke", "em", "chi", "anh", "minh"})
_AFTER = frozenset({"a", "ah", "nhe", "nha", "nhen", "ak", "em", "chi", "anh", "roi", "r"})
_BARE_REJECT = re.compile(r"^\W*(?:tu choi|reject(?:ed)?)(?!\w)")
MAX_BARE = 300  # characters: a decision is short


def read_bare(text: str | None) -> Reply | None:
    """A decision typed without quoting: 'duyệt' (or 'duyet', 'approve', 'dạ duyệt ạ') ->
    approve; a text that starts with 'từ chối' / 'reject' -> reject, with the rest as the
    reason; anything else (a question, 'ok', 'đồng ý', 'khách từ chối nhận') -> None."""
    text = unicodedata.normalize("NFC", text or "").strip()
    if not text or len(text) > MAX_BARE or "?" in text:
        return None
    folded = _fold_chars(text)
    if match := _BARE_REJECT.match(folded):
        reason = text[match.end() :].strip(" :,.-–—")
        return Reply(approve=False, reason=reason or None)
    words = re.sub(r"[^\w]+", " ", folded).split()
    for index, word in enumerate(words):
        if word in _BARE_APPROVE:
            before, after = words[:index], words[index + 1 :]
            if set(before) <= _BEFORE and set(after) <= _AFTER:
                return Reply(approve=True)
            return None
    return None


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
    payment = await _quoted_payment(ctx.db, event.quote_msg_id, event.group_id)
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
            names=await _names(ctx.db, payment),
            user_id=ctx.sender_id,
        )
    ]
    if self_confirm:
        intents += await _violation(
            ctx, "self_confirm_attempt", "serious", payment, refusal=code, text=ctx.event.text
        )
    return intents


async def _announce(ctx: Context, payment: Payment, outcome: Outcome) -> list[Intent]:
    context = {"payment": view(payment), "names": await _names(ctx.db, payment)}
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


def _overdue(now: datetime) -> tuple[Any, ...]:
    """Pending requests with a step due: the reminder or the escalation."""
    return (
        col(Payment.status) == "pending",
        or_(
            and_(col(Payment.reminded_at).is_(None), col(Payment.remind_at) <= now),
            and_(col(Payment.escalated_at).is_(None), col(Payment.escalate_at) <= now),
        ),
    )


async def due(db: AsyncSession, now: datetime, deps: Any) -> bool:
    """Whether `sweep` has a reminder or an escalation to send (read-only probe)."""
    return await common.any_row(db, select(Payment.id).where(*_overdue(now)))


async def sweep(db: AsyncSession, now: datetime, deps: Any) -> list[Intent]:
    """Remind the accountants of a request waiting past PAYMENT_APPROVAL_SLA; at twice it,
    alert the chief accountant and the sales heads (alert group, else 1:1). Each step once
    (a conditional UPDATE claims it)."""
    intents: list[Intent] = []
    for payment in (await db.exec(select(Payment).where(*_overdue(now)).limit(200))).all():
        late = payment.escalate_at is not None and payment.escalate_at <= now
        step = "escalated_at" if late and payment.escalated_at is None else "reminded_at"
        claimed = await db.exec(
            update(Payment)
            .where(
                col(Payment.id) == payment.id,
                col(Payment.status) == "pending",  # not decided meanwhile
                col(getattr(Payment, step)).is_(None),
            )
            .values({step: now, **({"reminded_at": now} if step == "escalated_at" else {})})
        )
        if not claimed.rowcount:
            continue
        context = {
            "payment": view(payment),
            "group_name": await common.group_label(db, payment.group_id),
            "waited_minutes": int((now - payment.requested_at).total_seconds() // 60),
        }
        if step == "reminded_at":
            accountants = await common.ids_with_role(db, "accountant", "chief_accountant")
            intents += [SendUser(a, "payment_overdue", context) for a in accountants]
        else:
            people = await common.ids_with_role(db, "chief_accountant", *HEAD_ROLES)
            intents += common.alert_heads(deps.settings, people, "payment_overdue_alert", context)
        await repo.audit(
            db, at=now, actor_id="bot", action=f"payment.{step.removesuffix('_at')}",
            group_id=payment.group_id, payment_id=payment.id,
        )  # fmt: skip
    return intents


# ---------------------------------------------------------------- storage and views
# Private queries: storage/repo.py has no payment functions yet.


async def group_payments(db: AsyncSession, *, group_id: str) -> list[Payment]:
    """The group's payment and credit requests, oldest first."""
    query = select(Payment).where(Payment.group_id == group_id).order_by(col(Payment.id))
    return list((await db.exec(query)).all())


async def find_payment(db: AsyncSession, *, payment_id: int, group_id: str) -> Payment | None:
    """Request #payment_id, if it belongs to this group; locked until the event commits."""
    payment = await db.get(Payment, payment_id, with_for_update=True)
    return payment if payment is not None and payment.group_id == group_id else None


async def _quoted_payment(db: AsyncSession, quote_msg_id: str, group_id: str) -> Payment | None:
    sent = await repo.find_bot_message(db, zalo_message_id=quote_msg_id)
    payment_id = sent.payload.get("payment_id") if sent else None
    if not isinstance(payment_id, int):
        return None
    return await find_payment(db, payment_id=payment_id, group_id=group_id)


async def _names(db: AsyncSession, payment: Payment) -> dict[str, str]:
    """Display names of the people on a request (their Zalo id when not staff)."""
    ids = (payment.requested_by, payment.accountant_id, payment.chief_id, payment.decided_by)
    names: dict[str, str] = {}
    for user_id in filter(None, ids):
        staff = await repo.get_staff(db, user_id=user_id)
        names[user_id] = staff.name if staff else user_id
    return names


def credit_term(*, days: int | None = None, due: date | None = None) -> str:
    """How a credit term is stored in Payment.method: '30d' or an ISO date."""
    return f"{days}d" if days is not None else (due.isoformat() if due else "")


def _term(payment: Payment) -> tuple[int | None, date | None]:
    method = payment.method or ""
    if payment.kind != "credit" or not method:
        return None, None
    if method.endswith("d") and method[:-1].isdigit():
        return int(method[:-1]), None
    try:
        return None, date.fromisoformat(method)
    except ValueError:
        return None, None


def view(payment: Payment) -> dict[str, Any]:
    """A request as templates see it: plain values, the credit term split out."""
    days, due = _term(payment)
    return {
        "id": payment.id,
        "kind": payment.kind,
        "amount": payment.amount,
        "method": payment.method if payment.kind == "payment" else None,
        "days": days,
        "due": due,
        "note": payment.note,
        "status": payment.status,
        "needs_chief": payment.needs_chief,
        "requested_by": payment.requested_by,
        "requested_at": payment.requested_at,
        "accountant_id": payment.accountant_id,
        "accountant_at": payment.accountant_at,
        "chief_id": payment.chief_id,
        "chief_at": payment.chief_at,
        "decided_by": payment.decided_by,
        "decided_at": payment.decided_at,
        "reject_reason": payment.reject_reason,
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


async def api_section(db: AsyncSession, group: Group) -> dict[str, Any]:
    """The group's requests for GET /api/groups/{group_id}."""
    return {
        "payments": [
            {
                "id": p.id,
                "kind": p.kind,
                "amount": p.amount,
                "status": p.status,
                "needs_chief": p.needs_chief,
                "requested_by": p.requested_by,
                "accountant_id": p.accountant_id,
                "chief_id": p.chief_id,
                "decided_by": p.decided_by,
                "decided_at": _iso(p.decided_at),
                "reject_reason": p.reject_reason,
                "method": p.method,
                "note": p.note,
                "requested_at": _iso(p.requested_at),
            }
            for p in await group_payments(db, group_id=group.group_id)
        ]
    }
