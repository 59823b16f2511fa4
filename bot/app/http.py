"""What the app serves besides the webhook and the capabilities: /healthz, /metrics, the index,
the access log (without the webhook's 200s and without secrets) and the middleware for clients
that leave mid-request."""

from __future__ import annotations

import logging

from aiohttp import ClientPayloadError, web, web_log
from aiohttp.typedefs import Handler

from bot.app.keys import RUNTIME
from bot.app.webhook import (
    WEBHOOK_PATH,
)
from bot.core.logsafe import redact_target

log = logging.getLogger("webhook")  # the service's edge, under the name its lines always had


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


@web.middleware
async def client_gone(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A client that hangs up while sending its body is not an error of ours: a debug line,
    no traceback, no 500 (the answer goes nowhere)."""
    try:
        return await handler(request)
    except (ConnectionResetError, ClientPayloadError) as exc:
        log.debug("%s %s: the client left mid-request (%s)", request.method, request.path, exc)
        return web.Response(status=400, text="incomplete request")


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
