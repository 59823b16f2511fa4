"""Shared fixtures: a real, migrated SQLite database per test and a frozen clock."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.clock import FrozenClock
from config.settings import Settings, load_settings
from storage.db import SessionFactory, make_engine, make_sessions, upgrade
from tests.support import Bot
from webhook import create_app

# Monday 23 Nov 2026, 09:00 in Vietnam.
START = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run the real migrations once; each test gets a copy of the result."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def database_url(tmp_path: Path, migrated_template: Path) -> str:
    path = tmp_path / "bot.db"
    shutil.copy(migrated_template, path)
    return f"sqlite:///{path}"


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
