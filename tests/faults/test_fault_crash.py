"""kill -9 in the middle of work, then a restart: every acknowledged event has exactly one effect.

Two real `python webhook.py` processes share the test database (PostgreSQL, or one SQLite file,
whose writers SQLite serialises) and the fake Zalo of tests/fake_zalo.py. A few hundred signed
`/ghichu` commands, each with one countable effect (an Interaction row) and one reply, go to
the two in turn (some to both at the same moment); one is killed with SIGKILL in the middle of
a burst of events, while it has sends under way; the other takes everything meanwhile (Zalo's
redelivery of what got no 200 included), then the killed one is started again.

What is exact and what is not:
* Effects are exactly once: an event is stored before its 200 and processed in one transaction
  with all its effects, claimed by one process at a time; a kill rolls the transaction back and
  the event is processed again, by either process.
* Delivery is at least once at the edge. A send is claimed with a lease; a process killed after
  Zalo took a message but before it marked the row sent leaves the row for another process once
  the lease runs out, which sends it again. A group's messages go one at a time, so a kill can
  double at most one message per group; every other reply reaches Zalo exactly once.

The outbox lease (15 s, renewed while a process works) is cut to LEASE seconds in these
processes, so the test does not wait for it; nothing else differs from `python webhook.py`.
"""

from __future__ import annotations

import itertools
import re
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from bot.zalo.payloads import group_message, signed
from storage.db import sync_url
from tests.fake_zalo import FakeZalo
from tests.helpers.service import (
    APP_ID,
    APP_SECRET,
    ENV_ACCESS,
    ENV_REFRESH,
    OA_SECRET,
    Process,
    eventually,
    free_port,
    service_env,
)
from tests.support import SALES

EVENTS = 240
GROUPS = [f"crash-group-{n}" for n in range(4)]
LEASE = 4.0  # seconds: long enough for any send here, short enough to wait for
HELD = 1.5  # the fake answers the sends under way at the kill this late
IDLE_TIMEOUT = 90.0
_ids = itertools.count(1)


@pytest.fixture
def fake(served_fake: FakeZalo) -> FakeZalo:
    """This module's fake Zalo is the served one (tests/conftest.py)."""
    return served_fake


@pytest.fixture
def pair(tmp_path: Path, database_url: str, fake: FakeZalo) -> Iterator[tuple[Process, Process]]:
    """Two live-mode processes on the test database, pointed at the fake."""
    made = []
    for name in ("a", "b"):
        env = service_env(
            tmp_path,
            free_port(),
            DATABASE_URL=database_url,
            ZALO_APP_ID=APP_ID,
            ZALO_APP_SECRET=APP_SECRET,
            ZALO_OA_SECRET_KEY=OA_SECRET,
            ZALO_ACCESS_TOKEN=ENV_ACCESS,
            ZALO_REFRESH_TOKEN=ENV_REFRESH,
            ZALO_API_BASE=fake.url,
            ZALO_OAUTH_BASE=fake.url,
            WEBHOOK_RATE_LIMIT="0",
            TEST_OUTBOX_LEASE=str(LEASE),
        )
        (tmp_path / name).mkdir()
        made.append(Process(env, tmp_path / name))
    try:
        for process in made:
            process.start()
        yield made[0], made[1]
    finally:
        for process in made:
            process.stop()


@pytest.fixture
def db(database_url: str) -> Iterator[Engine]:
    """A blocking connection to the same database, to count what the processes did."""
    engine = create_engine(sync_url(database_url))
    yield engine
    engine.dispose()


def event(n: int) -> tuple[str, bytes, dict[str, str]]:
    """Event n: a sales member logs call n in one of the groups; its msg_id and signed bytes."""
    msg_id = f"crash-{n}-{next(_ids)}-{time.time_ns()}"
    body = group_message(
        group_id=GROUPS[n % len(GROUPS)],
        sender_id=SALES,
        text=f"/ghichu goi tichcuc cuộc gọi số {n}",
        at=datetime.now(UTC),
        app_id=APP_ID,
        msg_id=msg_id,
    )
    raw, headers = signed(body, app_id=APP_ID, secret=OA_SECRET)
    return msg_id, raw, headers


