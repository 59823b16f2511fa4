"""The demo's plan: each customer's story over the month as timed steps (messages, joins,
decisions, jobs), and the Driver that plays them through the real pipeline."""

from __future__ import annotations

import heapq
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from bot.core.calendars import Calendars
from bot.core.worktime import Calendar
from bot.tools.demo_cast import (
    ACCOUNTANT,
    ASKING,
    CARE,
    CHIEF,
    COMPANIES,
    FIRST_CUSTOMER,
    HEAD,
    INCIDENTS,
    LAST_MILESTONE,
    LATENESS,
    MAX_LATE,
    MILESTONES,
    NOTES,
    ORDERS,
    QUESTIONS,
    RATINGS,
    SALES,
    SALES2,
    SALES_NAMES,
    SHIPPING,
    THANKS,
    WAITING,
    WAREHOUSE,
    Customer,
    Day,
    DemoError,
    Gap,
    before,
    vnd,
    working_days,
)
from bot.tools.demo_driver import Step, decides, handles, job, joins, says
from config.settings import Settings


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
