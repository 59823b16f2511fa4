"""Fill a database with weeks of realistic activity, through the real pipeline, for the dashboard.

    .venv/bin/python -m bot demo                          # 30 days, 8 groups, into DATABASE_URL
    .venv/bin/python -m bot demo --days 7 --groups 3 --database-url sqlite:///data/demo.db
    make demo                                             # the first line, after `make migrate`

Flags:
    --days N            calendar days of history, ending at --end (default 30)
    --groups N          customer groups (default 8), shared between the two sample sales
    --database-url URL  the database to fill (default: the DATABASE_URL setting, or .env);
                        it is migrated first
    --end WHEN          when the demo ends, local time "YYYY-MM-DD HH:MM" (default: now)
    --seed N            the random seed (default 7): the same flags give the same data
    --verbose           print every message the bot sends, as `make run` does

Every message is a correctly signed webhook event posted to the real app (create_app on a
FrozenClock, served in process); the clock moves through the working days and stops at each
deadline, so reminders, SLA breaches, incident alerts, rating requests and the daily digests
happen when they would have. Each group is created with its customer, a sales and the head; the
sales records the profile, answers the customer's questions (mostly in time, sometimes late),
takes notes, quotes, closes the deal and records the order; accounting approves the payments
(replying "duyệt" to the bot's request or with /duyet); the goods are delivered and rated. Some
groups also have an incident, a large payment the chief accountant approves, credit, a handover,
a discount promised without approval, or a lost deal. At the end two customers are waiting for
an answer, one payment is pending and one incident is open.

Local mode is forced (nothing is sent to Zalo) and the sample staff and product files are
loaded: give the demo a database of its own, and stop the service while it runs (the service's
workers would act on the demo's deadlines by the wall clock). With the default --end, the last
line printed is a one-time sign-in link for the sales head, valid for LOGIN_LINK_TTL.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import heapq
import io
import os
import random
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func
from sqlmodel import col, select

from bot.app.factory import create_app
from bot.app.keys import RUNTIME
from bot.app.runtime import Runtime
from bot.core.calendars import Calendars
from bot.core.clock import FrozenClock
from bot.core.worktime import Calendar
from bot.zalo.payloads import group_message, lifecycle, signed, user_message
from config.settings import ROOT, Settings, SettingsError, load_settings
from storage.db import upgrade
from storage.models import (
    Group,
    Incident,
    Message,
    OutboxMessage,
    Payment,
    Rating,
    Reminder,
    SlaClock,
    SlaEvent,
)

SALES, SALES2, HEAD = "1000000000000000001", "1000000000000000002", "1000000000000000003"
ACCOUNTANT, CHIEF = "1000000000000000004", "1000000000000000005"
WAREHOUSE, SHIPPING = "1000000000000000006", "1000000000000000007"
FIRST_CUSTOMER = 2000000000000000101
SALES_NAMES = {SALES: ("An", "Nguyễn Văn An"), SALES2: ("Bình", "Trần Thị Bình")}
# Share of answers that come after the reminder, per sales; a day's breaches stay under
# MAX_LATE of its questions, so daily compliance stays between about 70 and 100%.
LATENESS = {SALES: 0.15, SALES2: 0.3}
MAX_LATE = 0.3
ASKING = {"question", "opening", "quote", "lost", "won"}  # episodes the customer asks in

COMPANIES = [
    ("Công ty TNHH Minh Phát", "HCM", "si"),
    ("Nhà hàng Sen Vàng", "Hà Nội", "vip"),
    ("Khách sạn Biển Xanh", "Đà Nẵng", "vip"),
    ("Công ty CP Thực phẩm An Khang", "Bình Dương", "si"),
    ("Trường mầm non Hoa Mai", "HCM", "le"),
    ("Siêu thị mini Phú Thịnh", "Cần Thơ", "si"),
    ("Quán cà phê Gió Núi", "Đà Lạt", "le"),
    ("Công ty TNHH Nam Việt", "Hải Phòng", "si"),
    ("Spa Thanh Tâm", "HCM", "le"),
    ("Phòng khám Đa khoa Tâm An", "Hà Nội", "vip"),
    ("Chuỗi giặt là Sạch Thơm", "HCM", "si"),
    ("Công ty Xây dựng Hưng Thịnh", "Đồng Nai", "si"),
]
QUESTIONS = [
    ("Shop ơi báo giá giúp anh lõi lọc PP 5 micron loại 10 inch",
     "Dạ lõi PP 5 micron bên em 45.000đ/lõi, lấy từ 20 lõi là 40.000đ/lõi ạ"),
    ("Máy lọc RO 10 lõi bảo hành bao lâu em?",
     "Dạ máy bảo hành 24 tháng, đến hạn thay lõi bên em nhắc lịch ạ"),
    ("Tuần này bên em giao được 50 thùng nước giặt không?",
     "Dạ được anh ạ, kho còn hàng, em xếp xe giao thứ 5 nhé"),
    ("Cho chị hỏi nước rửa chén 750ml có mùi trà xanh không em?",
     "Dạ hiện bên em có hương chanh thôi chị ạ, tháng sau mới về trà xanh"),
    ("Hóa đơn VAT tháng này em gửi qua email giúp anh nhé",
     "Dạ em báo kế toán xuất và gửi email cho anh trong hôm nay ạ"),
    ("Nồi chiên 6L còn màu đen không em?", "Dạ còn 12 cái màu đen ạ, em giữ hàng cho chị nhé"),
    ("Màng RO dùng bao lâu thì phải thay vậy em?",
     "Dạ màng RO khoảng 18-24 tháng tùy nguồn nước, lõi PP thì 3 tháng ạ"),
    ("Xe giao hàng mấy giờ tới vậy em?", "Dạ xe đang trên đường, khoảng 30 phút nữa tới ạ"),
    ("Nước lau sàn tinh dầu quế có can 5 lít không em?",
     "Dạ có can 5L giá 185.000đ ạ, em gửi ảnh anh xem nhé"),
    ("Máy lọc ở bếp chảy nước hơi yếu, bên em qua kiểm tra được không?",
     "Dạ em xếp kỹ thuật qua kiểm tra sáng mai anh nhé"),
    ("Em gửi lại giúp chị bảng giá mới nhất nhé",
     "Dạ em gửi chị bảng giá tháng này ạ, đơn trên 10 triệu có chiết khấu theo chính sách"),
    ("Lô nước giặt tháng trước dùng tốt, tháng này lấy thêm được không em?",
     "Dạ được ạ, em lên đơn như tháng trước cho anh nhé"),
]  # fmt: skip
THANKS = ["Ok em", "Cảm ơn em nhé", "Dạ vâng", "Ok, cảm ơn em", "👍"]
NOTES = [
    "goi tichcuc Khách hài lòng, hỏi thêm máy lọc cho chi nhánh 2",
    "gap binhthuong Ghé văn phòng khách, kiểm tra kho hàng của khách",
    "email binhthuong Gửi catalogue sản phẩm mới",
    "nhan tichcuc Khách hẹn đặt thêm hàng cuối tháng",
    "goi khongnghe Gọi 2 lần khách không nghe máy, hẹn gọi lại chiều",
]
# Orders: the first care date is the purchase + interval × quantity (config/products.csv).
ORDERS = [
    ("MLN-RO10 x2, LOC-PP5 x2", 18_600_000),
    ("NG-36 x3, NRC-750 x4", 2_450_000),
    ("LOC-RO x1, LOC-CTO x2, LOC-PP5 x2", 3_200_000),
    ("NCK-6L x4", 7_600_000),
    ("NLS-1L x2, NRC-750 x2", 1_560_000),
]
RATINGS = ["5", "5 sao", "4 sao nhé", "5", "4"]
# (type, what the customer writes, the incident, who handles it, how it was resolved)
INCIDENTS = [
    ("thieuhang", "Shop ơi hàng giao thiếu 2 thùng nước giặt rồi em",
     "Giao thiếu 2 thùng NG-36, khách gửi ảnh phía trên", WAREHOUSE,
     "Đã giao bù 2 thùng, khách đã nhận đủ"),
    ("hong", "Em ơi có 3 chai nước rửa chén bị vỡ nắp, chảy ra cả thùng",
     "3 chai NRC-750 vỡ nắp khi giao, khách gửi ảnh", WAREHOUSE, "Đã đổi 3 chai mới cho khách"),
    ("giaocham", "Hẹn giao sáng nay mà giờ chưa thấy xe đâu em ơi",
     "Giao chậm so với hẹn, khách chờ từ sáng", SHIPPING, "Xe đã giao đủ, đã xin lỗi khách"),
    ("giaosai", "Em ơi giao nhầm lõi CTO thành lõi PP rồi",
     "Giao nhầm mã: lõi CTO thành lõi PP5", WAREHOUSE, "Đã đổi đúng lõi CTO"),
]  # fmt: skip
CARE = [
    "Khách dùng tốt, hẹn kiểm tra lõi lọc tichcuc",
    "Gọi hỏi thăm, khách hài lòng với nước giặt tichcuc",
    "Khách báo máy chạy êm, muốn xem thêm mẫu mới binhthuong",
]
WAITING = "Em ơi kiểm tra giúp anh đơn tuần sau giao được ngày nào?"

# The story of a group, by its working day (0 = created), squeezed into short demos.
MILESTONES = [(0, "opening"), (1, "quote"), (2, "lost"), (3, "won"), (5, "delivered"),
              (8, "incident"), (10, "note"), (11, "big_payment"), (12, "care"), (14, "credit"),
              (15, "promise"), (16, "handover")]  # fmt: skip
LAST_MILESTONE = 16

Step = Callable[["Driver"], Awaitable[None]]
Gap = float | tuple[float, float]  # working minutes after the previous line, or a range


def vnd(amount: int) -> str:
    """19000000 -> '19.000.000', as staff type amounts."""
    return f"{amount:,}".replace(",", ".")


@dataclass
class Customer:
    """One customer group and the people in it."""

    index: int
    group_id: str
    customer_id: str
    company: str
    region: str
    tier: str
    phone: str
    sales: str
    order: tuple[str, int]
    cursor: datetime | None = None  # the group's last planned moment
    lost: bool = False

    def wanted(self) -> set[str]:
        """The milestones of this group's story."""
        if self.index == 6:
            return {"opening", "quote", "lost"}
        kinds = {"opening", "quote", "won", "delivered", "note", "care"}
        extras = {
            "incident": self.index % 3 != 2,
            "big_payment": self.index % 4 == 0,
            "credit": self.index % 4 == 3,
            "promise": self.index == 1,
            "handover": self.index == 5,
        }
        return kinds | {kind for kind, on in extras.items() if on}


