"""The service: `python webhook.py` starts it; `create_app(settings)` builds it (tests use it too).

POST /zalo/webhook verifies, stores and answers; everything else happens off the request path.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from bot import api
from bot.appkeys import RUNTIME
from bot.clock import Clock, SystemClock
from bot.events import EventError, dedupe_key, load_body, verify_signature
from bot.orders import ProductDataError, read_products_csv
from bot.runtime import build_runtime
from config.settings import Settings, SettingsError, load_settings
from storage.staff_file import StaffFileError, read_staff_file

log = logging.getLogger("webhook")


async def zalo_webhook(request: web.Request) -> web.Response:
    """Verify the signature, store the raw event, answer 200. Never 500: Zalo would give up."""
    runtime = request.app[RUNTIME]
    try:
        raw = await request.read()
        body = load_body(raw)
    except web.HTTPRequestEntityTooLarge:
        return _answer(413, "body too large")
    except EventError as exc:
        return _answer(400, str(exc))
    name = body.get("event_name")
    if not name:
        return _answer(200, "no event: webhook is reachable")  # the console's URL check
    timestamp = body.get("timestamp")
    if not isinstance(name, str) or not str(timestamp or "").isdecimal():
        return _answer(400, "event_name must be a string and timestamp a number")
    settings = runtime.settings
    signature = request.headers.get("X-ZEvent-Signature")
    if not verify_signature(
        signature, settings.signing_app_id, raw, str(timestamp), settings.signing_secret
    ):
        log.warning(
            "rejected %s from %s: %s signature",
            name,
            request.remote,
            "missing" if not signature else "wrong",
        )
        return _answer(401, "invalid X-ZEvent-Signature")
    try:
        new = await runtime.inbox.store(
            key=dedupe_key(body, raw), event_name=name, body=raw, now=runtime.clock.now()
        )
    except Exception:
        log.exception("could not store %s; asking Zalo to redeliver", name)
        return _answer(503, "temporarily unavailable, please retry")
    return web.json_response({"ok": True, "duplicate": not new})


def _answer(status: int, message: str) -> web.Response:
    return web.json_response({"ok": status == 200, "message": message}, status=status)


async def healthz(request: web.Request) -> web.Response:
    report = await request.app[RUNTIME].health()
    return web.json_response(report, status=200 if report["database"] == "ok" else 503)


async def index(request: web.Request) -> web.Response:
    settings = request.app[RUNTIME].settings
    return web.json_response(
        {
            "service": "Zalo sales-care bot",
            "mode": "local" if settings.local_mode else "live",
            "webhook": "/zalo/webhook",
            "health": "/healthz",
            "api": "/api/groups/{group_id}",
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
    app = web.Application(client_max_size=settings.webhook_max_bytes)
    app[RUNTIME] = runtime

    async def lifecycle(_app: web.Application) -> AsyncIterator[None]:
        await runtime.start(workers=workers)
        yield
        await runtime.stop()

    app.cleanup_ctx.append(lifecycle)
    app.router.add_post("/zalo/webhook", zalo_webhook)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/", index)
    api.setup(app)
    return app


def _check_files(settings: Settings) -> None:
    """The staff and product files must be readable before anything starts."""
    read_staff_file(settings.staff_file)
    products = Path(settings.products_file)
    if products.exists():
        read_products_csv(products.read_text(encoding="utf-8-sig"))


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
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # a line a second otherwise
    upgrade(settings.database_url)
    mode = "LOCAL mode: messages are printed, not sent" if settings.local_mode else "live Zalo OA"
    shown_host = "localhost" if settings.host in ("0.0.0.0", "::") else settings.host
    print(
        f"Zalo sales-care bot ({mode}) listening on http://{shown_host}:{settings.port}\n"
        f"  webhook: http://{shown_host}:{settings.port}/zalo/webhook\n"
        f"  health:  http://{shown_host}:{settings.port}/healthz",
        flush=True,
    )
    web.run_app(create_app(settings), host=settings.host, port=settings.port, print=None)


if __name__ == "__main__":
    main()
