"""The service: `python webhook.py` reads the settings, applies the migrations, builds the app
with `create_app(settings)` (bot/app/factory.py) and serves it.

POST /zalo/webhook (bot/app/webhook.py) verifies, stores and answers; everything else happens
off the request path.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import sys

from aiohttp import web

from bot.app.factory import check_files, create_app
from bot.app.http import AccessLogger
from bot.core.clock import AdjustableClock, SystemClock
from bot.features.care.orders import ProductDataError
from bot.web.sim_events import SIM_STATE
from config.settings import Settings, SettingsError, load_settings
from storage.staff_file import StaffFileError

log = logging.getLogger("webhook")


WORKER_NICE = 5


def _yield_cpu_to_webhooks() -> None:
    """A worker process runs at a lower CPU priority (nice +5): under a burst, webhook
    processes on the same machine keep answering Zalo at once while the backlog, safely
    stored, waits a little longer. Where that is not allowed, it runs at normal priority."""
    try:
        os.nice(WORKER_NICE)
    except (AttributeError, OSError) as exc:
        log.info("worker keeps its CPU priority: %s", exc)


async def _freeze_startup_objects(_app: web.Application) -> None:
    """What start-up made lives as long as the process: out of the garbage collector's sight,
    a full collection (a pause every answer waits for) scans only what the work creates."""
    gc.collect()
    gc.freeze()


def _event_loop() -> asyncio.AbstractEventLoop:
    """uvloop where it is installed (Linux, macOS): the webhook's per-request overhead is mostly
    the event loop's and the socket's, which uvloop does in C. Plain asyncio otherwise."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def _banner(settings: Settings, app: web.Application) -> str:
    """What `make run` prints: where to reach the service; in local mode the simulator's link
    with the key that opens it (whoever has it can post as anyone, so it is only here)."""
    mode = "LOCAL mode: messages are printed, not sent" if settings.local_mode else "live Zalo OA"
    host = settings.listen_host
    shown = "localhost" if host in ("0.0.0.0", "::") else host
    lines = [
        f"Zalo sales-care bot ({mode}) listening on http://{shown}:{settings.port}",
        f"  webhook: http://{shown}:{settings.port}/zalo/webhook",
        f"  health:  http://{shown}:{settings.port}/healthz",
        f"  dashboard: {settings.base_url}/dashboard",
    ]
    if settings.local_mode:
        key = app[SIM_STATE].key
        lines.append(f"  simulator: {settings.base_url}/sim?key={key}  (keep this link private)")
    return "\n".join(lines)


def main() -> None:
    """Read settings (and .env), apply migrations, serve."""
    from dotenv import load_dotenv

    from storage.db import upgrade

    load_dotenv()
    try:
        settings = load_settings()
        check_files(settings)
    except (SettingsError, StaffFileError, ProductDataError) as exc:
        print(f"Cannot start: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("aiosqlite").setLevel(logging.INFO)  # its DEBUG lines carry SQL values
    # A line a second otherwise, and a "skipped" warning whenever a sweep outlasts 0.25 s.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    upgrade(settings.database_url)
    if settings.process_role == "worker":
        _yield_cpu_to_webhooks()
    # Local mode lets the simulator move time forward to show an SLA alert.
    clock = AdjustableClock() if settings.local_mode else SystemClock()
    app = create_app(settings, clock=clock)
    print(_banner(settings, app), flush=True)
    app.on_startup.append(_freeze_startup_objects)  # after the runtime's start (cleanup_ctx)
    web.run_app(
        app,
        loop=_event_loop(),
        host=settings.listen_host,
        port=settings.port,
        print=None,
        access_log_class=AccessLogger,
    )


if __name__ == "__main__":
    main()