@dataclass(frozen=True)
class Day:
    """One working day: the local date, when it opens (UTC), its working minutes."""

    day: date
    opens: datetime
    minutes: float


def working_days(calendar: Calendar, end: datetime, days: int) -> list[Day]:
    """The working days among the `days` calendar days ending with `end`'s, cut at `end`."""
    result: list[Day] = []
    last = end.astimezone(calendar.tz).date()
    for back in range(days - 1, -1, -1):
        day = last - timedelta(days=back)
        midnight = datetime.combine(day, time(), tzinfo=calendar.tz)
        opens = calendar.next_opening(midnight)
        close = min(midnight + timedelta(days=1), end)
        if opens.astimezone(calendar.tz).date() == day and opens < close:
            result.append(Day(day, opens, calendar.between(opens, close).total_seconds() / 60))
    return result


def before(calendar: Calendar, end: datetime, minutes: float) -> datetime:
    """The moment `minutes` of working time before `end`."""
    wanted, low, high = timedelta(minutes=minutes), end - timedelta(days=14), end
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        low, high = (middle, high) if calendar.between(middle, end) > wanted else (low, middle)
    return high.replace(microsecond=0)


# --- the driver: events in, clock forward -------------------------------------------------


class Driver:
    """Posts signed events to the app and moves its clock, acting on deadlines on the way."""

    def __init__(self, client: TestClient[Any, Any], runtime: Runtime, clock: FrozenClock) -> None:
        self.client, self.runtime, self.clock = client, runtime, clock
        self.app_id = runtime.settings.signing_app_id

    async def post(self, body: dict[str, Any]) -> None:
        """POST one signed event and let the app process it and send its answers."""
        secret = self.runtime.settings.signing_secret
        if "oa_id" in body:  # events for this OA (ZALO_OA_ID), not another one
            body["oa_id"] = self.runtime.settings.signing_oa_id
        raw, headers = signed(body, app_id=self.app_id, secret=secret)
        response = await self.client.post("/zalo/webhook", data=raw, headers=headers)
        if response.status != 200:
            raise RuntimeError(f"webhook answered {response.status}: {await response.text()}")
        await self.runtime.drain()

    async def say(self, group: str, sender: str, text: str | None, **kw: Any) -> None:
        """A member writes in the group."""
        at = self.clock.now()
        await self.post(group_message(group_id=group, sender_id=sender, text=text, at=at,
                                      app_id=self.app_id, **kw))  # fmt: skip

    async def dm(self, sender: str, text: str) -> None:
        """Someone writes to the OA 1:1."""
        at = self.clock.now()
        await self.post(user_message(user_id=sender, text=text, at=at, app_id=self.app_id))

    async def members(self, event: str, group: str, members: list[str]) -> None:
        """A group lifecycle event (create_group, user_join_group) naming `members`."""
        at = self.clock.now()
        await self.post(lifecycle(event_name=event, group_id=group, at=at, app_id=self.app_id,
                                  member_ids=members))  # fmt: skip

    async def advance_to(self, moment: datetime) -> None:
        """Move the clock to `moment`, stopping at every deadline due on the way."""
        while (due := await self._next_due()) is not None and self.clock.now() < due <= moment:
            self.clock.set(due)
            await self.runtime.drain()
        if moment > self.clock.now():
            self.clock.set(moment)

    async def _next_due(self) -> datetime | None:
        queries = [
            select(func.min(SlaClock.next_due_at)).where(col(SlaClock.closed_at).is_(None)),
            select(func.min(Incident.next_due_at)).where(col(Incident.resolved_at).is_(None)),
            select(func.min(Reminder.due_at)).where(col(Reminder.sent_at).is_(None)),
        ]
        async with self.runtime.sessions() as db:
            found = [(await db.exec(query)).one() for query in queries]  # type: ignore[call-overload]
        moments = [m if m.tzinfo else m.replace(tzinfo=UTC) for m in found if m is not None]
        return min(moments, default=None)

    async def run_job(self, name: str) -> None:
        """A scheduled job (care reminders, digests), as the service's scheduler runs it."""
        await self.runtime.run_job(name)
        await self.runtime.drain()

    async def pending_payment(self, group: str) -> Payment | None:
        """The group's newest request still waiting for a decision."""
        query = select(Payment).where(Payment.group_id == group, Payment.status == "pending")
        async with self.runtime.sessions() as db:
            return (await db.exec(query.order_by(col(Payment.id).desc()))).first()

    async def request_message(self, payment_id: int) -> str | None:
        """The Zalo message id of the bot's request for `payment_id`, to reply to it."""
        query = select(OutboxMessage).where(
            OutboxMessage.purpose == "payment_request",
            col(OutboxMessage.zalo_message_id).is_not(None),
        )
        async with self.runtime.sessions() as db:
            rows = (await db.exec(query.order_by(col(OutboxMessage.id).desc()))).all()
        found = (r.zalo_message_id for r in rows if r.payload.get("payment_id") == payment_id)
        return next(found, None)

    async def open_incident(self, group: str) -> int | None:
        """The id of the group's newest incident not resolved yet."""
        query = select(Incident.id).where(Incident.group_id == group, Incident.status != "resolved")
        async with self.runtime.sessions() as db:
            return (await db.exec(query.order_by(col(Incident.id).desc()))).first()


