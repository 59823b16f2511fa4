"""The baseline: a bare aiohttp app that reads the POST body and answers 200 JSON, nothing else.

python bench/bare_app.py PORT
"""

from __future__ import annotations

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


if __name__ == "__main__":
    web.run_app(create_app(), host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
