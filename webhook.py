"""The service: `python webhook.py` starts it; `create_app(settings)` builds it (tests use it too).

POST /zalo/webhook verifies, stores and answers; everything else happens off the request path.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import ClientPayloadError, web, web_log
from aiohttp.typedefs import Handler

from bot import web as pages
from bot.app import api, registry
from bot.app.keys import RUNTIME
from bot.app.runtime import build_runtime
from bot.core.clientip import client_address
from bot.core.clock import AdjustableClock, Clock, SystemClock
from bot.core.logsafe import QuietLog, loggable, redact_target
from bot.features.care.orders import ProductDataError, read_products_csv
from bot.web.hosts import host_guard
from bot.web.sim_events import SIM_STATE
from bot.zalo import quarantine
from bot.zalo.events import (
    EventError,
    conversation_key,
    dedupe_key,
    event_moment,
    load_body,
    verify_signature,
)
from config.settings import Settings, SettingsError, load_settings
from storage.staff_file import StaffFileError, read_staff_file

log = logging.getLogger("webhook")


class RateLimiter:
    """Token bucket per source address, on a monotonic clock: it protects the process, so it
    does not follow the injected business clock. In memory, per process."""

    MAX_SOURCES = 10_000

    def __init__(self, per_second: int, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.rate = float(per_second)
        self.capacity = float(per_second)  # a burst of one second's worth
        self.monotonic = monotonic
        self._buckets: dict[str, tuple[float, float]] = {}  # source -> (tokens, at)

    def check(self, source: str) -> float:
        """Take one token for `source`: 0 when allowed, else the seconds to wait."""
        if self.rate <= 0:
            return 0.0
        now = self.monotonic()
        tokens, at = self._buckets.get(source, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - at) * self.rate)
        if tokens >= 1:
            self._buckets[source] = (tokens - 1, now)
            self._forget_idle(now)
            return 0.0
        self._buckets[source] = (tokens, now)
        return (1 - tokens) / self.rate

    def _forget_idle(self, now: float) -> None:
        if len(self._buckets) <= self.MAX_SOURCES:
            return
        full = self.capacity / self.rate
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < full}


RATE_LIMITER = web.AppKey("rate_limiter", RateLimiter)
# Zalo wants its 200 within 2 s. A database that hangs instead of failing gets a 503 after
# this long, and Zalo redelivers; if the row landed after all, the redelivery finds its key
# and is answered as a duplicate, so nothing is lost or done twice.
ACK_DEADLINE = web.AppKey("ack_deadline_seconds", float)
REFUSALS = web.AppKey("refusals_log", QuietLog)  # refused traffic: a line a minute per kind
WEBHOOK_PATH = "/zalo/webhook"
SAMPLE_BEFORE = datetime(2001, 9, 9, 1, 46, 40, tzinfo=UTC)  # 10**12 ms: 12-digit timestamps


class AccessLogger(web_log.AccessLogger):
    """aiohttp's access log, less the webhook's 200s (formatting a line per event cost as much
    as storing the event, and each stored event gets its own line when it is processed), and
    with secrets taken out: a sign-in link's token, secrets in query strings, and the same in
    the Referer header (bot/core/logsafe.py)."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        if response.status == 200 and request.path == WEBHOOK_PATH:
            return
        target = redact_target(request.raw_path)
        referer = request.headers.get("Referer")
        shown_referer = redact_target(referer) if referer else None
        if target != request.raw_path or shown_referer != referer:
            headers = request.headers.copy()
            if shown_referer is not None:
                headers["Referer"] = shown_referer
            request = request.clone(rel_url=target, headers=headers)
        super().log(request, response, time)


WEBHOOK_EVENTS = "zalo_bot_webhook_events_total"