# --- steps: what one person does at one moment --------------------------------------------


def says(group: str, sender: str, text: str | None, **kw: Any) -> Step:
    """`sender` writes `text` in the group."""
    return lambda d: d.say(group, sender, text, **kw)


def joins(group: str, members: list[str], event: str = "user_join_group") -> Step:
    """People join the group (they accepted the bot's invite)."""
    return lambda d: d.members(event, group, members)


def decides(group: str, by: str, *, reply: bool, reject: str | None = None) -> Step:
    """Accounting approves (or rejects) the group's newest pending request."""

    async def step(d: Driver) -> None:
        payment = await d.pending_payment(group)
        if payment is None or payment.id is None:
            return
        quoted = await d.request_message(payment.id) if reply else None
        if quoted:
            await d.say(group, by, f"từ chối {reject}" if reject else "duyệt", quote_msg_id=quoted)
        else:
            command = f"/tuchoi {payment.id} {reject}" if reject else f"/duyet {payment.id}"
            await d.say(group, by, command)

    return step


def handles(group: str, by: str, command: str, note: str) -> Step:
    """Someone moves the group's newest open incident on: /dangxuly or /xuly."""

    async def step(d: Driver) -> None:
        if (incident := await d.open_incident(group)) is not None:
            await d.say(group, by, f"/{command} {incident} {note}")

    return step


