"""Half-open and hung database connections, and workers during an outage (issue #15, chaos run).

After a failover the webhook answered 503 for 40 s while /healthz said `database: ok`, and a
worker retried ~50 times a second, logging a traceback each time. Now every PostgreSQL
connection has connect and statement timeouts, TCP keepalives and tcp_user_timeout; a group
commit that hangs is given up and its connection replaced; /healthz answers within 2 s and
says `degraded` when the webhook cannot store; a failing worker backs off and logs a line
when it starts failing, one a minute, and one when it works again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

import tests.faults.test_fault_database as fault_db
from bot.core import group_commit, worker
from storage.db import PG_CONNECT_ARGS
from tests.conftest import ON_POSTGRESQL
from tests.support import Bot

PG_ONLY = pytest.mark.skipif(not ON_POSTGRESQL, reason="PostgreSQL connections only")


# ------------------------------------------------------------------ every connection's settings


@PG_ONLY
async def test_every_postgresql_connection_has_timeouts_and_keepalives(bot: Bot) -> None:
    async with bot.runtime.sessions() as db:
        assert (await db.exec(text("SHOW statement_timeout"))).one()[0] == "1min"  # type: ignore[call-overload]
        raw = await (await db.connection()).get_raw_connection()
        params = raw.driver_connection.info.get_parameters()  # type: ignore[union-attr]
    assert params["tcp_user_timeout"] == "15000" and params["keepalives_idle"] == "5"
    await bot.say("một tin để mở kết nối riêng của webhook")
    writer = bot.runtime.inbox._writer._connection
    assert writer is not None
    assert writer.info.get_parameters()["tcp_user_timeout"] == "15000"
    cursor = await writer.execute("SHOW idle_in_transaction_session_timeout")
    assert (await cursor.fetchone()) == ("2min",)


def test_the_settings_end_a_half_open_connection_within_seconds() -> None:
    idle = PG_CONNECT_ARGS["keepalives_idle"]
    probes = PG_CONNECT_ARGS["keepalives_interval"] * PG_CONNECT_ARGS["keepalives_count"]
    assert idle + probes <= 20 and PG_CONNECT_ARGS["tcp_user_timeout"] <= 20_000
    assert PG_CONNECT_ARGS["connect_timeout"] <= 5


# ------------------------------------------------------------------ /healthz tells the truth


async def test_healthz_says_degraded_while_the_webhook_cannot_store(bot: Bot) -> None:
    writer = bot.runtime.inbox._writer
    writer.failing = True
    response = await bot.client.get("/healthz")
    body = await response.json()
    assert response.status == 503
    assert (body["database"], body["webhook_store"]) == ("degraded", "failing")
    writer.failing = False
    assert (await bot.client.get("/healthz")).status == 200


async def test_a_store_under_way_too_long_counts_as_stuck(
    bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = bot.runtime.inbox._writer
    writer._writing_since = time.monotonic() - group_commit.STUCK_SECONDS - 1
    assert not writer.storing
    assert (await (await bot.client.get("/healthz")).json())["database"] == "degraded"


class FreezingProxy(fault_db.Proxy):
    """The test's TCP proxy, which can also freeze: connections stay open and nothing passes,
    as a server or a network that stopped answering without closing anything."""

    frozen = False

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer))
        self._writers -= {writer, up_writer}

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                if self.frozen:
                    continue  # swallowed: the other side waits for ever
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def frozen_bot(make_bot: Any, settings: Any) -> AsyncIterator[tuple[Bot, FreezingProxy]]:
    url = make_url(settings.database_url)
    proxy = FreezingProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(False)
    bot = await make_bot(settings.replace(database_url=proxied))
    yield bot, proxy
    proxy.frozen = False
    await proxy.cut()


@PG_ONLY
async def test_a_database_that_stops_answering_is_reported_and_left_behind(
    frozen_bot: tuple[Bot, FreezingProxy], monkeypatch: pytest.MonkeyPatch
) -> None:
    bot, proxy = frozen_bot
    monkeypatch.setattr(group_commit, "STORE_SECONDS", 3.0)
    assert (await bot.post(bot.message("trước"), drain=False)).status == 200
    proxy.frozen = True

    started = time.monotonic()
    assert (await bot.post(bot.message("trong lúc treo"), drain=False)).status == 503
    assert time.monotonic() - started < 2.5  # Zalo's 2 s
    started = time.monotonic()
    health = await bot.client.get("/healthz")
    assert health.status == 503 and time.monotonic() - started < 3.0
    assert (await health.json())["database"] != "ok"

    proxy.frozen = False  # the network is back: the hung connection is replaced
    for _ in range(60):
        response = await bot.post(bot.message("sau khi hết treo"), drain=False)
        if response.status == 200:
            break
        await asyncio.sleep(0.5)
    assert response.status == 200


# ------------------------------------------------------------------ workers back off


def test_a_failing_worker_backs_off_and_logs_a_line_a_minute(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    failures = worker.Failures("inbox", monotonic=lambda: now[0])
    pauses = []
    with caplog.at_level(logging.DEBUG, logger="bot.core.worker"):
        for _ in range(200):  # 200 failures in a row, a second apart
            pauses.append(failures.failed(ConnectionError("the database went away")))
            now[0] += 1.0
        failures.succeeded()
        failures.succeeded()
    assert pauses[:4] == [0.5, 1.0, 2.0, 4.0] and max(pauses) == worker.BACKOFF_MAX
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings[0] == "inbox pass failed: ConnectionError('the database went away')"
    assert len(warnings) == 1 + 3 + 1  # the start, one a minute, the recovery
    assert warnings[-1] == "inbox: working again after 200 failed passes"
    assert [r for r in caplog.records if r.exc_info and r.levelno > logging.DEBUG] == []


async def test_a_failing_pass_waits_before_the_next_whatever_wakes_the_worker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(worker, "BACKOFF_FIRST", 0.01)
    calls: list[float] = []
    wake, stop = asyncio.Event(), asyncio.Event()

    async def failing_pass() -> None:
        calls.append(time.monotonic())
        wake.set()  # events keep arriving: no reason to hurry while the database is away
        if len(calls) == 5:
            stop.set()
        raise ConnectionError("no database")

    await asyncio.wait_for(worker.run_forever(failing_pass, wake, 60.0, "t", stop), 10)
    gaps = [later - earlier for earlier, later in zip(calls, calls[1:], strict=False)]
    assert all(gap >= 0.01 * 2**n * 0.9 for n, gap in enumerate(gaps))
