"""Local mode is not an open door (issue #15).

In local mode the simulator posts as anyone, admins included, and /sim/feed showed anyone's
1:1 chat with the OA, sign-in links included: reaching the port made anyone an admin. Now the
service listens on 127.0.0.1 unless HOST says otherwise, every route but the webhook answers
only to known Host names (DNS rebinding), and the simulator needs the key printed on the
console, whose session sees only the 1:1 chat of the identity it plays.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.web.hosts import allowed_hosts, host_name
from bot.web.sim_events import SIM_STATE
from bot.zalo.payloads import signed
from tests.support import ADMIN, SALES
from webhook import _banner

HEADERS = {"X-Sim": "1"}


# ------------------------------------------------------------------ where it listens


def test_local_mode_listens_on_loopback_unless_host_is_set(settings: Any, live_settings: Any):
    assert settings.replace(host="").listen_host == "127.0.0.1"
    assert live_settings.replace(host="").listen_host == "0.0.0.0"
    assert settings.replace(host="0.0.0.0").listen_host == "0.0.0.0"  # said explicitly


async def test_make_run_prints_the_address_and_the_simulators_private_link(bot: Any) -> None:
    banner = _banner(bot.settings.replace(host=""), bot.app)
    assert "listening on http://127.0.0.1:8080" in banner
    assert f"/sim?key={bot.app[SIM_STATE].key}" in banner


async def test_live_mode_prints_no_simulator_link(live_bot: Any) -> None:
    assert "/sim" not in _banner(live_bot.settings, live_bot.app)


# ------------------------------------------------------------------ the simulator's key


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/sim", None),
        ("GET", f"/sim/feed?user={ADMIN}", None),
        ("POST", "/sim/send", {"sender": ADMIN, "text": "/dangnhap"}),
        ("POST", "/sim/identity", {"user": ADMIN}),
        ("POST", "/sim/clock", {"minutes": 5}),
    ],
)
async def test_without_the_consoles_key_the_simulator_refuses_everything(
    bot: Any, method: str, path: str, body: Any
) -> None:
    response = await bot.client.request(method, path, json=body, headers=HEADERS)
    assert response.status == 403
    assert "khoá" in await response.text()
    assert await bot.outbox() == []


async def test_a_wrong_key_opens_nothing(bot: Any) -> None:
    response = await bot.client.get("/sim?key=guessed", allow_redirects=False)
    assert response.status == 403
    assert "zb_sim" not in response.cookies
    assert (await bot.client.get("/sim")).status == 403


async def test_the_consoles_link_opens_a_session_and_drops_the_key_from_the_address(
    bot: Any,
) -> None:
    key = bot.app[SIM_STATE].key
    response = await bot.client.get(f"/sim?key={key}&group=g-1", allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/sim?group=g-1"
    cookie = response.cookies["zb_sim"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict"
    assert (await bot.client.get("/sim")).status == 200


async def test_a_session_reads_only_the_private_chat_of_the_identity_it_plays(bot: Any) -> None:
    await bot.open_simulator()
    admin = {"group": "sim-group-1", "sender": ADMIN, "text": "/dangnhap", "direct": True}
    assert (await bot.client.post("/sim/send", json=admin, headers=HEADERS)).status == 200
    sales = {"user": SALES}
    assert (await bot.client.post("/sim/identity", json=sales, headers=HEADERS)).status == 200
    feed = await (await bot.client.get("/sim/feed", params={"user": ADMIN})).json()
    assert feed["dm"] == []
    assert "/login/" not in str(feed)


# ------------------------------------------------------------------ the Host header


@pytest.mark.parametrize("path", ["/sim", "/dashboard", "/login", "/healthz", "/api/groups/x"])
async def test_a_foreign_host_header_is_refused_everywhere_but_the_webhook(
    bot: Any, path: str
) -> None:
    await bot.open_simulator()
    response = await bot.client.get(path, headers={"Host": "attacker.example"})
    assert response.status == 421


async def test_the_webhook_answers_whatever_the_host(bot: Any) -> None:
    body = bot.message("xin chào")
    raw, headers = signed(
        body, app_id=bot.settings.signing_app_id, secret=bot.settings.signing_secret
    )
    response = await bot.client.post(
        "/zalo/webhook", data=raw, headers={**headers, "Host": "zalo-calls-us.example"}
    )
    assert response.status == 200


async def test_public_url_host_and_allowed_hosts_are_answered(make_bot: Any, settings: Any):
    bot = await make_bot(
        settings.replace(public_url="https://bot.example.vn", allowed_hosts="monitor.lan, 10.0.0.5")
    )
    for host in ("bot.example.vn", "BOT.example.vn:443", "monitor.lan", "10.0.0.5:8080"):
        assert (await bot.client.get("/healthz", headers={"Host": host})).status == 200, host
    assert (await bot.client.get("/healthz", headers={"Host": "evil.vn"})).status == 421


@pytest.mark.parametrize(
    ("header", "name"),
    [("Example.com:8080", "example.com"), ("[::1]:80", "::1"), ("127.0.0.1", "127.0.0.1"),
     ("bad[host", ""), ("", "")],
)  # fmt: skip
def test_host_names_are_read_without_port_or_case(header: str, name: str) -> None:
    assert host_name(header) == name


def test_loopback_names_are_always_allowed(settings: Any) -> None:
    assert {"localhost", "127.0.0.1", "::1"} <= allowed_hosts(settings)
