"""The README's dashboard screenshots, from a month of demo data (bot/tools),
signed in as the head.

Only with SCREENSHOTS=1 (they are tracked files):

    SCREENSHOTS=1 .venv/bin/python -m pytest tests/browser/test_browser_screenshots.py
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from sqlalchemy import func
from sqlmodel import select

from bot.core.clock import FrozenClock
from bot.tools.demo import run_demo
from bot.web.core import make_session_cookie
from config.settings import Settings
from storage.db import SessionFactory
from storage.models import Payment
from tests.browser.conftest import NO_PLAYWRIGHT, TIMEOUT_MS, LiveServer, Screenshot, serving
from tests.support import HEAD, SALES

expect = pytest.importorskip("playwright.async_api", reason=NO_PLAYWRIGHT).expect

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

pytestmark = pytest.mark.skipif(
    os.environ.get("SCREENSHOTS") != "1",
    reason="makes the README's screenshots (30 days of demo data): run with SCREENSHOTS=1",
)

# Friday 27 Nov 2026, 15:30 in Vietnam: the demo's "now".
END = datetime(2026, 11, 27, 15, 30, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))


@pytest_asyncio.fixture(loop_scope="session")
async def demo_server(settings: Settings) -> AsyncIterator[LiveServer]:
    """30 days and 8 groups of demo data, then the app on it at the demo's end, on a real port."""
    await run_demo(settings, days=30, groups=8, end=END)
    async with serving(settings, FrozenClock(END), workers=False) as server:
        yield server


async def signed_in(browser: Browser, server: LiveServer, **options: Any) -> Page:
    """A page in a fresh context whose session cookie is the head's."""
    context = await browser.new_context(base_url=server.url, locale="vi-VN", **options)
    context.set_default_timeout(TIMEOUT_MS)
    cookie = make_session_cookie(server.runtime, HEAD, server.clock.now())
    await context.add_cookies([{"name": "zb_session", "value": cookie, "url": server.url}])
    return await context.new_page()


async def richest_group(sessions: SessionFactory) -> str:
    """The group with the most payment requests (the one with the chief's approval too)."""
    query = select(Payment.group_id).group_by(Payment.group_id)
    query = query.order_by(func.count().desc(), func.min(Payment.id))
    async with sessions() as db:
        return str((await db.exec(query)).first())


async def test_dashboard_screenshots_from_a_demo_month(
    browser: Browser, demo_server: LiveServer, screenshot: Screenshot
) -> None:
    expect.set_options(timeout=TIMEOUT_MS)
    page = await signed_in(browser, demo_server, viewport={"width": 1280, "height": 900})
    await page.goto("/dashboard")
    await expect(page.locator("#open-clocks tbody tr")).to_have_count(2)
    await expect(page.locator("#payments-waiting tbody tr")).to_have_count(1)
    await expect(page.locator("#open-incidents tbody tr")).to_have_count(1)
    await screenshot(page, "dashboard-overview")

    # A month of chat is a very long page: the transcript searched for the payments' story.
    group = await richest_group(demo_server.runtime.sessions)
    await page.goto(f"/dashboard/groups/{group}?q=thanh+toán")
    await expect(page.locator('#payments tr[data-status="approved"]').first).to_be_visible()
    await expect(page.locator('#payments tr[data-status="pending"]')).to_have_count(1)
    await screenshot(page, "dashboard-group")

    await page.goto(f"/dashboard/staff/{SALES}?days=30")
    await expect(page.locator("#chart-compliance svg")).to_be_visible()
    await screenshot(page, "dashboard-staff")

    await page.goto("/dashboard/reports")
    await screenshot(page, "dashboard-reports")

    await page.goto("/dashboard/directory")
    await expect(page.locator(f'table#directory tr[data-user="{SALES}"]')).to_be_visible()
    await screenshot(page, "dashboard-directory")
    await page.context.close()

    phone = await signed_in(
        browser, demo_server, viewport={"width": 390, "height": 844}, device_scale_factor=2
    )
    await phone.goto("/dashboard")
    await expect(phone.locator("#open-clocks tbody tr")).to_have_count(2)
    await screenshot(phone, "dashboard-mobile")
    await phone.context.close()