def _call_number(text: Any) -> int | None:
    """Which event a reply answers: its text quotes the note, "cuộc gọi số <n>" (a group send
    carries no quote id)."""
    found = re.search(r"cuộc gọi số (\d+)\b", str(text or ""))
    return int(found[1]) if found else None


def scalar(engine: Engine, sql: str) -> Any:
    with engine.connect() as connection:
        return connection.execute(text(sql)).scalar()


def rows(engine: Engine, sql: str) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(text(sql)).all())


def idle(engine: Engine) -> bool:
    """Nothing left to process and nothing left to send."""
    return not scalar(
        engine,
        "SELECT (SELECT count(*) FROM inbox_events WHERE status = 'pending')"
        " + (SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending'))",
    )


def test_a_kill_9_mid_stream_then_a_restart_leaves_every_acknowledged_event_one_effect(
    pair: tuple[Process, Process], fake: FakeZalo, db: Engine
) -> None:
    a, b = pair
    events = [event(n) for n in range(EVENTS)]
    acks: list[int] = []  # an event's number for each 200 (list.append is thread-safe)
    unanswered: list[int] = []

    def deliver(n: int, process: Process) -> None:
        if process.post(*events[n][1:]) == 200:
            acks.append(n)
        else:
            unanswered.append(n)  # no 200: Zalo will deliver it again

    first, burst, second = EVENTS // 4, EVENTS * 2 // 3, EVENTS * 5 // 6
    with ThreadPoolExecutor(2) as pool:  # every sixth event reaches both at the same moment
        for n in range(first):
            both = (a, b) if n % 6 == 0 else ((a, b)[n % 2],)
            list(pool.map(lambda process, n=n: deliver(n, process), both))
    assert all(Counter(acks)[n] == 2 for n in range(0, first, 6))  # both answered 200
    eventually(lambda: idle(db), "the first events to be done", timeout=IDLE_TIMEOUT)
    fake.hold_next(len(GROUPS), seconds=HELD)  # the next sends hang at Zalo for a while
    with ThreadPoolExecutor(4) as pool:  # a burst of events for a alone, still coming in ...
        for n in range(first, burst):
            pool.submit(deliver, n, a)
        eventually(lambda: fake.in_flight, "a send under way", timeout=30.0)
        busy = scalar(db, "SELECT count(*) FROM outbox WHERE status = 'sending'")
        a.kill()  # ... when a is killed
    assert busy >= 1, "the kill should land while a send is under way"

    for n in [*range(burst, second), *unanswered]:
        deliver(n, b)  # b takes everything, including Zalo's redeliveries
    unanswered.clear()
    a.start()
    for n in range(second, EVENTS):
        deliver(n, (a, b)[n % 2])
    for n in unanswered:
        deliver(n, b)
    eventually(lambda: idle(db), "both processes to go idle", timeout=IDLE_TIMEOUT)

    assert set(acks) == set(range(EVENTS))  # every event was acknowledged in the end
    notes = Counter(note for (note,) in rows(db, "SELECT note FROM interactions"))
    assert notes == {f"cuộc gọi số {n}": 1 for n in range(EVENTS)}  # one effect each
    statuses = Counter(s for (s,) in rows(db, "SELECT status FROM inbox_events"))
    assert statuses == {"done": EVENTS}
    assert Counter(s for (s,) in rows(db, "SELECT status FROM outbox")).keys() == {"sent"}

    replies = Counter(_call_number(c.message.get("text")) for c in fake.group_messages(ok=True))
    copies = Counter(replies[n] for n in range(EVENTS))
    assert set(copies) <= {1, 2}, copies  # every reply reached Zalo, none more than twice
    assert copies[2] <= len(GROUPS), copies  # only a send the kill cut off can be doubled
