"""Shared fixtures: a real, migrated database per test and a frozen clock.

SQLite by default. When TEST_DATABASE_URL is a postgresql:// URL (a server the tests may
create and drop databases on), each test gets its own fresh PostgreSQL database instead.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from bot.app.factory import create_app
from bot.core.clock import FrozenClock
from config.settings import Settings, load_settings
from storage.db import SessionFactory, make_engine, make_sessions, upgrade
from tests.fake_zalo import FakeZalo
from tests.helpers.service import APP_SECRET, ENV_ACCESS
from tests.support import Bot

# Monday 23 Nov 2026, 09:00 in Vietnam.
START = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "").strip()
_PG = (
    make_url(TEST_DATABASE_URL.replace("postgres://", "postgresql://", 1))
    if TEST_DATABASE_URL
    else None
)
if _PG is not None and _PG.get_backend_name() != "postgresql":
    _PG = None  # only PostgreSQL is supported as an alternative backend
ON_POSTGRESQL = _PG is not None
_PG_COUNTER = itertools.count(1)


def _pg_url(database: str) -> str:
    assert _PG is not None
    return _PG.set(drivername="postgresql", database=database).render_as_string(hide_password=False)


def _pg_admin(sql: str) -> None:
    """Run one statement on the server's maintenance database, outside a transaction."""
    import psycopg

    assert _PG is not None
    dsn = _PG.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql)


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Run the real migrations once; each test gets a copy of the result."""
    if _PG is not None:
        name = f"zb_template_{os.getpid()}"
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        _pg_admin(f'CREATE DATABASE "{name}"')
        try:
            upgrade(_pg_url(name))
            yield name
        finally:
            _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        return
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    yield path


@pytest.fixture
def database_url(tmp_path: Path, migrated_template: Any) -> Any:
    if _PG is not None:
        name = f"zb_t_{os.getpid()}_{next(_PG_COUNTER)}"
        _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{migrated_template}"')
        try:
            yield _pg_url(name)
        finally:
            _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        return
    path = tmp_path / "bot.db"
    shutil.copy(migrated_template, path)
    yield f"sqlite:///{path}"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[SessionFactory]:
    engine = make_engine(database_url)
    yield make_sessions(engine)
    await engine.dispose()


ROOT = Path(__file__).resolve().parent.parent
ADMIN_TOKEN = "test-admin-token"


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Local mode (no Zalo credentials), the sample staff file, a known admin token."""
    return load_settings(
        {
            "DATABASE_URL": database_url,
            "ADMIN_TOKEN": ADMIN_TOKEN,
            "STAFF_FILE": str(ROOT / "config" / "staff.csv"),
        }
    )


@pytest.fixture
def live_settings(settings: Settings) -> Settings:
    """Real-looking Zalo credentials: outbound calls go to https://openapi.zalo.me (mock it)."""
    return settings.replace(
        zalo_app_id="2553928453557884079",
        zalo_app_secret="app-secret",
        zalo_oa_id="388613280879808645",
        zalo_oa_secret_key="oa-secret-key",
        zalo_access_token="env-access-token",
        zalo_refresh_token="env-refresh-token",
    )


@pytest.fixture
async def fake() -> AsyncIterator[FakeZalo]:
    """A fake Zalo API server in this event loop that takes live_settings' access token."""
    server = FakeZalo(valid_tokens={"env-access-token"})
    await server.start()
    yield server
    await server.close()


@pytest.fixture
def make_bot(aiohttp_client: Any, clock: FrozenClock) -> Callable[..., Awaitable[Bot]]:
    """Build a Bot on the real app; workers are off so tests decide when work happens."""

    async def factory(settings: Settings, *, workers: bool = False) -> Bot:
        app = create_app(settings, clock=clock, http=httpx.AsyncClient(), workers=workers)
        client = await aiohttp_client(app)
        return Bot(client=client, app=app, clock=clock)

    return factory


@pytest.fixture
async def bot(make_bot: Callable[..., Awaitable[Bot]], settings: Settings) -> Bot:
    return await make_bot(settings)


@pytest.fixture
async def live_bot(make_bot: Callable[..., Awaitable[Bot]], live_settings: Settings) -> Bot:
    return await make_bot(live_settings)


@pytest.fixture
def served_fake() -> Iterator[FakeZalo]:
    """A fresh fake Zalo on its own thread, for the service run as a process: it accepts only
    the process helpers' access token (tests/helpers/service.py)."""
    with FakeZalo(valid_tokens={ENV_ACCESS}, app_secret=APP_SECRET).serving() as server:
        yield server
