"""Policy guard: sales may not promise credit, payment extensions or discounts on their own.

Policy (regulation 3.3, 5): when a staff member with the role sales writes in a customer group
something that grants what only accounting or the head may grant — credit/debt terms, a later
payment deadline, a discount — and no approval of that kind is on record for the group, the
heads are told (alert group or 1:1) with the message, a minor Violation "policy_promise" is
recorded and the decision audited. Nothing is said in the customer's group.

Detection is deliberately conservative: only promise-like phrasing counts ("em cho anh nợ",
"bên em hỗ trợ công nợ", "anh được giảm 5%", "gia hạn"), never questions, negations ("bên em
không cho nợ") or requests for approval ("để em xin kế toán gia hạn"). Slash-commands are not
promises. Approvals are looked up through APPROVALS, one function per promise kind.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core import audience as common
from bot.core.audience import group_label
from bot.core.commands import split_command
from bot.core.intents import Intent
from bot.core.text import fold
from bot.zalo.events import Kind
from storage import repo
from storage.models import AuditEntry, Payment, Violation

if TYPE_CHECKING:
    from bot.core.context import Context

KINDS = ("credit", "deadline", "discount")
MAX_QUOTE = 500

_WHO = (
    r"(?:anh chi|anh|chi|a|c|ac|ban|quy khach|khach|minh|ben (?:anh|chi)|cong ty (?:anh|chi)"
    r"|cty (?:anh|chi)|shop)"
)
_MONEY = r"\d+(?:[.,]\d+)? ?(?:%|phan tram|k\b|nghin|ngan|tr\b|trieu)"
# Matched on fold()-ed sentences. "no" alone is nợ, nó or no, so it needs a person before it.
_PROMISES: dict[str, re.Pattern[str]] = {
    "credit": re.compile(
        rf"\bcho {_WHO} (?:ghi )?no\b"
        rf"|\bcho (?:{_WHO} )?(?:cong no|goi dau|tra cham|tra sau|no \d+ ngay)\b"
        rf"|\b(?:ho tro|mo|ap dung|duoc|dong y) (?:{_WHO} )?(?:cong no|goi dau|tra cham|tra sau)\b"
        r"|\b(?:tra|thanh toan|tt|chuyen khoan) (?:sau|cham|gop|dan)\b(?! khi)"
        r"|\b(?:tra|thanh toan|tt) (?:trong|trong vong) \d+ ngay\b"
        r"|\bno (?:them )?\d+ ngay\b|\bgoi dau\b"
    ),
    "deadline": re.compile(
        rf"\bgia han\b|\b(?:lui|keo dai|gian) (?:\w+ ){{0,2}}han\b"
        r"|\bhan thanh toan (?:\w+ ){0,3}(?:sang|lui|them)\b"
        rf"|\bcho (?:{_WHO} )?them (?:\d+|vai|mot|may) (?:ngay|tuan|thang)\b"
    ),
    "discount": re.compile(
        r"\bduoc (?:giam|chiet khau|bot|khuyen mai|tang them|uu dai)\b"
        r"|\b(?:em|ben em|minh|cong ty|cty|shop) (?:se )?(?:giam|bot|chiet khau|tang them"
        r"|khuyen mai them|ho tro (?:giam|gia|chiet khau|ck|them))\b"
        rf"|\bcho (?:{_WHO} )?(?:giam|bot|chiet khau|ck|khuyen mai|uu dai)\b"
        rf"|\b(?:ck|chiet khau|giam|bot) {_MONEY}"
        rf"|\bbot cho {_WHO}\b|\bkhuyen mai them\b"
    ),
}
# A promise preceded by these words is refused ("không cho nợ") or asked for ("xin gia hạn").
_NOT_GRANTED = {
    *("khong", "ko", "kg", "khg", "k", "hong", "hok", "chua", "chang", "cha", "dung"),
    *("xin", "hoi", "trinh", "de xuat", "duyet"),
}
_REFUSED_AFTER = re.compile(r"^\W*(?:khong|ko|k|kg) (?:duoc|the)\b|^\W*duoc (?:khong|ko|k)\b")
_QUESTION_END = re.compile(
    r"\b(?:khong|ko|kg|khg|hok|chua|nao|gi|sao|bao nhieu|duoc khong)(?: (?:a|ah|vay|the|nhi))?$"
)
_OFFER_END = re.compile(r"\b(?:nhe|nha|nhen|ha|nghe)$")
_SENTENCE = re.compile(r"[^!?;\n]+?(?:[!?;\n]+|\.(?=\s|$)|$)")


def _sentences(text: str) -> list[tuple[str, bool]]:
    """(folded sentence, ends with '?') for each sentence of `text`."""
    text = unicodedata.normalize("NFC", text)
    found = []
    for match in _SENTENCE.finditer(text):
        raw = match.group().strip()
        folded = " ".join(re.sub(r"[^\w%]+", " ", fold(raw)).split())
        if folded:
            found.append((folded, raw.endswith("?")))
    return found


def _is_question(folded: str, asked: bool) -> bool:
    return bool(_QUESTION_END.search(folded)) or (asked and not _OFFER_END.search(folded))


def _granted(sentence: str, match: re.Match[str]) -> bool:
    """Whether the words around a match keep it a promise (no negation, request or refusal)."""
    before = sentence[: match.start()].split()[-3:]
    pairs = {" ".join(before[i : i + 2]) for i in range(len(before) - 1)}
    if _NOT_GRANTED & (set(before) | pairs):
        return False
    return not _REFUSED_AFTER.search(sentence[match.end() :])


def promises(text: str | None) -> str | None:
    """What a staff message promises that needs approval: credit, deadline, discount, or None."""
    if not text or split_command(text) is not None:
        return None
    for sentence, asked in _sentences(text):
        if _is_question(sentence, asked):
            continue
        for kind, pattern in _PROMISES.items():
            if any(_granted(sentence, m) for m in pattern.finditer(sentence)):
                return kind
    return None


# --- approvals on record ----------------------------------------------------------------------


async def _credit_approved(db: AsyncSession, group_id: str) -> bool:
    query = select(Payment.id).where(
        Payment.group_id == group_id, Payment.kind == "credit", Payment.status == "approved"
    )
    return (await db.exec(query.limit(1))).first() is not None


async def _discount_approved(db: AsyncSession, group_id: str) -> bool:
    query = select(AuditEntry.id).where(
        AuditEntry.group_id == group_id, AuditEntry.action == "discount.approved"
    )
    return (await db.exec(query.limit(1))).first() is not None


Approval = Callable[[AsyncSession, str], Awaitable[bool]]
APPROVALS: dict[str, Approval] = {
    "credit": _credit_approved,
    "deadline": _credit_approved,
    "discount": _discount_approved,
}


# --- the rule ---------------------------------------------------------------------------------


async def on_event(ctx: Context) -> list[Intent]:
    """Flag a sales promise made without approval to the heads; silent in the group."""
    event = ctx.event
    if event.kind is not Kind.GROUP_MESSAGE or ctx.role != "sales" or not event.group_id:
        return []
    if not common.is_customer_group(ctx.settings, event.group_id):
        return []
    kind = promises(event.text)
    if kind is None or await APPROVALS[kind](ctx.db, event.group_id):
        return []
    return await _flag(ctx, kind, event.group_id)


async def _flag(ctx: Context, kind: str, group_id: str) -> list[Intent]:
    """Record the unapproved promise (violation, audit) and tell the heads."""
    assert ctx.sender is not None
    text = (ctx.event.text or "")[:MAX_QUOTE]
    detail = {"promise": kind, "text": text, "msg_id": ctx.event.msg_id}
    violation = Violation(
        group_id=group_id,
        staff_id=ctx.sender_id,
        kind="policy_promise",
        severity="minor",
        at=ctx.now,
        detail=detail,
    )
    ctx.db.add(violation)
    await repo.audit(
        ctx.db,
        at=ctx.now,
        actor_id=ctx.sender_id,
        action="policy.promise_flagged",
        group_id=group_id,
        **detail,
    )
    heads = await common.ids_with_role(ctx.db, "sales_head")
    heads = heads or await common.ids_with_role(ctx.db, "admin")
    context = {
        **detail,
        "sales_id": ctx.sender_id,
        "sales_name": ctx.sender.name,
        "group_id": group_id,
        "group_name": await group_label(ctx.db, group_id),
        "in_group": bool(ctx.settings.zalo_alert_group_id),
    }
    return common.alert_heads(ctx.settings, heads, "policy_promise", context)
