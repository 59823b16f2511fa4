"""ZaloClient against respx on its strict defaults: every request mocked, every route called."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from bot.core.clock import FrozenClock
from bot.zalo.client import MAX_TEXT, ZaloClient
from bot.zalo.errors import ZaloAPIError, ZaloAuthError, ZaloHTTPError, is_permanent
from bot.zalo.token_store import DbTokenStore
from bot.zalo.tokens import TokenManager, TokenPair
from storage.db import SessionFactory
from tests.conftest import START

API = "https://openapi.test"
OAUTH = "https://oauth.test"
GROUP_URL = f"{API}/v3.0/oa/group/message"
CS_URL = f"{API}/v3.0/oa/message/cs"
TOKEN_URL = f"{OAUTH}/v4/oa/access_token"
ENV = TokenPair("env-access", "env-refresh", START + timedelta(hours=25))


def ok(data: dict[str, object]) -> httpx.Response:
    return httpx.Response(200, json={"data": data, "error": 0, "message": "Success"})


def fail(code: int, message: str = "refused") -> httpx.Response:
    return httpx.Response(200, json={"error": code, "message": message})


def sent_json(route: respx.Route, index: int = -1) -> dict[str, object]:
    return json.loads(route.calls[index].request.content)


@pytest.fixture
def store(sessions: SessionFactory, clock: FrozenClock) -> DbTokenStore:
    return DbTokenStore(sessions, clock=clock)


@pytest.fixture
def client(http: httpx.AsyncClient, store: DbTokenStore, clock: FrozenClock) -> ZaloClient:
    tokens = TokenManager(http, OAUTH, "app-1", "app-secret", store, clock, initial=ENV)
    return ZaloClient(http, API, tokens)


async def test_group_send_posts_recipient_and_text_with_access_token_header(zalo, client):
    route = zalo.post(GROUP_URL).mock(return_value=ok({"message_id": "m-1", "group_id": "g-1"}))
    assert await client.send_group_text("g-1", "Xin chào") == "m-1"
    request = route.calls.last.request
    assert sent_json(route) == {"recipient": {"group_id": "g-1"}, "message": {"text": "Xin chào"}}
    assert request.headers["access_token"] == "env-access"
    assert "authorization" not in request.headers


async def test_numeric_message_id_comes_back_as_string(zalo, client):
    zalo.post(GROUP_URL).mock(return_value=ok({"message_id": 123456789012345678}))
    assert await client.send_group_text("g-1", "hi") == "123456789012345678"


async def test_user_send_posts_to_the_cs_endpoint(zalo, client):
    route = zalo.post(CS_URL).mock(return_value=ok({"message_id": "m-2", "user_id": "u-1"}))
    assert await client.send_user_text("u-1", "Chào anh") == "m-2"
    assert sent_json(route) == {"recipient": {"user_id": "u-1"}, "message": {"text": "Chào anh"}}


async def test_a_cs_quote_goes_inside_the_message(zalo, client):
    route = zalo.post(CS_URL).mock(return_value=ok({"message_id": "m-3"}))
    await client.send_user_text("u-1", "ok", quote_msg_id="q-1")
    assert sent_json(route)["message"] == {"text": "ok", "quote_message_id": "q-1"}


async def test_a_group_send_never_carries_a_quote_and_costs_one_call(zalo, client):
    """Zalo's group message API documents no quote_message_id (issue #16)."""
    route = zalo.post(GROUP_URL).mock(side_effect=[fail(-201), ok({"message_id": "m-5"})])
    with pytest.raises(ZaloAPIError):
        await client.send_group_text("g-1", "ok", quote_msg_id="q-1")
    assert route.call_count == 1
    assert sent_json(route)["message"] == {"text": "ok"}


async def test_error_in_an_http_200_body_raises_api_error_with_code(zalo, client):
    zalo.post(GROUP_URL).mock(return_value=fail(-201, "group_id is invalid"))
    with pytest.raises(ZaloAPIError) as caught:
        await client.send_group_text("bad", "hi")
    assert caught.value.code == -201
    assert caught.value.message == "group_id is invalid"
    assert not isinstance(caught.value, ZaloAuthError)


@pytest.mark.parametrize(
    ("code", "retryable"),
    [(-32, True), (-100, True), (-201, False), (-230, False), (-237, False), (-403, False)],
)
async def test_api_error_codes_are_retryable_or_permanent(zalo, client, code, retryable):
    zalo.post(GROUP_URL).mock(return_value=fail(code))
    with pytest.raises(ZaloAPIError) as caught:
        await client.send_group_text("g-1", "hi")
    assert caught.value.retryable is retryable
    assert is_permanent(caught.value) is not retryable


@pytest.mark.parametrize(
    ("status", "retryable"), [(500, True), (502, True), (503, True), (429, True), (400, False)]
)
async def test_non_2xx_raises_http_error_with_status(zalo, client, status, retryable):
    zalo.post(GROUP_URL).mock(return_value=httpx.Response(status, text="nope"))
    with pytest.raises(ZaloHTTPError) as caught:
        await client.send_group_text("g-1", "hi")
    assert caught.value.status == status
    assert caught.value.retryable is retryable


@pytest.mark.parametrize("error", [httpx.ConnectError("down"), httpx.ReadTimeout("slow")])
async def test_network_errors_and_timeouts_are_retryable_with_no_status(zalo, client, error):
    zalo.post(GROUP_URL).mock(side_effect=error)
    with pytest.raises(ZaloHTTPError) as caught:
        await client.send_group_text("g-1", "hi")
    assert caught.value.status is None
    assert caught.value.retryable and not is_permanent(caught.value)