def job(name: str) -> Step:
    """The scheduler fires job `name`."""
    return lambda d: d.run_job(name)


# --- the plan: every step of every group, at its moment -----------------------------------


@dataclass
class Plan:
    """The steps to take, each at its moment, in a heap; nothing after `end` is kept."""

    rng: random.Random
    calendar: Calendar
    end: datetime
    cutoff: datetime = field(init=False)
    agenda: list[tuple[datetime, int, Step]] = field(default_factory=list)
    expected: Counter[tuple[str, date]] = field(default_factory=Counter)  # questions planned
    asked: Counter[tuple[str, date]] = field(default_factory=Counter)
    late: Counter[tuple[str, date]] = field(default_factory=Counter)

    def at(self, moment: datetime, step: Step) -> datetime:
        """Take `step` at `moment` (unless that is after the end); returns the moment."""
        if moment <= self.end:
            heapq.heappush(self.agenda, (moment, len(self.agenda), step))
        return moment

    def later(self, moment: datetime, gap: Gap) -> datetime:
        """`gap` working minutes (a number, or a range to pick from) after `moment`."""
        minutes = gap if isinstance(gap, int | float) else self.rng.uniform(*gap)
        return self.calendar.add(moment, timedelta(minutes=minutes)).replace(microsecond=0)

    def play(self, t: datetime, lines: list[tuple[Gap, Step]]) -> datetime:
        """Schedule each line `gap` after the one before, from `t`; the last line's moment."""
        for gap, step in lines:
            t = self.at(self.later(t, gap), step)
        return t

    def reply_in(self, c: Customer, t: datetime, mood: float) -> float:
        """Working minutes before the sales answers a question asked at `t`."""
        key = (c.sales, t.astimezone(self.calendar.tz).date())
        self.asked[key] += 1
        late, roll = LATENESS[c.sales] * mood, self.rng.random()
        if roll < late * 0.3:
            return self.rng.uniform(10.5, 14.5)  # reminded, answered in time
        most = MAX_LATE * max(self.expected[key], self.asked[key])
        if roll < late and self.late[key] + 1 <= most:
            self.late[key] += 1
            return self.rng.uniform(16, 28) if roll < late * 0.85 else self.rng.uniform(31, 50)
        return self.rng.uniform(1.5, 9.5)

    # -- episodes: each starts at `t` and returns the moment of its last step --

    def question(self, c: Customer, t: datetime, mood: float) -> datetime:
        """The customer asks, the sales answers (in time or late), maybe a thank-you."""
        ask, answer = self.rng.choice(QUESTIONS)
        g = c.group_id
        lines: list[tuple[float | tuple[float, float], Step]] = [
            (0.0, says(c.group_id, c.customer_id, ask))
        ]
        lines.append((self.reply_in(c, t, mood), says(g, c.sales, answer)))
        if self.rng.random() < 0.5:
            lines.append(((1, 4), says(g, c.customer_id, self.rng.choice(THANKS))))
        return self.play(t, lines)

    def opening(self, c: Customer, t: datetime, mood: float) -> datetime:
        """The group is created; the sales binds the customer, says hello, answers, notes."""
        g, s = c.group_id, c.sales
        profile = f'/khachhang "{c.company}" sdt={c.phone} khuvuc="{c.region}" nhom={c.tier}'
        hello = (
            f"Dạ em chào anh/chị, em là {SALES_NAMES[s][0]}, phụ trách chăm sóc {c.company} "
            "bên em. Anh/chị cần gì cứ nhắn em trong nhóm này nhé ạ"
        )
        t = self.play(t, [
            (0.0, joins(g, [s, c.customer_id, HEAD], "create_group")),
            (1, says(g, s, profile)),
            (1, says(g, s, hello)),
        ])  # fmt: skip
        t = self.question(c, self.later(t, (5, 30)), mood)
        return self.play(t, [((5, 15), says(g, s, "/ghichu " + NOTES[0]))])

    def quote(self, c: Customer, t: datetime, mood: float) -> datetime:
        """The customer asks for a quote; the sales sends it and moves the deal on."""
        g, s, (items, total) = c.group_id, c.sales, c.order
        ask = f"Em báo giá giúp anh đơn {items.replace(' x', ' số lượng ')} nhé"
        answer = f"Dạ em gửi anh báo giá: tổng {vnd(total)}đ, đã gồm VAT, giao trong 2 ngày ạ"
        return self.play(t, [
            (0.0, says(g, c.customer_id, ask)),
            (self.reply_in(c, t, mood), says(g, s, answer)),
            (1, says(g, s, "/giaidoan baogia")),
            ((3, 20), says(g, s, "/ghichu email binhthuong Đã gửi báo giá chính thức qua email")),
        ])  # fmt: skip

    def lost(self, c: Customer, t: datetime, mood: float) -> datetime:
        """The customer goes elsewhere; the sales records the lost deal."""
        g, s = c.group_id, c.sales
        c.lost = True
        return self.play(t, [
            (0.0, says(g, c.customer_id, "Bên anh chọn nhà cung cấp khác rồi em nhé, cảm ơn em")),
            (self.reply_in(c, t, mood), says(g, s, "Dạ em cảm ơn anh, khi cần anh cứ nhắn em ạ")),
            (2, says(g, s, "/thatbai Khách chọn nhà cung cấp khác, giá thấp hơn 8%")),
        ])  # fmt: skip

    def won(self, c: Customer, t: datetime, mood: float) -> datetime:
        """The contract: departments join, the order, the deposit approved, the order confirmed."""
        g, s, (items, total) = c.group_id, c.sales, c.order
        deposit = f"/thanhtoan {vnd(total // 2)} chuyenkhoan coc 50%"
        lines: list[tuple[Gap, Step]] = [
            (0.0, says(g, c.customer_id, "Ok em, anh lấy theo báo giá nhé, làm đơn giúp anh")),
            (self.reply_in(c, t, mood), says(g, s, "Dạ em cảm ơn anh, em lên đơn ngay ạ")),
            (1, says(g, s, "/chotdon")),
            ((3, 10), joins(g, [ACCOUNTANT, WAREHOUSE, SHIPPING])),
            (2, says(g, s, f"/donhang {items} {vnd(total)}")),
            (1, says(g, s, deposit)),
        ]
        if c.index == 1:  # too early: the payment gate refuses and the head hears of it
            lines.append((2, says(g, s, "/giaohang")))
        if c.index == 2:  # a wrong amount: rejected, asked again
            wrong = "Sai số tiền, khách mới chuyển 3.000.000"
            lines.append(((10, 30), decides(g, ACCOUNTANT, reply=True, reject=wrong)))
            lines.append(((5, 15), says(g, s, deposit + " (đã đối chiếu sao kê)")))
        lines.append(((10, 70), decides(g, ACCOUNTANT, reply=self.rng.random() < 0.7)))
        lines.append(((3, 15), says(g, s, "/xacnhan")))
        return self.play(t, lines)

    def delivered(self, c: Customer, t: datetime, mood: float) -> datetime:
        """Shipping releases the goods, the deal is fulfilled, the customer rates it."""
        g = c.group_id
        plate = f"51C-{self.rng.randint(100, 999)}.{self.rng.randint(10, 99)}"
        score = "2" if c.index == 4 else self.rng.choice(RATINGS)  # one unhappy customer
        return self.play(t, [
            (0.0, says(g, SHIPPING, f"/giaohang Xe {plate}")),
            ((90, 200), says(g, c.sales, "/giaidoan dagiao")),
            ((10, 60), says(g, c.customer_id, score)),
        ])  # fmt: skip

    def incident(self, c: Customer, t: datetime, mood: float, resolve: bool = True) -> datetime:
        """A customer problem recorded with /suco, handled, and (unless told not to) resolved."""
        g, s = c.group_id, c.sales
        kind, complaint, description, by, resolution = self.rng.choice(INCIDENTS)
        photo = {"type": "image", "payload": {"url": f"https://zalo.example/{g}/{kind}.jpg"}}
        lines: list[tuple[Gap, Step]] = [
            (0.0, says(g, c.customer_id, complaint)),
            ((2, 8), says(g, s, "Dạ em xin lỗi anh/chị, em báo bộ phận kiểm tra ngay ạ")),
            (1, says(g, s, f"/suco {kind} {description}")),
            ((10, 30), handles(g, by, "dangxuly", "Đang kiểm tra, sẽ báo lại trong hôm nay")),
        ]
        if by == WAREHOUSE:  # the customer's photo comes first: /suco attaches it
            lines.insert(0, (0.0, says(g, c.customer_id, None, attachments=[photo])))
        if resolve:  # within INCIDENT_RESOLUTION (4 h) or not
            done = handles(g, by, "xuly", resolution)
            lines.append((self.rng.choice((60, 120, 200, 300)), done))
            lines.append(((20, 90), says(g, c.customer_id, self.rng.choice(RATINGS))))
        return self.play(t, lines)

    def big_payment(self, c: Customer, t: datetime, mood: float) -> datetime:
        """A payment over PAYMENT_CHIEF_THRESHOLD: the accountant, then the chief approve."""
        g, s = c.group_id, c.sales
        return self.play(t, [
            (0.0, says(g, s, "/thanhtoan 120tr chuyenkhoan hợp đồng cung cấp cả năm, đợt 1")),
            ((3, 10), joins(g, [CHIEF])),
            ((15, 60), decides(g, ACCOUNTANT, reply=True)),
            ((20, 90), decides(g, CHIEF, reply=self.rng.random() < 0.5)),
        ])  # fmt: skip

    def credit(self, c: Customer, t: datetime, mood: float) -> datetime:
        """Credit terms asked for and approved with /duyet."""
        g = c.group_id
        return self.play(t, [
            (0.0, says(g, c.sales, "/congno 30tr 30 ngày cho đơn tháng sau")),
            ((20, 80), decides(g, ACCOUNTANT, reply=False)),
        ])  # fmt: skip

    def promise(self, c: Customer, t: datetime, mood: float) -> datetime:
        """The sales promises a discount nobody approved: the head is told."""
        g = c.group_id
        return self.play(t, [
            (0.0, says(g, c.customer_id, "Anh lấy thêm 20 thùng thì có bớt không em?")),
            ((3, 8), says(g, c.sales, "Dạ lấy 20 thùng em giảm 5% cho anh nhé")),
        ])  # fmt: skip

    def note(self, c: Customer, t: datetime, mood: float) -> datetime:
        """A /ghichu about a call, a visit or an email."""
        return self.at(t, says(c.group_id, c.sales, "/ghichu " + self.rng.choice(NOTES)))

    def care(self, c: Customer, t: datetime, mood: float) -> datetime:
        """A care call; half the customers are due again on the demo's last day."""
        today, last = (m.astimezone(self.calendar.tz).date() for m in (t, self.end))
        due = last if last > today and c.index % 4 < 2 else today + timedelta(days=45)
        text = f"/chamsoc {self.rng.choice(CARE)} {due:%d/%m/%Y}"
        return self.at(t, says(c.group_id, c.sales, text))

    def handover(self, c: Customer, t: datetime, mood: float) -> datetime:
        """The head hands the customer to the other sales, who joins the group."""
        other = SALES2 if c.sales == SALES else SALES
        t = self.play(t, [
            (0.0, says(c.group_id, HEAD, f"/bangiao {SALES_NAMES[other][1]}")),
            ((3, 10), joins(c.group_id, [other])),
        ])  # fmt: skip
        c.sales = other
        return t


