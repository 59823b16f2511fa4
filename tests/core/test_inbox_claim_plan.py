"""The inbox claim runs every few milliseconds under load while processed events pile up (they
are kept): it must reach the pending rows through the status index, never by reading the
history. Measured in bench/ (make bench); here the plan is checked."""

from __future__ import annotations

from sqlalchemy import text

from bot.core import inbox
from storage.models import InboxEvent
from tests.conftest import START
from tests.support import Bot, insert_analyzed

DONE, PENDING, GROUPS = 20_000, 30, 50


def _row(i: int, status: str) -> dict[str, object]:
    return {
        "dedupe_key": f"k{i}",
        "conversation": f"g{i % GROUPS}",
        "event_name": "user_send_group_text",
        "body": "{}",
        "received_at": START,
        "status": status,
        "attempts": 0,
    }


async def test_the_claim_reads_only_pending_rows_however_long_the_history(bot: Bot) -> None:
    sessions = bot.runtime.sessions
    rows = [_row(i, "done") for i in range(DONE)]
    await insert_analyzed(
        sessions, InboxEvent, rows + [_row(DONE + i, "pending") for i in range(PENDING)]
    )
    async with sessions() as db:
        connection = await db.connection()
        if connection.dialect.name == "sqlite":
            query = inbox.SQLITE_CLAIM.limit(inbox.BATCH_ROWS).compile(
                connection, compile_kwargs={"literal_binds": True}
            )
            result = await connection.execute(text(f"EXPLAIN QUERY PLAN {query}"))
            plan = " ".join(str(row[-1]) for row in result)
            # the status index holds each status's rows in id order: no sort, no history read
            assert plan.startswith("SEARCH inbox_events USING INDEX"), plan
            assert "TEMP B-TREE" not in plan, plan
        else:
            claim = f"EXPLAIN {inbox.PG_CLAIM.text}"
            result = await connection.execute(text(claim), {"limit": inbox.BATCH_ROWS})
            plan = " | ".join(str(row[0]) for row in result)
            # both reads of inbox_events (the oldest pending; earlier pending events of the
            # same conversations) go through the status index to the pending rows alone
            assert "Seq Scan" not in plan and plan.count("ix_inbox_events_status") == 2, plan
        await db.rollback()
    async with sessions() as db:
        claimed = await bot.runtime.inbox._claim(db)
    assert [row.id for row in claimed] == list(range(DONE + 1, DONE + 1 + inbox.BATCH_ROWS))