async def test_invalid_json_is_a_retryable_http_error(zalo, client):
    zalo.post(GROUP_URL).mock(return_value=httpx.Response(200, text="<html>oops</html>"))
    with pytest.raises(ZaloHTTPError) as caught:
        await client.send_group_text("g-1", "hi")
    assert caught.value.status == 200 and caught.value.retryable


async def test_rejected_quote_is_retried_once_without_it(zalo, client):
    route = zalo.post(CS_URL).mock(side_effect=[fail(-201), ok({"message_id": "m-4"})])
    assert await client.send_user_text("u-1", "hi", quote_msg_id="old") == "m-4"
    assert route.call_count == 2
    assert sent_json(route, 0)["message"] == {"text": "hi", "quote_message_id": "old"}
    assert sent_json(route, 1)["message"] == {"text": "hi"}


async def test_retryable_error_with_a_quote_is_not_resent_without_it(zalo, client):
    route = zalo.post(GROUP_URL).mock(return_value=fail(-32))
    with pytest.raises(ZaloAPIError):
        await client.send_group_text("g-1", "hi", quote_msg_id="q-1")
    assert route.call_count == 1


async def test_error_without_a_quote_is_not_retried(zalo, client):
    route = zalo.post(GROUP_URL).mock(return_value=fail(-201))
    with pytest.raises(ZaloAPIError):
        await client.send_group_text("g-1", "hi")
    assert route.call_count == 1


async def test_text_over_the_limit_is_refused_before_any_request(zalo, client):
    with pytest.raises(ValueError):
        await client.send_group_text("g-1", "x" * (MAX_TEXT + 1))


async def test_text_at_the_limit_is_sent(zalo, client):
    zalo.post(GROUP_URL).mock(return_value=ok({"message_id": "m-5"}))
    assert await client.send_group_text("g-1", "x" * MAX_TEXT) == "m-5"


@pytest.mark.parametrize("code", [-216, -220])
async def test_expired_token_is_refreshed_once_and_the_send_retried(
    zalo, client, sessions, clock, code
):
    send = zalo.post(GROUP_URL).mock(side_effect=[fail(code), ok({"message_id": "m-6"})])
    oauth = zalo.post(TOKEN_URL).mock(
        return_value=httpx.Response(
            200, json={"access_token": "new-a", "refresh_token": "new-r", "expires_in": "90000"}
        )
    )
    assert await client.send_group_text("g-1", "hi") == "m-6"
    assert oauth.call_count == 1
    assert [c.request.headers["access_token"] for c in send.calls] == ["env-access", "new-a"]
    token_request = oauth.calls.last.request
    assert token_request.headers["secret_key"] == "app-secret"
    assert token_request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qs(token_request.content.decode()) == {
        "app_id": ["app-1"],
        "grant_type": ["refresh_token"],
        "refresh_token": ["env-refresh"],
    }
    stored = await DbTokenStore(sessions).load()  # a fresh store, as after a restart
    assert stored == TokenPair("new-a", "new-r", clock.now() + timedelta(seconds=90000))


async def test_second_auth_error_after_a_refresh_propagates(zalo, client):
    send = zalo.post(GROUP_URL).mock(return_value=fail(-216))
    oauth = zalo.post(TOKEN_URL).mock(
        return_value=httpx.Response(
            200, json={"access_token": "new-a", "refresh_token": "new-r", "expires_in": 90000}
        )
    )
    with pytest.raises(ZaloAuthError) as caught:
        await client.send_group_text("g-1", "hi")
    assert caught.value.code == -216
    assert send.call_count == 2 and oauth.call_count == 1


async def test_list_members_follows_pages_until_total(zalo, client):
    def page(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params["offset"])
        size = min(50, 120 - offset)
        members = [{"user_id": offset + i, "name": f"m{offset + i}"} for i in range(size)]
        return ok({"members": members, "total": 120})

    route = zalo.get(f"{API}/v3.0/oa/group/listmember").mock(side_effect=page)
    members = await client.list_members("g-1")
    assert len(members) == 120
    assert members[0]["user_id"] == "0" and members[-1]["user_id"] == "119"
    params = [dict(c.request.url.params) for c in route.calls]
    assert params == [{"group_id": "g-1", "offset": str(o), "count": "50"} for o in (0, 50, 100)]


async def test_list_members_stops_at_an_empty_page(zalo, client):
    route = zalo.get(f"{API}/v3.0/oa/group/listmember").mock(
        side_effect=[ok({"members": [{"user_id": "u1"}] * 50, "total": 500}), ok({"members": []})]
    )
    assert len(await client.list_members("g-1")) == 50
    assert route.call_count == 2


async def test_invite_posts_group_and_member_ids(zalo, client):
    route = zalo.post(f"{API}/v3.0/oa/group/invite").mock(return_value=ok({"invited": 2}))
    assert await client.invite("g-1", ["u-1", "u-2"]) == {"invited": 2}
    assert sent_json(route) == {"group_id": "g-1", "member_user_ids": ["u-1", "u-2"]}
    assert route.calls.last.request.headers["access_token"] == "env-access"


async def test_get_group_passes_the_group_id_and_returns_data(zalo, client):
    info = {"group_info": {"group_id": "g-1", "status": "enabled"}}
    route = zalo.get(f"{API}/v3.0/oa/group/getgroup", params={"group_id": "g-1"}).mock(
        return_value=ok(info)
    )
    assert await client.get_group("g-1") == info
    assert route.called
