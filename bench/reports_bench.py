"""Time every report (bot/features/reports) on a big database: SQLite, and PostgreSQL with --pg.

    .venv/bin/python bench/reports_bench.py                 # SQLite, full size
    .venv/bin/python bench/reports_bench.py --pg            # and PostgreSQL (zb_bench)
    .venv/bin/python bench/reports_bench.py --scale 0.05    # a quick run

Full size: 1,000,000 messages, 100,000 orders (2 items each), 20,000 customers and groups,
200,000 SLA clocks, 150,000 care logs, 30,000 payments, 10,000 incidents, 50,000 ratings,
spread over the two years before 23 Nov 2026. SQLite is a temporary file migrated with
storage.db.upgrade and filled with sqlite3's executemany in one transaction; PostgreSQL is a
fresh database (created, migrated, filled with COPY, dropped at the end). Both are ANALYZEd,
then every report runs for the last 30 days and the last year through the app's own async
engine; the table shows the best of two runs, in seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.features.reports.queries import REPORTS  # noqa: E402
from storage.db import make_engine, make_sessions, upgrade  # noqa: E402

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
SPAN = timedelta(days=730)
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_NAME = "zb_bench"
SIZES = {
    "customers": 20_000,
    "messages": 1_000_000,
    "orders": 100_000,
    "sla_clocks": 200_000,
    "care_logs": 150_000,
    "payments": 30_000,
    "incidents": 10_000,
    "ratings": 50_000,
}
STAFF = [f"10000000000000{i:05d}" for i in range(50)]
SALES = STAFF[:40]
REGIONS = ["Hà Nội", "TP HCM", "Đà Nẵng", "Cần Thơ", "Hải Phòng", None]
FEEDBACK = ["positive", "neutral", "negative", "complaint", "no_answer", None]
TYPES = ["wrong_item", "missing_item", "damaged", "late_delivery", "payment", "complaint"]


def ago(rng: random.Random, span: timedelta = SPAN) -> datetime:
    return NOW - timedelta(seconds=rng.random() * span.total_seconds())


def tables(scale: float, seed: int = 7) -> dict[str, tuple[list[str], Iterator[tuple[Any, ...]]]]:
    """Every table's columns and a generator of its rows."""
    rng = random.Random(seed)
    n = {k: max(10, int(v * scale)) for k, v in SIZES.items()}
    customers, orders = n["customers"], n["orders"]
    group = [f"g{i:019d}" for i in range(customers)]

    def staff() -> Iterator[tuple[Any, ...]]:
        for i, uid in enumerate(STAFF):
            yield (
                uid,
                f"Nhân viên {i}",
                "sales" if uid in SALES else "sales_head",
                True,
                "file",
                NOW,
            )

    def customer_rows() -> Iterator[tuple[Any, ...]]:
        for i in range(1, customers + 1):
            born = date(1950, 1, 1) + timedelta(days=rng.randrange(20_000)) if i % 7 else None
            yield (
                i, f"Khách {i}", f"09{i:08d}", rng.choice(REGIONS),
                rng.choice(["vip", "wholesale", "retail"]), born, rng.choice(["male", "female"]),
                rng.choice(["facebook", "store", "web"]), rng.choice(["zalo", "phone", "sms"]),
                NOW - SPAN, NOW - SPAN,
            )  # fmt: skip

    def groups() -> Iterator[tuple[Any, ...]]:
        for i, gid in enumerate(group):
            yield gid, f"Nhóm {i}", i + 1, SALES[i % len(SALES)], "won", NOW - SPAN, NOW - SPAN

    def messages() -> Iterator[tuple[Any, ...]]:
        for i in range(n["messages"]):
            inbound = i % 3 != 0
            yield (
                f"msg{i}", group[i % customers],
                f"20000{i % customers:014d}" if inbound else SALES[0],
                "in" if inbound else "out", "customer" if inbound else "staff",
                "user_send_group_text", f"tin nhắn {i}", "[]", ago(rng),
            )  # fmt: skip

    def clocks() -> Iterator[tuple[Any, ...]]:
        for i in range(n["sla_clocks"]):
            opened, seconds = ago(rng, timedelta(days=365)), int(rng.expovariate(1 / 600))
            late = opened + timedelta(minutes=15) if seconds > 900 else None
            closed = opened + timedelta(seconds=seconds)
            yield (
                group[i % customers], "c", f"m{i}", SALES[i % len(SALES)], opened, opened,
                opened + timedelta(minutes=15), opened + timedelta(minutes=30), late, closed,
                SALES[i % len(SALES)], seconds,
            )  # fmt: skip

    def products() -> Iterator[tuple[Any, ...]]:
        for i in range(1, 201):
            yield i, f"SP{i:03d}", f"Sản phẩm {i}", f"Nhóm hàng {i % 12}", 30, True

    def order_rows() -> Iterator[tuple[Any, ...]]:
        for i in range(1, orders + 1):
            bought = ago(rng)
            nxt = (bought + timedelta(days=rng.randrange(5, 120))).astimezone(TZ).date()
            yield (
                i, f"DH{i}", group[i % customers], i % customers + 1, bought, 1_000_000, "chat",
                SALES[i % len(SALES)], "cancelled" if i % 50 == 0 else "fulfilled", nxt,
                i % 4 == 0, bought,
            )  # fmt: skip

    def items() -> Iterator[tuple[Any, ...]]:
        for i in range(1, orders + 1):
            for product in rng.sample(range(1, 201), 2):
                yield i, product, rng.randrange(1, 5), 500_000

    def care() -> Iterator[tuple[Any, ...]]:
        for i in range(n["care_logs"]):
            order = i % orders + 1
            yield (
                order, group[order % customers], order % customers + 1, SALES[i % len(SALES)],
                "gọi hỏi thăm", rng.choice(FEEDBACK), False, ago(rng),
            )  # fmt: skip

    def payments() -> Iterator[tuple[Any, ...]]:
        for i in range(n["payments"]):
            asked = ago(rng)
            status = rng.choice(["approved", "approved", "rejected", "pending"])
            decided = (
                asked + timedelta(minutes=rng.randrange(5, 600)) if status != "pending" else None
            )
            yield (
                group[i % customers], rng.choice(["payment", "credit"]), 5_000_000,
                SALES[i % len(SALES)], asked, status, False, decided,
            )  # fmt: skip

    def incidents() -> Iterator[tuple[Any, ...]]:
        for i in range(n["incidents"]):
            opened = ago(rng)
            done = opened + timedelta(minutes=rng.randrange(10, 900)) if i % 5 else None
            yield (
                group[i % customers], rng.choice(TYPES), "sự cố", "[]",
                "resolved" if done else "open", SALES[0], opened, opened + timedelta(hours=4),
                opened + timedelta(hours=5), done,
                opened + timedelta(hours=4) if i % 7 == 0 else None,
            )  # fmt: skip

    def ratings() -> Iterator[tuple[Any, ...]]:
        for i in range(n["ratings"]):
            asked = ago(rng)
            score = rng.randrange(1, 6) if i % 4 else None
            answered = asked + timedelta(hours=2) if score else None
            yield (
                group[i % customers],
                i % customers + 1,
                SALES[i % len(SALES)],
                "order",
                asked,
                score,
                answered,
            )

    return {
        "staff": (["zalo_user_id", "name", "role", "active", "source", "updated_at"], staff()),
        "customers": (
            [
                "id",
                "name",
                "phone",
                "region",
                "customer_group",
                "birthday",
                "gender",
                "channel",
                "contact_channel",
                "created_at",
                "updated_at",
            ],
            customer_rows(),
        ),  # fmt: skip
        "groups": (
            [
                "group_id",
                "name",
                "customer_id",
                "assigned_sales_id",
                "stage",
                "created_at",
                "updated_at",
            ],
            groups(),
        ),  # fmt: skip
        "messages": (
            [
                "msg_id",
                "group_id",
                "user_id",
                "direction",
                "sender_kind",
                "event_name",
                "text",
                "attachments",
                "sent_at",
            ],
            messages(),
        ),  # fmt: skip
        "sla_clocks": (
            [
                "group_id",
                "customer_id",
                "msg_id",
                "owner_id",
                "opened_at",
                "remind_at",
                "deadline",
                "escalate_at",
                "breached_at",
                "closed_at",
                "closed_by",
                "response_seconds",
            ],
            clocks(),
        ),  # fmt: skip
        "products": (
            ["id", "code", "name", "product_group", "care_interval_days", "active"],
            products(),
        ),
        "orders": (
            [
                "id",
                "order_code",
                "group_id",
                "customer_id",
                "purchased_at",
                "amount",
                "source",
                "created_by",
                "status",
                "next_care_date",
                "care_closed",
                "created_at",
            ],
            order_rows(),
        ),  # fmt: skip
        "order_items": (["order_id", "product_id", "quantity", "amount"], items()),
        "care_logs": (
            [
                "order_id",
                "group_id",
                "customer_id",
                "staff_id",
                "content",
                "feedback",
                "ended",
                "at",
            ],
            care(),
        ),  # fmt: skip
        "payments": (
            [
                "group_id",
                "kind",
                "amount",
                "requested_by",
                "requested_at",
                "status",
                "needs_chief",
                "decided_at",
            ],
            payments(),
        ),  # fmt: skip
        "incidents": (
            [
                "group_id",
                "type",
                "description",
                "attachments",
                "status",
                "opened_by",
                "opened_at",
                "deadline",
                "escalate_at",
                "resolved_at",
                "breached_at",
            ],
            incidents(),
        ),  # fmt: skip
        "ratings": (
            ["group_id", "customer_id", "staff_id", "reason", "asked_at", "score", "answered_at"],
            ratings(),
        ),
    }


