"""TokenManager and DbTokenStore: stored pair wins, rotation is saved first, single-flight."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta

import httpx
import pytest
from sqlmodel import select

from bot.core.clock import FrozenClock
from bot.zalo.errors import ZaloAuthError, ZaloHTTPError
from bot.zalo.token_store import DbTokenStore
from bot.zalo.tokens import REFRESH_MARGIN, TokenManager, TokenPair
from storage.db import SessionFactory
from storage.models import ZaloToken
from tests.conftest import START
from tests.helpers.tokens import OAUTH, TOKEN_URL, granted, refused

ENV = TokenPair("env-access", "env-refresh", START + timedelta(hours=25))
SECRETS = ("env-access", "env-refresh", "new-a", "new-r", "db-access", "db-refresh", "app-secret")


@pytest.fixture
def store(sessions: SessionFactory, clock: FrozenClock) -> DbTokenStore:
    return DbTokenStore(sessions, clock=clock)


@pytest.fixture
def manager(http, store, clock):
    def build(initial: TokenPair | None = ENV) -> TokenManager:
        return TokenManager(http, OAUTH, "app-1", "app-secret", store, clock, initial=initial)

    return build


async def test_empty_store_is_seeded_from_the_environment(zalo, manager, sessions):
    assert await manager().access_token() == "env-access"
    assert await DbTokenStore(sessions).load() == ENV


async def test_stored_pair_wins_over_the_environment(zalo, manager, store):
    stored = TokenPair("db-access", "db-refresh", START + timedelta(hours=20))
    await store.save(stored)
    assert await manager().access_token() == "db-access"
    assert await store.load() == stored


async def test_no_token_anywhere_raises_auth_error(zalo, manager):
    with pytest.raises(ZaloAuthError) as caught:
        await manager(initial=None).access_token()
    assert caught.value.code == -216


@pytest.mark.parametrize("expires_in", ["90000", 90000])
async def test_refresh_saves_the_rotated_pair_before_returning(
    zalo, manager, sessions, clock, expires_in
):
    oauth = zalo.post(TOKEN_URL).mock(return_value=granted(expires_in))
    assert await manager().refresh(stale="env-access") == "new-a"
    expected = TokenPair("new-a", "new-r", clock.now() + timedelta(seconds=90000))
    assert await DbTokenStore(sessions).load() == expected
    assert oauth.calls.last.request.headers["secret_key"] == "app-secret"


async def test_after_a_restart_the_stored_pair_beats_a_stale_environment(zalo, manager):
    oauth = zalo.post(TOKEN_URL).mock(return_value=granted())
    await manager().refresh(stale="env-access")
    restarted = manager(initial=ENV)  # the environment still holds the dead pair
    assert await restarted.access_token() == "new-a"
    assert oauth.call_count == 1


async def test_token_expiring_within_the_margin_is_refreshed_first(zalo, manager, clock):
    oauth = zalo.post(TOKEN_URL).mock(return_value=granted())
    tokens = manager()
    clock.advance(ENV.expires_at - clock.now() - REFRESH_MARGIN + timedelta(minutes=1))
    assert await tokens.access_token() == "new-a"
    assert oauth.call_count == 1


async def test_token_with_time_to_spare_is_not_refreshed(zalo, manager, clock):
    clock.advance(hours=22)  # three hours left
    assert await manager().access_token() == "env-access"


async def test_only_a_refresh_token_in_the_environment_is_enough(zalo, manager):
    oauth = zalo.post(TOKEN_URL).mock(return_value=granted())
    assert await manager(initial=TokenPair("", "env-refresh", None)).access_token() == "new-a"
    assert oauth.call_count == 1


async def test_refresh_if_expiring_only_refreshes_near_expiry(zalo, manager, clock):
    oauth = zalo.post(TOKEN_URL).mock(return_value=granted())
    tokens = manager()
    assert await tokens.refresh_if_expiring() is False
    clock.advance(hours=24)
    assert await tokens.refresh_if_expiring() is True
    assert oauth.call_count == 1


async def test_concurrent_refreshes_call_zalo_once(zalo, manager):
    oauth = zalo.post(TOKEN_URL).mock(return_value=granted())
    tokens = manager()
    results = await asyncio.gather(*(tokens.refresh(stale="env-access") for _ in range(5)))
    assert results == ["new-a"] * 5
    assert oauth.call_count == 1


async def test_a_pair_refreshed_by_another_process_is_used_without_calling_zalo(
    zalo, manager, store
):
    tokens = manager()
    await tokens.access_token()
    other = TokenPair("db-access", "db-refresh", START + timedelta(hours=25))
    await store.save(other)  # another process rotated the pair meanwhile
    assert await tokens.refresh(stale="env-access") == "db-access"


async def test_refused_refresh_raises_auth_error_and_is_reported(zalo, manager, store):
    zalo.post(TOKEN_URL).mock(return_value=refused())
    tokens = manager()
    with pytest.raises(ZaloAuthError) as caught:
        await tokens.refresh(stale="env-access")
    assert caught.value.code == -14020
    assert "-14020" in tokens.state()["last_refresh_error"]
    assert await store.load() == ENV


async def test_a_grant_without_access_token_is_an_auth_error(zalo, manager):
    zalo.post(TOKEN_URL).mock(return_value=httpx.Response(200, json={"expires_in": "90000"}))
    with pytest.raises(ZaloAuthError):
        await manager().refresh(stale="env-access")


async def test_oauth_server_error_is_retryable(zalo, manager):
    zalo.post(TOKEN_URL).mock(return_value=httpx.Response(503))
    tokens = manager()
    with pytest.raises(ZaloHTTPError) as caught:
        await tokens.refresh(stale="env-access")
    assert caught.value.retryable and caught.value.status == 503
    assert tokens.state()["last_refresh_error"] is not None


async def test_failed_early_refresh_keeps_the_live_token_and_backs_off(zalo, manager, clock):
    oauth = zalo.post(TOKEN_URL).mock(return_value=refused())
    tokens = manager()
    clock.advance(hours=24)  # one hour left
    assert await tokens.access_token() == "env-access"
    assert await tokens.access_token() == "env-access"
    assert oauth.call_count == 1
    assert tokens.state()["token"] == "expiring"


async def test_success_clears_the_last_refresh_error(zalo, manager):
    zalo.post(TOKEN_URL).mock(side_effect=[refused(), granted()])
    tokens = manager()
    with pytest.raises(ZaloAuthError):
        await tokens.refresh(stale="env-access")
    await tokens.refresh(stale="env-access")
    assert tokens.state()["last_refresh_error"] is None


@pytest.mark.parametrize(
    ("initial", "advance", "status"),
    [
        (ENV, timedelta(0), "valid"),
        (ENV, timedelta(hours=24), "expiring"),
        (ENV, timedelta(hours=26), "expired"),
        (TokenPair("env-access", "env-refresh", None), timedelta(0), "unknown_expiry"),
        (None, timedelta(0), "missing"),
    ],
)
async def test_state_reports_the_token_status(zalo, manager, clock, initial, advance, status):
    tokens = manager(initial=initial)
    await tokens.load()
    clock.advance(advance)
    state = tokens.state()
    assert state["token"] == status
    assert state["expires_at"] == (
        initial.expires_at.isoformat() if initial and initial.expires_at else None
    )


async def test_state_errors_and_our_logs_never_contain_token_values(zalo, manager, caplog):
    caplog.set_level(logging.DEBUG)
    zalo.post(TOKEN_URL).mock(side_effect=[refused(), granted()])
    tokens = manager()
    with pytest.raises(ZaloAuthError) as caught:
        await tokens.refresh(stale="env-access")
    text = json.dumps(tokens.state()) + str(caught.value)
    await tokens.refresh(stale="env-access")
    ours = [r.getMessage() for r in caplog.records if r.name.startswith(("bot", "httpx"))]
    assert any("refreshed" in line for line in ours)
    text += json.dumps(tokens.state()) + "\n".join(ours)
    assert not [secret for secret in SECRETS if secret in text]


async def test_store_upserts_one_row_stamped_by_the_clock(sessions, clock):
    store = DbTokenStore(sessions, clock=clock)
    await store.save(ENV)
    clock.advance(minutes=5)
    await store.save(TokenPair("new-a", "new-r", None))
    async with sessions() as db:
        rows = (await db.exec(select(ZaloToken))).all()
    assert [(r.name, r.access_token, r.expires_at, r.updated_at) for r in rows] == [
        ("oa", "new-a", None, clock.now())
    ]
