"""create_app(settings): the composition root. The runtime (one cleanup_ctx for its resources),
the webhook, health and metrics, and what bot/app/registry.py switches on: the API routes and
the pages. Tests build the app with it too."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from bot import web as pages
from bot.app import api, registry
from bot.app.http import client_gone, healthz, index, metrics
from bot.app.keys import RUNTIME
from bot.app.runtime import build_runtime
from bot.app.webhook import (
    ACK_DEADLINE,
    RATE_LIMITER,
    REFUSALS,
    WEBHOOK_PATH,
    RateLimiter,
    zalo_webhook,
)
from bot.core.clock import Clock, SystemClock
from bot.core.logsafe import QuietLog
from bot.features.care.orders import read_products_csv
from bot.web.hosts import host_guard
from config.settings import Settings
from storage.staff_file import read_staff_file


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    http: object | None = None,
    workers: bool = True,
) -> web.Application:
    """The aiohttp application with its runtime; the only composition root."""
    runtime = build_runtime(settings, clock=clock or SystemClock(), http=http)  # type: ignore[arg-type]
    app = web.Application(
        client_max_size=settings.webhook_max_bytes,
        middlewares=[client_gone, host_guard(settings, exempt=frozenset({WEBHOOK_PATH}))],
    )
    app[RUNTIME] = runtime
    app[RATE_LIMITER] = RateLimiter(settings.webhook_rate_limit)
    app[ACK_DEADLINE] = 1.5
    app[REFUSALS] = QuietLog(logging.getLogger("webhook"))

    # One cleanup context per resource, closed in the reverse order: the workers stop first,
    # then the Zalo client, then the database.
    async def database(_app: web.Application) -> AsyncIterator[None]:
        yield
        await runtime.close_database()

    async def zalo_http(_app: web.Application) -> AsyncIterator[None]:
        yield
        await runtime.http.aclose()

    async def state(_app: web.Application) -> AsyncIterator[None]:
        await runtime.load()
        yield

    async def work(_app: web.Application) -> AsyncIterator[None]:
        if workers:
            await runtime.start_workers()
        yield
        await runtime.stop_workers()

    app.cleanup_ctx.extend([database, zalo_http, state, work])
    app.router.add_post(WEBHOOK_PATH, zalo_webhook)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/", index)
    api.setup(app)
    pages.setup(app)
    for setup_page in registry.PAGES:
        setup_page(app)
    return app


def check_files(settings: Settings) -> None:
    """The staff and product files must be readable before anything starts."""
    read_staff_file(settings.staff_file)
    products = Path(settings.products_file)
    if products.exists():
        read_products_csv(products.read_text(encoding="utf-8-sig"))
