"""Token refresh is single-flight across processes: two TokenManagers, each with its own engine
and session factory on one database (two `python webhook.py` processes), and one Zalo.

On PostgreSQL (TEST_DATABASE_URL) this is the real cross-process case: the advisory lock is
taken on the server and a second process waits for it. On SQLite it is the per-file lock.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import text

from bot.core.clock import FrozenClock
from bot.zalo.errors import ZaloAuthError
from bot.zalo.token_store import DbTokenStore, advisory_key
from bot.zalo.tokens import TokenManager, TokenPair
from storage.db import SessionFactory, make_engine, make_sessions
from tests.conftest import ON_POSTGRESQL, START
from tests.helpers.tokens import OAUTH, TOKEN_URL, granted, refused

ENV = TokenPair("env-access", "env-refresh", START + timedelta(hours=25))
NEW = TokenPair("new-a", "new-r", START + timedelta(seconds=90000))


class WatchedStore(DbTokenStore):
    """A DbTokenStore that tells the test when a refresh asks for the lock and gets it."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.asking, self.holding = asyncio.Event(), asyncio.Event()

    @asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        self.asking.set()
        async with super().exclusive():
            self.holding.set()
            yield


class Process:
    """What one service process holds: its own engine, sessions, store and token manager."""

    def __init__(self, url: str, http: httpx.AsyncClient, clock: FrozenClock) -> None:
        self.engine = make_engine(url)
        self.sessions: SessionFactory = make_sessions(self.engine)
        self.store = WatchedStore(self.sessions, clock=clock)
        self.tokens = TokenManager(
            http, OAUTH, "app-1", "app-secret", self.store, clock, initial=ENV
        )


@pytest.fixture
async def processes(database_url: str, clock: FrozenClock) -> AsyncIterator[list[Process]]:
    async with httpx.AsyncClient() as http:
        pair = [Process(database_url, http, clock) for _ in range(2)]
        yield pair
        for process in pair:
            await process.engine.dispose()


def held_by_the_first_call() -> tuple[asyncio.Event, asyncio.Event, Callable[..., Awaitable]]:
    """A Zalo that answers the first refresh only once the test lets it go."""
    entered, release = asyncio.Event(), asyncio.Event()

    async def grant(request: httpx.Request) -> httpx.Response:
        entered.set()
        await release.wait()
        return granted()

    return entered, release, grant


async def waiting_on_the_lock(process: Process) -> None:
    """Return once `process` is blocked on the refresh lock (on the server, for PostgreSQL)."""
    await process.store.asking.wait()
    if not ON_POSTGRESQL:
        # Asking and getting happen in one step unless the task is parked on the lock.
        assert not process.store.holding.is_set(), "the second process did not wait"
        return
    probe = text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid = :key"
    ).bindparams(key=advisory_key("oa"))
    for _ in range(500):
        async with process.sessions() as db:
            if (await db.exec(probe)).one()[0]:  # type: ignore[call-overload]
                return
        await asyncio.sleep(0.01)
    raise AssertionError("the second process never waited on the advisory lock")


async def test_two_processes_refreshing_at_once_call_zalo_once(zalo, processes):
    entered, release, grant = held_by_the_first_call()
    oauth = zalo.post(TOKEN_URL).mock(side_effect=grant)
    first, second = processes
    await first.tokens.load()
    await second.tokens.load()
    second.store.asking.clear()
    second.store.holding.clear()
    a = asyncio.create_task(first.tokens.refresh(stale="env-access"))
    await entered.wait()  # the first process is inside Zalo's refresh call
    b = asyncio.create_task(second.tokens.refresh(stale="env-access"))
    await waiting_on_the_lock(second)
    release.set()
    assert await asyncio.gather(a, b) == ["new-a", "new-a"]
    assert oauth.call_count == 1
    assert await first.store.load() == NEW
    assert [await p.tokens.access_token() for p in processes] == ["new-a", "new-a"]


async def test_many_refreshes_from_both_processes_call_zalo_once(zalo, processes):
    oauth = zalo.post(TOKEN_URL).mock(return_value=granted())
    calls = [p.tokens.refresh(stale="env-access") for p in processes * 3]
    assert await asyncio.gather(*calls) == ["new-a"] * 6
    assert oauth.call_count == 1


async def test_a_process_with_an_old_pair_in_memory_uses_the_rotated_one(zalo, processes, clock):
    oauth = zalo.post(TOKEN_URL).mock(return_value=granted())
    first, second = processes
    await second.tokens.load()  # holds env-access in memory
    await first.tokens.refresh(stale="env-access")
    clock.advance(hours=24)  # env-access is now within the refresh margin
    assert await second.tokens.access_token() == "new-a"
    assert oauth.call_count == 1


async def test_a_failed_refresh_releases_the_lock_for_the_other_process(zalo, processes):
    oauth = zalo.post(TOKEN_URL).mock(side_effect=[refused(), granted()])
    first, second = processes
    with pytest.raises(ZaloAuthError):
        await first.tokens.refresh(stale="env-access")
    assert await asyncio.wait_for(second.tokens.refresh(stale="env-access"), 10) == "new-a"
    assert oauth.call_count == 2


async def test_two_processes_starting_at_once_seed_one_row(zalo, processes):
    pairs = await asyncio.gather(*(p.tokens.load() for p in processes))
    assert pairs == [ENV, ENV]
    async with processes[0].sessions() as db:
        count = (await db.exec(text("SELECT count(*) FROM zalo_tokens"))).one()[0]  # type: ignore[call-overload]
    assert count == 1
