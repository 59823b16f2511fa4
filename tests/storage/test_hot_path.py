"""The common event, a message in an existing group, costs a fixed, small number of statements.

process_event is run directly on a session (as the inbox does), with a listener counting what
goes to the database; BEGIN/COMMIT are the inbox's business and are not counted. Also here:
the shortcuts behind those numbers behave like the queries they replaced, including several
events in one transaction (the inbox processes a batch of events in one).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import psycopg
from sqlalchemy import event as sa_event
from sqlmodel import select

from bot.core.dispatch import process_event
from bot.zalo.events import parse_event
from storage.models import GroupMember, Message, Rating, SlaClock, SlaEvent, Staff
from tests.support import CUSTOMER, GROUP, HEAD, SALES, SALES2

CUSTOMER2 = "2000000000000000002"


@contextmanager
def counting(sqlite_connection: Any, engine: Any) -> Iterator[list[str]]:
    """The statements sent to the database inside the block (transaction control left out),
    storage.fast.hot's included, which go to the driver directly: on SQLite every statement the
    sqlite3 connection runs (its trace callback), on PostgreSQL those through SQLAlchemy and
    those to psycopg's AsyncConnection.execute (only storage.fast.hot calls it)."""
    statements: list[str] = []

    def seen(statement: str) -> None:
        first = statement.split(None, 1)[0].upper()
        if first not in ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "PRAGMA"):
            statements.append(" ".join(statement.split()))

    if sqlite_connection is not None:
        sqlite_connection.set_trace_callback(seen)
        try:
            yield statements
        finally:
            sqlite_connection.set_trace_callback(None)
        return

    def cursor_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen(statement)

    execute = psycopg.AsyncConnection.execute

    async def hot_execute(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        seen(str(query))
        return await execute(self, query, *args, **kwargs)

    sa_event.listen(engine, "before_cursor_execute", cursor_execute)
    psycopg.AsyncConnection.execute = hot_execute  # type: ignore[method-assign]
    try:
        yield statements
    finally:
        psycopg.AsyncConnection.execute = execute  # type: ignore[method-assign]
        sa_event.remove(engine, "before_cursor_execute", cursor_execute)


async def process(bot: Any, *messages: tuple[str, str]) -> list[list[str]]:
    """Process (text, sender) group messages in ONE transaction; the statements of each."""
    per_event = []
    async with bot.runtime.sessions() as db:
        connection = await db.connection()
        raw = (await connection.get_raw_connection()).dbapi_connection
        sqlite_connection = raw._connection._conn if connection.dialect.name == "sqlite" else None
        for text, sender in messages:
            event = parse_event(bot.message(text, sender=sender))
            with counting(sqlite_connection, bot.runtime.engine.sync_engine) as statements:
                await process_event(db, event, bot.runtime.deps)
                await db.flush()  # what the event left pending is its cost too
            per_event.append(statements)
        await db.commit()
    return per_event


def tables(statements: list[str]) -> list[str]:
    """'SELECT groups', 'INSERT messages', ... : the verb and the first table named; a
    statement with a data-modifying CTE is 'INSERT messages + SELECT groups' (CTE first)."""
    return [_table(statement) for statement in statements]


def _table(statement: str) -> str:
    if statement.startswith("WITH "):
        start = end = statement.index("(")
        depth = 1
        while depth:  # to the parenthesis closing the CTE
            end += 1
            depth += {"(": 1, ")": -1}.get(statement[end], 0)
        return f"{_table(statement[start + 1 : end])} + {_table(statement[end + 1 :].strip())}"
    words = statement.replace(",", " ").split()
    verb = words[0]
    after = {"SELECT": "FROM", "INSERT": "INTO", "UPDATE": "UPDATE", "DELETE": "FROM"}[verb]
    table = words[words.index(after) + 1] if verb != "SELECT" else _select_table(words)
    return f"{verb} {table}"


def _select_table(words: list[str]) -> str:
    table = words[words.index("FROM") + 1]
    # the sender's row comes FROM a one-row derived table joined to groups
    return words[words.index("JOIN") + 1] if table == "(SELECT" else table


def expect(bot: Any, listed: list[str]) -> list[str]:
    """`listed` as SQLite runs it. On PostgreSQL, statements that depend on each other share
    one round trip: the sender's SELECT stores the transcript row (repo.sender_in_group), a
    clock opened or closed writes its SlaEvent (rules/sla.py); and rows added together are
    one INSERT (SQLAlchemy's insertmanyvalues)."""
    if bot.runtime.engine.dialect.name != "postgresql":
        return listed
    out: list[str] = []
    for name in listed:
        if name == "INSERT messages" and "SELECT groups" in out:
            out[out.index("SELECT groups")] = "INSERT messages + SELECT groups"
        elif name == "INSERT outbox" and out[-1:] == ["INSERT outbox"]:
            continue
        elif name == "INSERT sla_events" and out[-1:] in (
            ["INSERT sla_clocks"],
            ["UPDATE sla_clocks"],
        ):
            out[-1] = f"{out[-1]} + INSERT sla_events"
        else:
            out.append(name)
    return out


async def warm(bot: Any) -> None:
    """The group and its members exist; no clock is open (the one this opens is closed)."""
    await bot.say("Chào shop", sender=CUSTOMER)
    await bot.say("Dạ em chào anh", sender=SALES)
    bot.clock.advance(minutes=1)


async def clocks(bot: Any) -> list[SlaClock]:
    """The clocks opened after warm(), oldest first."""
    query = select(SlaClock).where(SlaClock.opened_at == bot.clock.now()).order_by(SlaClock.id)
    async with bot.runtime.sessions() as db:
        return list((await db.exec(query)).all())


async def sla_events(bot: Any) -> list[str]:
    query = select(SlaEvent).where(SlaEvent.at == bot.clock.now()).order_by(SlaEvent.id)
    async with bot.runtime.sessions() as db:
        return [e.kind for e in (await db.exec(query)).all()]


async def rows(bot: Any, model: Any, *where: Any) -> list[Any]:
    async with bot.runtime.sessions() as db:
        return list((await db.exec(select(model).where(*where))).all())


async def test_an_ordinary_group_message_costs_few_statements(bot):
    await warm(bot)
    question, follow_up, answer, thanks = await process(
        bot,
        ("Đơn hàng của mình giao chưa ạ?", CUSTOMER),
        ("Shop kiểm tra giúp mình với", CUSTOMER),
        ("Dạ đơn giao ngày mai ạ", SALES),
        ("dạ cảm ơn ạ", CUSTOMER),
    )
    # the group, the sender's membership and staff row and the open clock come in one SELECT
    assert tables(question) == expect(
        bot,
        [
            "SELECT groups",
            "INSERT messages",
            "SELECT messages",  # where its burst began (SLA_BURST, issue #18)
            "INSERT sla_clocks",
            "INSERT sla_events",
        ],
    ), question
    assert tables(follow_up) == expect(bot, ["SELECT groups", "INSERT messages"]), follow_up
    assert tables(answer) == expect(
        bot,
        [
            "SELECT groups",
            "INSERT messages",
            "UPDATE sla_clocks",
            "INSERT sla_events",
        ],
    ), answer
    assert tables(thanks) == expect(bot, ["SELECT groups", "INSERT messages"]), thanks
    [clock] = await clocks(bot)
    assert clock.closed_by == SALES and clock.msg_id != ""
    assert await sla_events(bot) == ["start", "stop"]
    assert len(await rows(bot, Message)) == 6


async def test_a_new_member_of_a_known_group_is_recorded_once_per_transaction(bot):
    await warm(bot)
    first, second = await process(bot, ("Mình mới vào nhóm", CUSTOMER2), ("ok", CUSTOMER2))
    assert tables(first) == expect(
        bot,
        [
            "SELECT groups",
            "INSERT group_members",
            "INSERT messages",
            "SELECT messages",  # where its burst began
            "INSERT sla_clocks",
            "INSERT sla_events",
        ],
    )
    assert tables(second) == expect(bot, ["SELECT groups", "INSERT messages"])
    members = await rows(bot, GroupMember, GroupMember.user_id == CUSTOMER2)
    assert len(members) == 1 and members[0].left_at is None


async def test_a_member_who_left_and_writes_again_is_present_again(bot):
    await warm(bot)
    await bot.lifecycle("user_leave_group", members=[CUSTOMER])
    [gone] = await rows(bot, GroupMember, GroupMember.user_id == CUSTOMER)
    assert gone.left_at is not None
    bot.clock.advance(minutes=1)
    await bot.say("Mình quay lại rồi", sender=CUSTOMER)
    [back] = await rows(bot, GroupMember, GroupMember.user_id == CUSTOMER)
    assert back.left_at is None and back.joined_at == bot.clock.now()


async def test_a_new_group_is_created_with_its_first_message(bot):
    [first] = await process(bot, ("Chào shop, mình cần báo giá", CUSTOMER))
    assert tables(first) == expect(
        bot,
        [
            "SELECT groups",
            "INSERT groups",
            "INSERT group_members",
            "INSERT messages",
            "INSERT sla_clocks",
            "INSERT sla_events",
            "SELECT staff",  # the sales heads, and which of them are in the group: one query
            "INSERT outbox",  # the reading of the group's members from Zalo (issue #16)
            "INSERT outbox",  # the invite
        ],
    ), first
    members = await rows(bot, GroupMember, GroupMember.group_id == GROUP)
    assert [m.user_id for m in members] == [CUSTOMER]
    assert len(await clocks(bot)) == 1
    assert await bot.invites() == [[HEAD]]


async def test_a_new_group_invites_the_heads_not_in_it(bot):
    """Membership rows the bot kept from before: a head who left is invited, one inside not."""
    async with bot.runtime.sessions() as db:
        db.add(GroupMember(group_id=GROUP, user_id=HEAD, joined_at=bot.clock.now()))
        left = bot.clock.now() - timedelta(days=1)
        db.add(GroupMember(group_id="other", user_id=HEAD, joined_at=left, left_at=left))
        await db.commit()
    await bot.say("Chào shop", sender=CUSTOMER)
    await bot.say("Chào shop", sender=CUSTOMER, group="other")
    [invite] = await bot.outbox(target_kind="invite")
    assert invite.target_id == "other" and invite.payload["user_ids"] == [HEAD]


async def test_a_message_delivered_twice_is_stored_once(bot):
    await warm(bot)
    body = bot.message("Đơn của mình đâu ạ?", sender=CUSTOMER, msg_id="dup-1")
    async with bot.runtime.sessions() as db:  # in one transaction, then in another
        for _ in range(2):
            await process_event(db, parse_event(body), bot.runtime.deps)
        await db.commit()
    await bot.post(body)
    [message] = await rows(bot, Message, Message.msg_id == "dup-1")
    assert (message.user_id, message.sender_kind, message.text) == (
        CUSTOMER,
        "customer",
        "Đơn của mình đâu ạ?",
    )
    assert message.attachments == [] and message.sent_at == bot.clock.now()


async def test_closing_and_reopening_a_clock_in_one_transaction(bot):
    await warm(bot)
    await process(
        bot,
        ("Đơn hàng của mình giao chưa ạ?", CUSTOMER),
        ("Dạ giao ngày mai ạ", SALES2),
        ("Mình muốn đổi địa chỉ giao hàng", CUSTOMER),
    )
    assert [(c.closed_by, c.closed_at is None) for c in await clocks(bot)] == [
        (SALES2, False),
        (None, True),
    ]
    assert await sla_events(bot) == ["start", "stop", "start"]


async def test_a_rating_answer_and_the_next_question_in_one_transaction(bot):
    """The answer starts no clock; the customer's next question, at the same instant, does."""
    await warm(bot)
    async with bot.runtime.sessions() as db:
        db.add(Rating(group_id=GROUP, reason="deal", ref_id=1, asked_at=bot.clock.now()))
        await db.commit()
    await process(bot, ("5 sao", CUSTOMER))
    assert await clocks(bot) == []
    [rating] = await rows(bot, Rating)
    assert (rating.score, rating.answered_by) == (5, CUSTOMER)
    await process(bot, ("Cho mình hỏi đơn tuần sau giao khi nào?", CUSTOMER))
    [clock] = await clocks(bot)
    assert clock.customer_id == CUSTOMER and clock.closed_at is None


async def test_the_transcript_says_who_wrote_as_the_staff_list_says(bot):
    """An active staff member's message is staff's, a deactivated one's is a customer's
    (on PostgreSQL the sender's SELECT decides it in SQL: the two must agree)."""
    await warm(bot)
    await process(bot, ("Dạ em gửi báo giá ạ", SALES))
    async with bot.runtime.sessions() as db:
        staff = await db.get(Staff, SALES)
        staff.active = False
        db.add(staff)
        await db.commit()
    await process(bot, ("Em nghỉ việc rồi nhé", SALES))
    kinds = {m.text: m.sender_kind for m in await rows(bot, Message, Message.user_id == SALES)}
    assert kinds["Dạ em gửi báo giá ạ"] == "staff"
    assert kinds["Em nghỉ việc rồi nhé"] == "customer"
    attachment = [{"type": "image", "payload": {"url": "https://example.com/a.png"}}]
    body = bot.message("Ảnh đơn hàng", sender=CUSTOMER, msg_id="with-image")
    body["message"]["attachments"] = attachment
    async with bot.runtime.sessions() as db:
        await process_event(db, parse_event(body), bot.runtime.deps)
        await db.commit()
    [message] = await rows(bot, Message, Message.msg_id == "with-image")
    assert (message.direction, message.attachments) == ("in", attachment)
    assert message.quote_msg_id is None and message.zalo_timestamp == str(body["timestamp"])
