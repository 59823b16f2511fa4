"""Fixtures for browser tests: one headless Chromium per session, the real app per test.

Use them like this (every test in this folder runs in the session's event loop, which the
shared browser needs; that is set here, nothing to mark):

    async def test_something(page, live_server, screenshot):
        await page.goto("/sim")                       # relative to live_server.url
        await expect(page.locator("#sla-status")).to_contain_text("...")
        live_server.clock.advance(minutes=15)         # the FrozenClock the app runs on; the
                                                      # workers act on it within a second
        await screenshot(page, "name")                # docs/screenshots/name.png, SCREENSHOTS=1

`live_server` runs create_app(settings, clock=FrozenClock(START), workers=True) on
127.0.0.1 with a free port, with the `settings` and `clock` fixtures of tests/conftest.py
(local mode, a fresh database; override `settings` in a module for other values);
`live_server.runtime` is its Runtime. `browser` is the session's Chromium; `page` is a fresh
context and page per test (1280x900, Vietnamese locale, base URL = live_server.url).

A test module starts with `expect = pytest.importorskip("playwright.async_api",
reason=NO_PLAYWRIGHT).expect`, so that it is skipped rather than broken without Playwright.
The whole folder is skipped, with the reason, when Playwright or Chromium is missing
(CHROMIUM_PATH, default /usr/bin/chromium; `make test` installs it when it can), and in the
PostgreSQL pass: browser tests run once, in the SQLite pass.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web

from bot.app.factory import create_app
from bot.app.keys import RUNTIME
from bot.app.runtime import Runtime
from bot.core.clock import FrozenClock
from bot.web.sim_data import CUSTOMER_ID
from bot.web.sim_events import SIM_STATE
from bot.web.simulator import SIM_COOKIE
from config.settings import Settings
from tests.conftest import ON_POSTGRESQL

HERE = Path(__file__).resolve().parent
SCREENSHOTS = HERE.parent.parent / "docs" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM_PATH") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
NO_PLAYWRIGHT = "the playwright package is not installed (pip install -e '.[dev]')"
TIMEOUT_MS = 15_000  # for every auto-waiting expect() and action; a loaded 2-core CI is slow


def skip_reason() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if ON_POSTGRESQL:
        return "browser tests run once, in the SQLite pass"
    if importlib.util.find_spec("playwright") is None:
        return NO_PLAYWRIGHT
    if not os.access(CHROMIUM, os.X_OK):
        return f"no Chromium at {CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)"
    return None


SKIP = skip_reason()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run this folder's tests in the session loop (the shared browser lives there), or skip."""
    for item in items:
        if not item.path.is_relative_to(HERE):
            continue
        if SKIP:
            item.add_marker(pytest.mark.skip(reason=SKIP))
        else:
            item.add_marker(pytest.mark.asyncio(loop_scope="session"), append=False)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Any]:
    """One headless Chromium for the whole session."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        await chromium.close()


@dataclass
class LiveServer:
    """The real app serving on a real port."""

    url: str
    app: web.Application
    clock: FrozenClock

    @property
    def runtime(self) -> Runtime:
        return self.app[RUNTIME]


@contextlib.asynccontextmanager
async def serving(
    settings: Settings, clock: FrozenClock, *, workers: bool
) -> AsyncIterator[LiveServer]:
    """create_app(settings, clock=clock, workers=…) on 127.0.0.1:<free port>, until the end."""
    app = create_app(settings, clock=clock, workers=workers)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", app, clock)
    finally:
        await runner.cleanup()


@pytest_asyncio.fixture(loop_scope="session")
async def live_server(settings: Settings, clock: FrozenClock) -> AsyncIterator[LiveServer]:
    """create_app(settings, clock=FrozenClock(START), workers=True) on 127.0.0.1:<free port>."""
    async with serving(settings, clock, workers=True) as server:
        yield server


@pytest_asyncio.fixture(loop_scope="session")
async def page(browser: Any, live_server: LiveServer) -> AsyncIterator[Any]:
    """A fresh context and page (1280x900, Vietnamese) whose base URL is `live_server`."""
    from playwright.async_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    context = await browser.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 900}, locale="vi-VN"
    )
    context.set_default_timeout(TIMEOUT_MS)
    if live_server.runtime.settings.local_mode:  # the simulator's session, as the console's
        state = live_server.app[SIM_STATE]  # link would open it (tests/web/test_sim_access.py)
        session = state.open_session(CUSTOMER_ID)
        cookie = {"name": SIM_COOKIE, "value": session, "url": f"{live_server.url}/sim"}
        await context.add_cookies([cookie])
    tab = await context.new_page()
    yield tab
    await context.close()


Screenshot = Callable[..., Awaitable[None]]


@pytest.fixture
def screenshot() -> Screenshot:
    """`await screenshot(page, "name")` saves docs/screenshots/name.png, only when SCREENSHOTS=1
    (they are tracked files: a normal test run must not rewrite them)."""

    async def shoot(page: Any, name: str, *, full_page: bool = True) -> None:
        if os.environ.get("SCREENSHOTS") == "1":
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)

    return shoot