def story(c: Customer, span: int) -> dict[int, list[str]]:
    """Which milestones happen on which of the group's `span` working days."""
    scale = min(1.0, (span - 2) / LAST_MILESTONE) if span > 2 else 0.0
    days: dict[int, list[str]] = {}
    for day, name in MILESTONES:
        if name in c.wanted():
            days.setdefault(round(day * scale), []).append(name)
    return days


def day_episodes(rng: random.Random, milestones: list[str], lost: bool) -> list[str]:
    """What happens in one group on one day: its milestones, then the customer's questions."""
    if lost:  # after a lost deal the customer seldom writes
        return ["question"] if rng.random() < 0.15 else []
    return milestones + ["question"] * rng.choice((0, 1, 1, 2, 2, 3))


def plan_day(plan: Plan, c: Customer, day: Day, episodes: list[str], mood: float) -> None:
    """Schedule one group's episodes of the day, each after the one before."""
    starts = sorted(plan.rng.uniform(0, max(day.minutes - 40, 1)) for _ in episodes)
    for name, offset in zip(episodes, starts, strict=True):
        t = plan.later(day.opens, offset)
        t = max(t, plan.later(c.cursor, (10, 40))) if c.cursor else t
        if t > plan.cutoff or t.astimezone(plan.calendar.tz).date() != day.day:
            break
        c.cursor = getattr(plan, name)(c, t, mood)


