"""Satisfaction: after a problem is fixed or goods are delivered, the customer rates us 1-5.

Policy:
- Occasions (found by `sweep`, from the last 3 days only, so a first start never asks about old
  history): an incident resolved; a deal moved to fulfilled (audit "deal.stage", after
  "fulfilled"); an Order with status "fulfilled" (orders keep no fulfilment time, so one
  purchased within the last 7 days). The ask goes out on the next sweep, after the event's own
  messages (the resolution notice comes first).
- Ref scheme: Rating.reason names the table Rating.ref_id points into: "incident" ->
  incidents.id, "order" -> orders.id, "deal" -> audit_log.id of the "deal.stage" entry.
- One ask per group per 24 h, and an ask covers every occasion in its group before it: several
  occasions close together get one message, and one arriving during the 24 h pause is asked
  about when the pause ends (if still within the 3 days). The newest occasion is the Rating's
  ref. Each ask is claimed once through a ScheduledRun row ("rating.ask", "<group>:<last
  rating id>"), so two processes never ask twice.
- A customer's (never staff's) group message is an answer when it quotes the request and holds
  one score, or is a bare score ("5", "4 sao", "5/5", "điểm 4", "⭐⭐⭐⭐") while the group has a
  rating asked within 3 days and not yet answered (the latest one). A plain digit does not count
  once staff have written in the group since the ask: it likely answers them ("lấy mấy thùng?").
  A bare number with nothing pending is chat. The score is stored once (conditional UPDATE), the
  customer is thanked, and a score of 1-2 alerts the heads (never in the customer's group).
- A rating answer needs no staff reply: the SLA rule should skip it (`is_rating_answer`).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import exists, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.audience import alert_heads, ids_with_role, is_customer_group
from bot.core.intents import Intent, SendGroup
from bot.core.text import fold
from bot.zalo.events import Kind
from storage import repo
from storage.models import AuditEntry, Group, Incident, Message, Order, Rating, ScheduledRun

if TYPE_CHECKING:
    from bot.core.context import Context
    from bot.core.dispatch import Deps

LOOKBACK = timedelta(days=3)  # occasions older than this are never asked about
ORDER_LOOKBACK = timedelta(days=7)  # by purchase time: an order has no fulfilment time
ANSWER_WINDOW = timedelta(days=3)  # a bare score counts for a rating asked this recently
PAUSE = timedelta(hours=24)  # at most one ask per group in this time
LOW_SCORE = 2  # this or lower alerts the heads
CLAIM_JOB = "rating.ask"

# --- reading a score (pure) -------------------------------------------------------------------

_STARS = "⭐★🌟✨"
_LEAD = r"(?:(?:da|vang|minh|em|e|toi|anh|a|chi|c|ben)\s+)*(?:(?:xin\s+)?(?:cho|cham)\s+)?"
_SCORE = r"(?:diem\s*(?P<a>[1-5])|(?P<b>[1-5])\s*(?:/\s*5|\*+|sao|diem)?)"
# Each repetition is one whole word ("a em" is "a" then "em"), and no word is a prefix of
# another followed by a space: one way to read any tail, so matching is linear, never
# exponential (a tail of alternatives that overlapped froze the process, issue #15).
_TAIL = r"(?:\s+(?:a|nhe|nha|nhen|ak|ha|em|ban)\b)*+[\s.!]*"
_BARE = re.compile(rf"^{_LEAD}{_SCORE}{_TAIL}$")
_MARKED = re.compile(r"\bdiem\s*([1-5])\b|\b([1-5])\s*(?:/\s*5\b|\*|sao\b|diem\b)")
_NUMBER = re.compile(r"\b\d+\b")
MAX_BARE = 60  # characters: a bare score is a few words; anything longer is chat
MAX_REPLY = 500  # characters of a reply to the request that are searched for a score


def _normal(text: str) -> str:
    text = unicodedata.normalize("NFC", text).replace("\ufe0f", "")
    return " ".join(fold(text).split())


def _stars(text: str) -> int | None:
    """'⭐⭐⭐⭐' -> 4: a message of nothing but 1-5 stars."""
    squeezed = "".join(text.split())
    if squeezed and all(ch in _STARS for ch in squeezed) and len(squeezed) <= 5:
        return len(squeezed)
    return None


@functools.lru_cache(maxsize=1024)
def read_score(text: str | None) -> int | None:
    """The 1-5 score a whole message gives ('5', '4 sao', '5/5', 'điểm 4', '⭐⭐⭐'), else None."""
    if not text:
        return None
    text = unicodedata.normalize("NFC", text).replace("\ufe0f", "").strip()
    if len(text) > MAX_BARE:
        return None
    if (stars := _stars(text)) is not None:
        return stars
    match = _BARE.match(_normal(text.translate({ord(ch): "*" for ch in _STARS})))
    return int(match["a"] or match["b"]) if match else None


def find_score(text: str | None) -> int | None:
    """The score in a reply to the request: a bare score, else the one marked or lone 1-5."""
    if (score := read_score(text)) is not None or not text:
        return score
    folded = _normal(text[:MAX_REPLY].translate({ord(ch): "*" for ch in _STARS}))
    marked = {int(a or b) for a, b in _MARKED.findall(folded)}
    if len(marked) == 1:
        return marked.pop()
    numbers = _NUMBER.findall(folded)
    return int(numbers[0]) if len(numbers) == 1 and 1 <= int(numbers[0]) <= 5 else None


def is_plain_digit(text: str | None) -> bool:
    """'5': a score that could just as well answer a staff question."""
    return bool(text) and (text or "").strip().rstrip(".!").isdecimal()


# --- sweep: asking ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Occasion:
    reason: str  # incident|deal|order
    ref_id: int
    group_id: str
    at: datetime
    context: dict[str, Any] = field(default_factory=dict)


def _unasked(reason: str, ref: Any, group_id: Any, at: Any) -> list[Any]:
    """No rating for this occasion, and no ask in its group since it happened."""
    return [
        ~exists().where(col(Rating.reason) == reason, col(Rating.ref_id) == ref),
        ~exists().where(col(Rating.group_id) == group_id, col(Rating.asked_at) >= at),
    ]


async def occasions(db: AsyncSession, now: datetime) -> list[Occasion]:
    """Every occasion to ask about, newest first."""
    found: list[Occasion] = []
    query = select(Incident).where(
        col(Incident.resolved_at) >= now - LOOKBACK,
        col(Incident.resolved_at) <= now,
        *_unasked("incident", Incident.id, Incident.group_id, Incident.resolved_at),
    )
    for i in (await db.exec(query)).all():
        assert i.id is not None and i.resolved_at is not None
        ctx = {"incident_id": i.id, "incident_type": i.type}
        found.append(Occasion("incident", i.id, i.group_id, i.resolved_at, ctx))
    query_deals = select(AuditEntry).where(
        AuditEntry.action == "deal.stage",
        col(AuditEntry.group_id).is_not(None),
        col(AuditEntry.at) >= now - LOOKBACK,
        col(AuditEntry.at) <= now,
        *_unasked("deal", AuditEntry.id, AuditEntry.group_id, AuditEntry.at),
    )
    for a in (await db.exec(query_deals)).all():
        if a.detail.get("after") == "fulfilled" and a.id is not None and a.group_id:
            found.append(Occasion("deal", a.id, a.group_id, a.at))
    query_orders = select(Order).where(
        Order.status == "fulfilled",
        col(Order.group_id).is_not(None),
        col(Order.purchased_at) >= now - ORDER_LOOKBACK,
        col(Order.purchased_at) <= now,
        *_unasked("order", Order.id, Order.group_id, Order.purchased_at),
    )
    for o in (await db.exec(query_orders)).all():
        if o.id is not None and o.group_id:
            ctx = {"order_code": o.order_code}
            found.append(Occasion("order", o.id, o.group_id, o.purchased_at, ctx))
    return sorted(found, key=lambda o: o.at, reverse=True)


async def due(db: AsyncSession, now: datetime, deps: Deps) -> bool:
    """Whether `sweep` would ask somewhere at `now`: an unasked occasion in a customer's group
    whose last ask is past the PAUSE (read-only: runtime's probe)."""
    groups = {o.group_id for o in await occasions(db, now)}
    for group_id in sorted(g for g in groups if is_customer_group(deps.settings, g)):
        last = await _last_rating(db, group_id=group_id)
        if last is None or last.asked_at <= now - PAUSE:
            return True
    return False


async def sweep(db: AsyncSession, now: datetime, deps: Deps) -> list[Intent]:
    """Ask each group with an unasked occasion for a rating, at most once per PAUSE."""
    intents: list[Intent] = []
    asked: set[str] = set()
    for occasion in await occasions(db, now):
        if occasion.group_id not in asked and is_customer_group(deps.settings, occasion.group_id):
            asked.add(occasion.group_id)
            intents += await _ask(db, occasion, now)
    return intents


async def _ask(db: AsyncSession, occasion: Occasion, now: datetime) -> list[Intent]:
    last = await _last_rating(db, group_id=occasion.group_id)
    if last is not None and last.asked_at > now - PAUSE:
        return []
    group = await db.get(Group, occasion.group_id)
    if group is None or not await _claim(db, occasion.group_id, last, now):
        return []
    rating = Rating(
        group_id=group.group_id,
        customer_id=group.customer_id,
        staff_id=group.assigned_sales_id,
        reason=occasion.reason,
        ref_id=occasion.ref_id,
        asked_at=now,
    )
    db.add(rating)
    await db.flush()
    await repo.audit(
        db,
        at=now,
        actor_id="bot",
        action="rating.asked",
        group_id=group.group_id,
        rating_id=rating.id,
        reason=occasion.reason,
        ref_id=occasion.ref_id,
    )
    context = {"reason": occasion.reason, "incident_id": None, "incident_type": None}
    context |= {"order_code": None, **occasion.context}
    return [SendGroup(group.group_id, "rating_request", context, ref={"rating_id": rating.id})]


async def _last_rating(db: AsyncSession, *, group_id: str) -> Rating | None:
    query = select(Rating).where(Rating.group_id == group_id)
    return (await db.exec(query.order_by(col(Rating.id).desc()).limit(1))).first()


async def _claim(db: AsyncSession, group_id: str, last: Rating | None, now: datetime) -> bool:
    """Claim 'the ask after `last`' in the group; False when another process has it."""
    period = f"{group_id}:{last.id if last else 0}"
    return await repo.insert_once(
        db, ScheduledRun, unique=["job", "period"], job=CLAIM_JOB, period=period, claimed_at=now
    )


# --- on_event: capturing the answer -----------------------------------------------------------


async def answer_in(ctx: Context) -> tuple[Rating, int] | None:
    """The pending rating this customer message answers and its score, else None.

    Worked out once per event: the SLA rule asks first, this rule's on_event next, and no rule
    between them touches ratings, the bot's sent messages or the transcript.
    """
    if _ANSWER in ctx.memo:
        return ctx.memo[_ANSWER]  # type: ignore[no-any-return]
    ctx.memo[_ANSWER] = found = await _answer_in(ctx)
    return found


_ANSWER = "satisfaction.answer"


async def _answer_in(ctx: Context) -> tuple[Rating, int] | None:
    event, group = ctx.event, ctx.group
    if event.kind is not Kind.GROUP_MESSAGE or ctx.is_staff or not event.text or group is None:
        return None
    if not is_customer_group(ctx.settings, group.group_id):
        return None
    quoted = await _quoted(ctx.db, event.quote_msg_id, group.group_id)
    if quoted is not None:
        score = find_score(event.text)
        return (quoted, score) if score is not None and quoted.score is None else None
    score = read_score(event.text)
    if score is None:
        return None
    rating = await _pending(ctx.db, group_id=group.group_id, since=ctx.now - ANSWER_WINDOW)
    if rating is None:
        return None
    if is_plain_digit(event.text) and await _staff_spoke(ctx.db, group.group_id, rating.asked_at):
        return None
    return rating, score


async def is_rating_answer(ctx: Context) -> bool:
    """True when this message answers a rating request: the SLA rule should not start a clock.

    Right before this rule runs (SLA runs first) and right after it (the answer is stored).
    """
    return ctx.rating_answered or await answer_in(ctx) is not None


async def on_event(ctx: Context) -> list[Intent]:
    """Store a customer's rating, thank them, and alert the heads about a low one."""
    found = await answer_in(ctx)
    if found is None:
        return []
    rating, score = found
    if not await _store(ctx, rating, score):
        return []
    ctx.rating_answered = True
    del ctx.memo[_ANSWER]  # answered now: asked again, the question has another answer
    assert ctx.event.group_id is not None
    thanks = SendGroup(
        ctx.event.group_id, "rating_thanks", {"score": score}, quote_msg_id=ctx.event.msg_id
    )
    if score > LOW_SCORE:
        return [thanks]
    heads = await ids_with_role(ctx.db, "sales_head") or await ids_with_role(ctx.db, "admin")
    return [thanks, *alert_heads(ctx.settings, heads, "rating_low", await _low(ctx, rating, score))]


async def _store(ctx: Context, rating: Rating, score: int) -> bool:
    """Record the score unless the rating was answered already (conditional UPDATE)."""
    result = await ctx.db.exec(
        update(Rating)
        .where(col(Rating.id) == rating.id, col(Rating.score).is_(None))
        .values(score=score, answered_by=ctx.sender_id, answered_at=ctx.now)
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:
        return False
    await repo.audit(
        ctx.db,
        at=ctx.now,
        actor_id=ctx.sender_id,
        action="rating.answered",
        group_id=rating.group_id,
        rating_id=rating.id,
        score=score,
    )
    return True


async def _low(ctx: Context, rating: Rating, score: int) -> dict[str, Any]:
    customer = await repo.get_customer(ctx.db, customer_id=rating.customer_id)
    staff = await repo.get_staff(ctx.db, user_id=rating.staff_id) if rating.staff_id else None
    return {
        "score": score,
        "reason": rating.reason,
        "ref_id": rating.ref_id,
        "customer": customer.name if customer else None,
        "group_id": rating.group_id,
        "staff": staff.name if staff else rating.staff_id,
        "text": (ctx.event.text or "")[:300],
    }


async def _quoted(db: AsyncSession, quote_msg_id: str | None, group_id: str) -> Rating | None:
    if not quote_msg_id:
        return None
    sent = await repo.find_bot_message(db, zalo_message_id=quote_msg_id)
    rating_id = sent.payload.get("rating_id") if sent else None
    rating = await db.get(Rating, rating_id) if rating_id else None
    return rating if rating is not None and rating.group_id == group_id else None


async def _pending(db: AsyncSession, *, group_id: str, since: datetime) -> Rating | None:
    query = select(Rating).where(
        Rating.group_id == group_id, col(Rating.score).is_(None), col(Rating.asked_at) >= since
    )
    return (await db.exec(query.order_by(col(Rating.asked_at).desc()).limit(1))).first()


async def _staff_spoke(db: AsyncSession, group_id: str, since: datetime) -> bool:
    query = select(Message.id).where(
        Message.group_id == group_id, Message.sender_kind == "staff", col(Message.sent_at) > since
    )
    return (await db.exec(query.limit(1))).first() is not None
