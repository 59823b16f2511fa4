"""Reading payments: a group's requests, one by number or by the bot message it quotes, their
names and terms as shown, and the group's payments section of GET /api/groups/{id}."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import repo
from storage.models import Group, Payment


async def group_payments(db: AsyncSession, *, group_id: str) -> list[Payment]:
    """The group's payment and credit requests, oldest first."""
    query = select(Payment).where(Payment.group_id == group_id).order_by(col(Payment.id))
    return list((await db.exec(query)).all())


async def find_payment(db: AsyncSession, *, payment_id: int, group_id: str) -> Payment | None:
    """Request #payment_id, if it belongs to this group; locked until the event commits."""
    payment = await db.get(Payment, payment_id, with_for_update=True)
    return payment if payment is not None and payment.group_id == group_id else None


async def quoted_payment(db: AsyncSession, quote_msg_id: str, group_id: str) -> Payment | None:
    sent = await repo.find_bot_message(db, zalo_message_id=quote_msg_id)
    payment_id = sent.payload.get("payment_id") if sent else None
    if not isinstance(payment_id, int):
        return None
    return await find_payment(db, payment_id=payment_id, group_id=group_id)


async def names_of(db: AsyncSession, payment: Payment) -> dict[str, str]:
    """Display names of the people on a request (their Zalo id when not staff)."""
    ids = (payment.requested_by, payment.accountant_id, payment.chief_id, payment.decided_by)
    names: dict[str, str] = {}
    for user_id in filter(None, ids):
        staff = await repo.get_staff(db, user_id=user_id)
        names[user_id] = staff.name if staff else user_id
    return names


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