def plan_finale(plan: Plan, people: list[Customer]) -> None:
    """The state at the end: a payment pending, an incident open, two customers waiting."""
    active = [c for c in people if not c.lost] or people

    def pick(n: int) -> Customer:
        return active[n % len(active)]

    def back(minutes: float) -> datetime:
        return before(plan.calendar, plan.end, minutes)

    paying = pick(0)
    plan.at(back(100), says(paying.group_id, paying.sales, "/thanhtoan 45tr ck thanh toán đợt 2"))
    plan.incident(pick(1), back(80), 1.0, resolve=False)
    for n, minutes in ((2, 25), (3, 6)):  # one overdue, one with minutes left
        plan.at(back(minutes), says(pick(n).group_id, pick(n).customer_id, WAITING))


def plan_jobs(plan: Plan, settings: Settings, days: list[Day]) -> None:
    """Care reminders each morning and the digests each evening, as the scheduler runs them."""
    tz = plan.calendar.tz
    for day in days:
        jobs = [("care_reminders", settings.care_reminder_time)]
        jobs.append(("digest_daily", settings.report_time))
        if day.day.weekday() == 5:
            jobs.append(("digest_weekly", settings.report_time))
        if (day.day + timedelta(days=1)).month != day.day.month:
            jobs.append(("digest_monthly", settings.report_time))
        for name, at in jobs:
            moment = datetime.combine(day.day, time.fromisoformat(at), tzinfo=tz)
            plan.at(moment.astimezone(UTC), job(name))


