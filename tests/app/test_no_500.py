"""No route answers 500 to any input (issue #15).

Every route of the real app, signed in as an admin (dashboard session, API token, simulator
session, CSRF token where a form wants one), gets the probe's bodies: deeply nested JSON,
invalid JSON, JSON of the wrong shape and types, a very long string, binary garbage, an empty
body, a form. Whatever it answers, it is not a 5xx (the webhook's 503 means "store failed,
redeliver" and never happens here).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.conftest import ADMIN_TOKEN
from tests.helpers.web import sign_in
from tests.support import ADMIN, GROUP, Bot

DEEP = "[" * 100_000 + "]" * 100_000
BODIES: list[tuple[str, bytes | str]] = [
    ("deep-array", DEEP),
    ("deep-object", '{"a":' * 50_000 + "1" + "}" * 50_000),
    ("deep-in-a-field", '{"customer": ' + "[" * 5000 + "]" * 5000 + ', "items": []}'),
    ("invalid", "{not json"),
    ("wrong-types", '{"customer_id": "1", "staff_id": 5, "items": "x", "minutes": "9"}'),
    ("list", "[1, 2, 3]"),
    ("huge-number", "9" * 5000),
    ("long-string", '"' + "a" * 200_000 + '"'),
    ("garbage", b"\xff\xfe\x00\x81" * 100),
    ("empty", ""),
    ("form", "username=a&password=b&csrf=x&user=1"),
]
FILLERS = {
    "group_id": GROUP,
    "user_id": ADMIN,
    "name": "sla",
    "token": "x" * 43,
    "order_id": "ERP-1",
    "inbox_id": "1",
    "filename": "x",
}


def _paths(bot: Bot) -> list[tuple[str, str]]:
    found = set()
    for route in bot.app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter") or info.get("prefix")
        if not path or route.method in ("HEAD", "OPTIONS", "*"):
            continue
        if "prefix" in info:  # static files
            path = f"{path}/app.css"
        for key, value in FILLERS.items():
            path = path.replace("{" + key + "}", value)
        path = re.sub(r"\{[^}]+\}", "x", path)
        found.add((route.method, path))
    return sorted(found)


@pytest.fixture
async def admin(bot: Bot) -> Bot:
    await bot.open_simulator()
    sign_in(bot, ADMIN)
    return bot


async def test_the_walk_reaches_every_kind_of_route(admin: Bot) -> None:
    paths = {path for _, path in _paths(admin)}
    for expected in ("/zalo/webhook", "/api/orders", "/sim/send", "/dashboard", "/login"):
        assert expected in paths


@pytest.mark.parametrize(("kind", "body"), BODIES, ids=[kind for kind, _ in BODIES])
async def test_no_route_answers_5xx_to_the_probes_bodies(admin: Bot, kind: str, body: Any) -> None:
    page = await (await admin.client.get("/dashboard/directory")).text()
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    content_type = "application/x-www-form-urlencoded" if kind == "form" else "application/json"
    headers = {
        "Authorization": f"Bearer {ADMIN_TOKEN}",
        "X-Sim": "1",
        "Content-Type": content_type,
    }
    data = body
    if kind == "form" and csrf:
        data = f"{body}&csrf={csrf[1]}"
    failures = []
    for method, path in _paths(admin):
        send = data if method in ("POST", "PUT", "PATCH", "DELETE") else None
        response = await admin.client.request(
            method, path, data=send, headers=headers, allow_redirects=False
        )
        if response.status >= 500:
            failures.append((method, path, response.status))
    assert failures == []
