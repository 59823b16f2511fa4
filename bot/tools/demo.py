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
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func
from sqlmodel import col, select

from bot.app.factory import create_app
from bot.app.keys import RUNTIME
from bot.app.runtime import Runtime
from bot.core.clock import FrozenClock
from bot.tools.demo_cast import (
    HEAD,
    Customer,
    DemoError,
)
from bot.tools.demo_driver import Driver
from bot.tools.demo_plan import make_plan
from config.settings import ROOT, Settings, SettingsError, load_settings
from storage.db import upgrade
from storage.models import (
    Group,
    Incident,
    Message,
    OutboxMessage,
    Payment,
    Rating,
    SlaClock,
    SlaEvent,
)

# --- the driver: events in, clock forward -------------------------------------------------


# --- steps: what one person does at one moment --------------------------------------------


# --- the plan: every step of every group, at its moment -----------------------------------


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