def make_customers(rng: random.Random, count: int) -> list[Customer]:
    """`count` customers, each in a group of its own, the sales taking turns."""
    people = []
    for index in range(count):
        company, region, tier = COMPANIES[index % len(COMPANIES)]
        if index >= len(COMPANIES):
            company = f"{company} {index // len(COMPANIES) + 1}"
        people.append(Customer(
            index=index, group_id=f"{rng.getrandbits(80):020x}",
            customer_id=str(FIRST_CUSTOMER + index), company=company, region=region, tier=tier,
            phone=f"09{rng.randint(10_000_000, 99_999_999)}", sales=(SALES, SALES2)[index % 2],
            order=ORDERS[index % len(ORDERS)],
        ))  # fmt: skip
    return people


def make_plan(
    settings: Settings, end: datetime, days: int, groups: int, seed: int
) -> tuple[Plan, list[Customer]]:
    """Every step of the demo, in a heap by time; the groups start over the first third."""
    calendar = Calendars(settings).for_group(None)
    rng = random.Random(seed)
    plan, people = Plan(rng, calendar, end), make_customers(rng, groups)
    open_days = working_days(calendar, end, days)
    if not open_days:
        raise DemoError(f"no working day in the {days} day(s) up to {end:%d/%m/%Y %H:%M}")
    plan.cutoff = before(calendar, end, 150)  # then only the finale
    first = {c.index: c.index * (len(open_days) // 3) // groups for c in people}
    stories = {c.index: story(c, len(open_days) - first[c.index]) for c in people}
    days_of: list[tuple[Day, Customer, list[str], float]] = []
    lost: set[int] = set()
    for n, day in enumerate(open_days):
        moods = {s: rng.choice((0.3, 0.6, 1.0, 1.0, 1.4, 2.0)) for s in LATENESS}  # how busy
        for c in rng.sample(people, len(people)):  # in turn, so breaches fall on every group
            if n < first[c.index]:
                continue
            milestones = stories[c.index].get(n - first[c.index], [])
            episodes = day_episodes(rng, milestones, c.index in lost)
            lost |= {c.index} if "lost" in milestones else set()
            plan.expected[(c.sales, day.day)] += sum(e in ASKING for e in episodes)
            days_of.append((day, c, episodes, moods[c.sales]))
    # Questions are counted first, so that a day's late answers keep within MAX_LATE.
    for day, c, episodes, mood in days_of:
        plan_day(plan, c, day, episodes, mood)
    plan_finale(plan, people)
    plan_jobs(plan, settings, open_days)
    return plan, people


# --- running it ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    """What the demo left in the database, for the closing lines."""

    groups: int
    messages: int
    clocks: int
    in_time: int
    breaches: int
    waiting: int
    payments: dict[str, int]
    incidents: dict[str, int]
    ratings: int
    start: datetime
    end: datetime
    login_url: str | None = None

    def lines(self, settings: Settings) -> Iterator[str]:
        """The summary, a few lines for the console."""
        start, end = (
            m.astimezone(settings.tz).strftime("%d/%m/%Y %H:%M") for m in (self.start, self.end)
        )
        share = f"{100 * self.in_time / self.clocks:.0f}%" if self.clocks else "-"

        def counts(found: dict[str, int]) -> str:
            return ", ".join(f"{n} {k}" for k, n in sorted(found.items())) or "none"

        yield f"Demo: {self.groups} groups, {self.messages} messages from {start} to {end}"
        yield (
            f"  reply clocks: {self.clocks}, {share} answered in time, {self.breaches} breaches, "
            f"{self.waiting} customers waiting"
        )
        yield f"  payments: {counts(self.payments)}"
        yield f"  incidents: {counts(self.incidents)}; ratings: {self.ratings}"
        yield f"  database: {settings.database_url}"
        if self.login_url:
            ttl = settings.login_link_ttl
            yield f"  sign in as the sales head (the link works once, for {ttl}): {self.login_url}"


async def summarise(runtime: Runtime, people: list[Customer], start: datetime) -> Summary:
    """Count what the demo's groups hold."""
    ids = [c.group_id for c in people]

    async def count(model: Any, *where: Any) -> int:
        query = select(func.count()).select_from(model).where(col(model.group_id).in_(ids))
        return int((await db.exec(query.where(*where))).one())

    async def by_status(model: Any) -> dict[str, int]:
        query = select(model.status, func.count()).where(col(model.group_id).in_(ids))
        return dict((await db.exec(query.group_by(model.status))).all())

    async with runtime.read_sessions() as db:
        clocks = (await db.exec(select(SlaClock).where(col(SlaClock.group_id).in_(ids)))).all()
        return Summary(
            groups=await count(Group),
            messages=await count(Message),
            clocks=len(clocks),
            in_time=sum(1 for c in clocks if c.closed_at and not c.breached_at),
            breaches=await count(SlaEvent, SlaEvent.kind == "breach"),
            waiting=sum(1 for c in clocks if c.closed_at is None),
            payments=await by_status(Payment),
            incidents=await by_status(Incident),
            ratings=await count(Rating, col(Rating.score).is_not(None)),
            start=start,
            end=runtime.clock.now(),
        )


async def login_link(driver: Driver) -> str | None:
    """A one-time sign-in link for the head: /dangnhap in the 1:1 chat, the bot's answer."""
    await driver.dm(HEAD, "/dangnhap")
    query = select(OutboxMessage).where(
        OutboxMessage.target_id == HEAD, OutboxMessage.purpose == "login_link"
    )
    async with driver.runtime.sessions() as db:
        row = (await db.exec(query.order_by(col(OutboxMessage.id).desc()))).first()
    found = re.search(r"https?://\S+/login/\S+", row.text) if row else None
    return found.group(0) if found else None


def demo_settings(settings: Settings) -> Settings:
    """Local mode, the sample staff and products, no rate limit, alerts 1:1."""
    return settings.replace(
        zalo_access_token="",
        zalo_refresh_token="",
        staff_file=str(ROOT / "config" / "staff.csv"),
        products_file=str(ROOT / "config" / "products.csv"),
        webhook_rate_limit=0,
        zalo_alert_group_id="",
    )


async def run_demo(
    settings: Settings,
    *,
    days: int = 30,
    groups: int = 8,
    end: datetime | None = None,
    seed: int = 7,
    verbose: bool = False,
) -> Summary:
    """Play the demo into settings.database_url (migrated); end=None means now."""
    settings = demo_settings(settings)
    moment = (end or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    plan, people = make_plan(settings, moment, days, max(1, groups), seed)
    start = plan.agenda[0][0]
    clock = FrozenClock(start - timedelta(minutes=1))
    app = create_app(settings, clock=clock, workers=False)
    quiet = contextlib.nullcontext() if verbose else contextlib.redirect_stdout(io.StringIO())
    async with TestClient(TestServer(app)) as client:
        driver = Driver(client, app[RUNTIME], clock)
        await refuse_twice(driver, people[0])
        with quiet:
            while plan.agenda:
                when, _, step = heapq.heappop(plan.agenda)
                await driver.advance_to(when)
                await step(driver)
            await driver.advance_to(moment)
            url = await login_link(driver) if end is None else None
        summary = await summarise(driver.runtime, people, start)
    return replace(summary, login_url=url)


class DemoError(Exception):
    """The demo cannot be played as asked; the message says why, in one line."""


async def refuse_twice(driver: Driver, first: Customer) -> None:
    """The same seed makes the same groups: playing it twice into one database would clash."""
    async with driver.runtime.sessions() as db:
        found = await db.get(Group, first.group_id)
    if found is not None:
        raise DemoError(
            f"this database already holds this demo (group {found.group_id}): "
            "use another --database-url or --seed"
        )


def main(argv: list[str] | None = None) -> None:
    """The command line: parse the flags, migrate the database, play the demo, summarise."""
    from dotenv import load_dotenv

    load_dotenv()
    parser = argparse.ArgumentParser(
        prog="python -m bot demo",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--groups", type=int, default=8)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--end", default=None, help='local time "YYYY-MM-DD HH:MM"')
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    extra = {"DATABASE_URL": args.database_url} if args.database_url else {}
    try:
        settings = load_settings({**os.environ, **extra})
    except SettingsError as exc:
        parser.error(str(exc))
    try:
        end = datetime.fromisoformat(args.end).replace(tzinfo=settings.tz) if args.end else None
    except ValueError:
        parser.error(f'--end: a local time like "2026-11-27 15:30" (got {args.end!r})')
    upgrade(settings.database_url)
    try:
        summary = asyncio.run(
            run_demo(settings, days=args.days, groups=args.groups, end=end, seed=args.seed,
                     verbose=args.verbose)
        )  # fmt: skip
    except DemoError as exc:
        raise SystemExit(f"Cannot play the demo: {exc}") from None
    for line in summary.lines(settings):
        print(line)


if __name__ == "__main__":
    main()