def _sqlite_value(value: Any) -> Any:
    # the text SQLAlchemy's SQLite DateTime writes: naive UTC with microseconds
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    return value


def fill_sqlite(path: Path, scale: float) -> dict[str, int]:
    counts: dict[str, int] = {}
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("BEGIN")
    for table, (columns, rows) in tables(scale).items():
        marks = ",".join("?" * len(columns))
        sql = f"INSERT INTO {table} ({','.join(columns)}) VALUES ({marks})"
        batch = [tuple(_sqlite_value(v) for v in row) for row in rows]
        con.executemany(sql, batch)
        counts[table] = len(batch)
    con.execute("COMMIT")
    con.execute("ANALYZE")
    con.close()
    return counts


def fill_postgres(url: str, scale: float) -> dict[str, int]:
    import psycopg

    counts: dict[str, int] = {}
    with psycopg.connect(url) as con:
        for table, (columns, rows) in tables(scale).items():
            with (
                con.cursor() as cur,
                cur.copy(f"COPY {table} ({','.join(columns)}) FROM STDIN") as copy,
            ):
                count = 0
                for row in rows:
                    copy.write_row(row)
                    count += 1
            counts[table] = count
        for table in ("customers", "orders", "products"):  # explicit ids: move the sequences on
            con.execute(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))")
        con.commit()
    with psycopg.connect(url, autocommit=True) as con:
        con.execute("ANALYZE")
    return counts


