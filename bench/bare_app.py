"""The baseline: a bare aiohttp app that reads the POST body and answers 200 JSON, nothing else.
It runs on the same event loop as the service (uvloop where installed), so the comparison is
of the work alone.

python bench/bare_app.py PORT
"""

from __future__ import annotations

import asyncio
import sys

from aiohttp import web


async def accept(request: web.Request) -> web.Response:
    """Read the whole body, answer what the webhook answers for a new event."""
    await request.read()
    return web.json_response({"ok": True, "duplicate": False})


async def healthz(_request: web.Request) -> web.Response:
    """Ready check for the bench."""
    return web.json_response({"database": "ok", "inbox_pending": 0})


def create_app() -> web.Application:
    """The app: POST /zalo/webhook and GET /healthz."""
    app = web.Application()
    app.router.add_post("/zalo/webhook", accept)
    app.router.add_get("/healthz", healthz)
    return app


def event_loop() -> asyncio.AbstractEventLoop:
    """The service's choice (webhook.py): uvloop when installed."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


if __name__ == "__main__":
    port = int(sys.argv[1])
    app = create_app()
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, loop=event_loop())
