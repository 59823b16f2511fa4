"""The database out of reach for a while: the webhook answers 503 (Zalo redelivers), /healthz says
so, and once it is back the service carries on by itself, with no restart.

PostgreSQL: a small TCP proxy in the test stands between the app and the server; cutting it
closes every connection and refuses new ones. SQLite has no network to cut: another connection
holds the write lock past the busy timeout (shortened here from 10 s to keep the test fast),
which is what a stuck writer looks like to the app: every transaction begins with
BEGIN IMMEDIATE, so stores, processing and the health check all fail until it lets go.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy.engine import make_url
from sqlmodel import col, select

import storage.db
from config.settings import Settings
from storage.models import Interaction, SlaClock
from tests.conftest import ON_POSTGRESQL
from tests.support import CUSTOMER, Bot

WAIT = 30.0
BUSY_MS = 200


class Proxy:
    """A TCP proxy to one upstream address that the test can cut and restore."""

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._link, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        """Refuse new connections and drop every open one."""
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()
        self._server = None

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(_pump(reader, up_writer), _pump(up_reader, writer))
        self._writers -= {writer, up_writer}


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


@contextlib.asynccontextmanager
async def write_lock(database_url: str) -> AsyncIterator[None]:
    """Hold SQLite's write lock from another connection until the block ends.

    The waiting happens in a worker thread: blocking the event loop while the app, on that
    loop, holds the lock would wait for each other until the timeout.
    """
    path = make_url(database_url).database or ""
    db = sqlite3.connect(path, isolation_level=None, timeout=WAIT, check_same_thread=False)
    try:
        await asyncio.to_thread(db.execute, "BEGIN IMMEDIATE")
        yield
        await asyncio.to_thread(db.execute, "ROLLBACK")
    finally:
        db.close()


@pytest.fixture
async def outage(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Settings, Callable[[], Awaitable[None]], Callable[[], Awaitable[None]]]]:
    """Settings for the app, and functions that take the database away and bring it back."""
    if ON_POSTGRESQL:
        url = make_url(settings.database_url)
        proxy = Proxy(url.host or "127.0.0.1", url.port or 5432)
        await proxy.start()
        proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(False)
        yield settings.replace(database_url=proxied), proxy.cut, proxy.start
        return

    def short_busy_timeout(dbapi_conn: Any, record: Any) -> None:
        original(dbapi_conn, record)
        dbapi_conn.execute(f"PRAGMA busy_timeout={BUSY_MS}")

    original = storage.db._sqlite_pragmas
    monkeypatch.setattr(storage.db, "_sqlite_pragmas", short_busy_timeout)
    async with contextlib.AsyncExitStack() as stack:

        async def take() -> None:
            await stack.enter_async_context(write_lock(settings.database_url))

        async def give_back() -> None:
            await stack.aclose()

        yield settings, take, give_back


async def interactions(bot: Bot) -> list[str]:
    async with bot.runtime.sessions() as db:
        return sorted((await db.exec(select(Interaction.note))).all())


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_the_database_out_of_reach_gives_503_then_the_service_recovers_by_itself(
    make_bot: Callable[..., Awaitable[Bot]], outage: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings, take_away, bring_back = outage
    bot = await make_bot(settings, workers=True)  # the real background workers
    before = bot.message("/ghichu goi tichcuc trước sự cố")
    assert (await bot.post(before, drain=False)).status == 200
    waiting = bot.message("Còn hàng không ạ?", sender=CUSTOMER)  # opens an SLA clock
    assert (await bot.post(waiting, drain=False)).status == 200
    await eventually(lambda: _has(bot, ["trước sự cố"]), "the first event to be processed")
    await eventually(lambda: _clock_open(bot), "the customer's SLA clock to open")

    await take_away()
    # The customer's deadline passes during the outage, so the sweep needs to write. (With
    # nothing due it only reads, which SQLite's held write lock does not stop.)
    bot.clock.advance(minutes=20)
    during = [bot.message(f"/ghichu goi tichcuc trong sự cố {n}") for n in range(3)]
    for body in during:
        response = await bot.post(body, drain=False)
        assert response.status == 503, await response.text()
        assert (await response.json())["ok"] is False
    health = await bot.client.get("/healthz")
    assert health.status == 503 and (await health.json())["database"].startswith("error")
    # The once-a-second deadline sweep runs into the outage too, and lives on.
    await eventually(lambda: _logged(caplog, "deadline sweep failed"), "a failed sweep")

    await bring_back()
    after = bot.message("/ghichu goi tichcuc sau sự cố")
    for body in [*during, after]:  # Zalo redelivers what got 503, and new events come in
        response = await bot.post(body, drain=False)
        assert response.status == 200, await response.text()
    wanted = ["sau sự cố", "trước sự cố", *(f"trong sự cố {n}" for n in range(3))]
    await eventually(lambda: _has(bot, wanted), "the events after the outage to be processed")
    health = await bot.client.get("/healthz")
    assert health.status == 200 and (await health.json())["database"] == "ok"


async def _clock_open(bot: Bot) -> bool:
    async with bot.runtime.sessions() as db:
        query = select(SlaClock.id).where(col(SlaClock.closed_at).is_(None))
        return (await db.exec(query)).first() is not None


async def _has(bot: Bot, notes: list[str]) -> bool:
    return await interactions(bot) == sorted(notes)


async def _logged(caplog: pytest.LogCaptureFixture, text: str) -> bool:
    return any(text in record.getMessage() for record in caplog.records)


@pytest.mark.skipif(ON_POSTGRESQL, reason="a write lock held by another connection is SQLite's")
async def test_a_database_that_hangs_gets_503_within_zalos_two_seconds(
    make_bot: Callable[..., Awaitable[Bot]], settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Busy, not refusing: SQLite would wait 10 s for the lock; Zalo gives up after 2 s, so
    the webhook answers 503 at its deadline (1.5 s) instead of at the busy timeout."""
    bot = await make_bot(settings)
    body = bot.message("/ghichu goi tichcuc lúc khoá")
    async with write_lock(settings.database_url):
        response = await bot.post(body, drain=False)
        assert response.status == 503
        assert await _logged(caplog, "(took too long); asking Zalo to redeliver")
    response = await bot.post(body)  # Zalo's redelivery, once the lock is gone
    assert response.status == 200
    assert await interactions(bot) == ["lúc khoá"]