async def time_reports(url: str) -> dict[tuple[str, str], float]:
    engine = make_engine(url)
    sessions = make_sessions(engine)
    timings: dict[tuple[str, str], float] = {}
    try:
        for label, days in (("30 d", 30), ("1 y", 365)):
            start = NOW - timedelta(days=days)
            for name, report in REPORTS.items():
                best = float("inf")
                for _ in range(2):
                    async with sessions() as db:
                        began = time.perf_counter()
                        await report.run(db, start, NOW, TZ)
                        best = min(best, time.perf_counter() - began)
                timings[(name, label)] = best
    finally:
        await engine.dispose()
    return timings


def postgres(scale: float) -> dict[tuple[str, str], float]:
    import psycopg

    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{PG_NAME}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as con:
        con.execute(f"DROP DATABASE IF EXISTS {PG_NAME}")
        con.execute(f"CREATE DATABASE {PG_NAME}")
    try:
        upgrade(url)
        began = time.perf_counter()
        counts = fill_postgres(url, scale)
        print(f"postgresql: loaded {json.dumps(counts)} in {time.perf_counter() - began:.0f} s")
        return asyncio.run(time_reports(url))
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as con:
            con.execute(f"DROP DATABASE IF EXISTS {PG_NAME} WITH (FORCE)")


def sqlite(scale: float) -> dict[tuple[str, str], float]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        upgrade(f"sqlite:///{path}")
        began = time.perf_counter()
        counts = fill_sqlite(path, scale)
        print(f"sqlite: loaded {json.dumps(counts)} in {time.perf_counter() - began:.0f} s")
        return asyncio.run(time_reports(f"sqlite:///{path}"))


def table(results: dict[str, dict[tuple[str, str], float]]) -> str:
    engines = list(results)
    head = "| report | period | " + " | ".join(f"{e} s" for e in engines) + " |"
    lines = [head, "|" + "---|" * (2 + len(engines))]
    for key in results[engines[0]]:
        cells = " | ".join(f"{results[e][key]:.3f}" for e in engines)
        lines.append(f"| {key[0]} | {key[1]} | {cells} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", action="store_true", help="also run on PostgreSQL (zb_bench)")
    parser.add_argument("--scale", type=float, default=1.0, help="shrink the data (0.05)")
    args = parser.parse_args()
    results = {"SQLite": sqlite(args.scale)}
    if args.pg:
        results["PostgreSQL"] = postgres(args.scale)
    print(table(results))


if __name__ == "__main__":
    main()
