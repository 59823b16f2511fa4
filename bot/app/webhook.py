"""The webhook view: POST /zalo/webhook verifies, stores and answers; everything else happens off
the request path (the inbox). Never 500: Zalo disables a webhook that keeps failing."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from bot.app.keys import RUNTIME
from bot.core.clientip import client_address
from bot.core.logsafe import QuietLog, loggable
from bot.zalo import quarantine
from bot.zalo.events import (
    EventError,
    conversation_key,
    dedupe_key,
    event_moment,
    load_body,
    verify_signature,
)

log = logging.getLogger("webhook")  # the service's edge, under the name its lines always had


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


WEBHOOK_EVENTS = "zalo_bot_webhook_events_total"


# Long on purpose: the checks in the order Zalo's contract needs them, on the hot path (no
# extra calls).
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
