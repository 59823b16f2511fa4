"""Every page goes out with headers that keep it out of frames and other sites' scripts."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/login", 200),
        ("/sim", 200),
        ("/static/app.css", 200),
        ("/healthz", 200),
        ("/nowhere", 404),  # raised, not returned: a middleware would not see it
        ("/dashboard", 302),
        ("/api/groups/x", 401),
    ],
)
async def test_every_response_forbids_framing_sniffing_and_foreign_scripts(bot, path, status):
    await bot.open_simulator()
    response = await bot.client.get(path, allow_redirects=False)
    assert response.status == status
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy


async def test_a_browser_opening_the_root_goes_to_the_dashboard(bot):
    response = await bot.client.get("/", headers={"Accept": "text/html"}, allow_redirects=False)
    assert (response.status, response.headers["Location"]) == (302, "/dashboard")
    assert (await (await bot.client.get("/")).json())["dashboard"] == "/dashboard"