@web.middleware
async def client_gone(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A client that hangs up while sending its body is not an error of ours: a debug line,
    no traceback, no 500 (the answer goes nowhere)."""
    try:
        return await handler(request)
    except (ConnectionResetError, ClientPayloadError) as exc:
        log.debug("%s %s: the client left mid-request (%s)", request.method, request.path, exc)
        return web.Response(status=400, text="incomplete request")


async def zalo_webhook(request: web.Request) -> web.Response:
    """Verify the signature, store the raw event, answer 200. Never 500: Zalo would give up.

    Zalo saves a webhook URL only when its check gets a 200 and disables one that keeps
    failing, so everything that is not a storable event is acknowledged with 200 and has no
    effect: an empty body, no event_name, a console sample, a bad or missing signature (kept
    in the quarantine, bot/zalo/quarantine.py), a replayed timestamp. The only other answers: 413
    for a body over WEBHOOK_MAX_BYTES, 503 when a good event could not be stored (Zalo
    delivers it again). A correctly signed event is never rate limited.
    """
    runtime = request.app[RUNTIME]
    count = runtime.metrics.inc
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        count(WEBHOOK_EVENTS, "too_large")
        return _answer(413, "body too large")
    try:
        body = load_body(raw)
    except EventError:
        if raw.strip():
            count(WEBHOOK_EVENTS, "bad_request")
        body = {}
    name, timestamp = body.get("event_name"), body.get("timestamp")
    if not name or not isinstance(name, str):
        return _answer(200, "no event: webhook is reachable")  # the console's URL check
    settings = runtime.settings
    signature = request.headers.get("X-ZEvent-Signature")
    sent_at = event_moment(timestamp)
    if sent_at is None or not verify_signature(
        signature, settings.signing_app_id, raw, str(timestamp), settings.signing_secret
    ):
        return await _unverified(request, raw, body, name, signature)
    # With the built-in local secret anyone can sign a fresh event: the window would add nothing.
    # A timestamp before 2001 (12 digits, as in Zalo's documented samples) is a sample, never
    # a real event, whatever the window.
    window = settings.replay_window if settings.zalo_oa_secret_key else None
    too_old = sent_at < SAMPLE_BEFORE
    if too_old or (window is not None and abs(runtime.clock.now() - sent_at) > window):
        count(WEBHOOK_EVENTS, "replayed")
        request.app[REFUSALS].warning(
            "replay",
            "ignored %s: timestamp %s is outside WEBHOOK_REPLAY_WINDOW=%s (a replay or a sample)",
            loggable(name),
            loggable(timestamp),
            settings.webhook_replay_window,
        )
        return _answer(200, "timestamp outside the replay window: nothing stored")
    try:
        async with asyncio.timeout(request.app[ACK_DEADLINE]):  # no task per call, unlike wait_for
            new = await runtime.inbox.store(
                key=dedupe_key(body, raw),
                event_name=name,
                body=raw,
                now=runtime.clock.now(),
                conversation=conversation_key(body, settings.zalo_oa_id),
            )
    except Exception as exc:  # the database is slow or down: one line a minute, no traceback
        count(WEBHOOK_EVENTS, "unavailable")
        reason = "took too long" if isinstance(exc, TimeoutError) else loggable(exc, 200)
        request.app[REFUSALS].warning(
            "store", "could not store %s (%s); asking Zalo to redeliver", loggable(name), reason
        )
        return _answer(503, "temporarily unavailable, please retry")
    count(WEBHOOK_EVENTS, "stored" if new else "duplicate")
    return web.Response(body=_DUPLICATE if not new else _STORED, content_type="application/json")


async def _unverified(
    request: web.Request, raw: bytes, body: dict[str, Any], name: str, signature: str | None
) -> web.Response:
    """An event whose signature fails: kept in the quarantine, never processed while it fails,
    acknowledged with 200. Over WEBHOOK_RATE_LIMIT (per source) such traffic is dropped, not
    kept and not logged line by line."""
    runtime = request.app[RUNTIME]
    count = runtime.metrics.inc
    source = client_address(request, runtime.proxies)
    if request.app[RATE_LIMITER].check(source):
        count(WEBHOOK_EVENTS, "rate_limited")
        request.app[REFUSALS].warning("rate", "dropped unsigned traffic from %s", source)
        return _answer(200, "signature invalid: dropped")
    count(WEBHOOK_EVENTS, "rejected_signature")
    hint = quarantine.hint_for(runtime.settings, raw, body, signature)
    request.app[REFUSALS].warning(
        "signature",
        "quarantined %s from %s: %s signature%s",
        loggable(name),
        source,
        "missing" if not signature else "wrong",
        f" ({quarantine.HINTS[hint]})" if hint else "",
    )
    try:
        async with runtime.sessions() as db:
            await quarantine.hold(
                db,
                raw=raw,
                name=name,
                signature=signature,
                source=source,
                hint=hint,
                now=runtime.clock.now(),
                settings=runtime.settings,
            )
            await db.commit()
    except Exception as exc:  # it failed its signature: nothing of ours is lost
        request.app[REFUSALS].warning("quarantine", "could not keep it: %s", loggable(exc))
    return _answer(200, "signature invalid: kept, not processed")


_STORED = json.dumps({"ok": True, "duplicate": False}).encode()  # the answers of every event
_DUPLICATE = json.dumps({"ok": True, "duplicate": True}).encode()


def _answer(status: int, message: str) -> web.Response:
    return web.json_response({"ok": status == 200, "message": message}, status=status)


async def healthz(request: web.Request) -> web.Response:
    report = await request.app[RUNTIME].health()
    return web.json_response(report, status=200 if report["database"] == "ok" else 503)


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text format; counts only, so no auth (keep the port off the internet)."""
    text = await request.app[RUNTIME].render_metrics()
    return web.Response(
        body=text.encode("utf-8"),
        headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
    )


async def index(request: web.Request) -> web.Response:
    """A browser goes to the dashboard; anything else gets a short JSON map of the service."""
    if "text/html" in request.headers.get("Accept", ""):
        raise web.HTTPFound("/dashboard")
    settings = request.app[RUNTIME].settings
    return web.json_response(
        {
            "service": "Zalo sales-care bot",
            "mode": "local" if settings.local_mode else "live",
            "webhook": "/zalo/webhook",
            "health": "/healthz",
            "metrics": "/metrics",
            "api": "/api/groups/{group_id}",
            "dashboard": "/dashboard",
            **({"simulator": "/sim"} if settings.local_mode else {}),
        }
    )


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
    app[REFUSALS] = QuietLog(log)

    async def lifecycle(_app: web.Application) -> AsyncIterator[None]:
        await runtime.start(workers=workers)
        yield
        await runtime.stop()

    app.cleanup_ctx.append(lifecycle)
    app.router.add_post(WEBHOOK_PATH, zalo_webhook)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/", index)
    api.setup(app)
    pages.setup(app)
    for setup_page in registry.PAGES:
        setup_page(app)
    return app


def _check_files(settings: Settings) -> None:
    """The staff and product files must be readable before anything starts."""
    read_staff_file(settings.staff_file)
    products = Path(settings.products_file)
    if products.exists():
        read_products_csv(products.read_text(encoding="utf-8-sig"))


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
        _check_files(settings)
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
