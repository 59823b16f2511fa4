"""The client's address behind trusted proxies: for the rate limit and the sign-in throttle."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import make_mocked_request

from bot.core.clientip import client_address, parse_proxies
from bot.zalo.payloads import group_message, signed
from tests.support import GROUP, SALES

PROXY = frozenset({"10.0.0.1", "10.0.0.2"})


def request_from(peer: str, forwarded: str | None = None):
    headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}
    request = make_mocked_request("POST", "/zalo/webhook", headers=headers)
    return request.clone(remote=peer)


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("203.0.113.9", None, "203.0.113.9"),  # no proxy in between
        ("203.0.113.9", "1.2.3.4", "203.0.113.9"),  # anyone else's header is ignored
        ("10.0.0.1", "198.51.100.7", "198.51.100.7"),  # nginx names the client
        ("10.0.0.1", "1.2.3.4, 198.51.100.7", "198.51.100.7"),  # a forged first hop is skipped
        ("10.0.0.1", "198.51.100.7, 10.0.0.2", "198.51.100.7"),  # two trusted proxies
        ("10.0.0.1", "", "10.0.0.1"),  # a proxy that names nobody
    ],
)
def test_the_client_is_the_last_hop_no_trusted_proxy_added(peer, forwarded, client):
    assert client_address(request_from(peer, forwarded), PROXY) == client


def test_trusted_proxies_are_read_from_a_comma_separated_list():
    assert parse_proxies(" 127.0.0.1, ::1 ,") == frozenset({"127.0.0.1", "::1"})
    assert parse_proxies("") == frozenset()


async def test_behind_a_trusted_proxy_each_client_has_its_own_rate_limit(make_bot, settings):
    bot = await make_bot(settings.replace(webhook_rate_limit=1, trusted_proxies="127.0.0.1"))

    async def post(client_ip: str) -> int:
        raw, headers = signed(
            group_message(
                group_id=GROUP,
                sender_id=SALES,
                text="chào",
                at=bot.clock.now(),
                app_id=bot.settings.signing_app_id,
            ),
            app_id=bot.settings.signing_app_id,
            secret="not-the-key",  # the limit applies to traffic failing its signature only
        )
        headers["X-Forwarded-For"] = client_ip
        response = await bot.client.post("/zalo/webhook", data=raw, headers=headers)
        return response.status

    assert [await post("198.51.100.1"), await post("198.51.100.1")] == [200, 200]
    assert await post("198.51.100.2") == 200
    metrics = await (await bot.client.get("/metrics")).text()
    assert 'zalo_bot_webhook_events_total{outcome="rate_limited"} 1' in metrics
