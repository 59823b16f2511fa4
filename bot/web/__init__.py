"""The web pages: the dashboard for staff (signed in) and the simulator (local mode only).

Each module adds its routes in `setup(app)` and is switched on in bot/app/registry.py (PAGES);
`bot.web.core` holds what they share.
"""

from __future__ import annotations

from aiohttp import web

from bot.web.core import HERE

# Scripts, styles and fetches only from this site; no inline script or style anywhere.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": CSP,
}


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """On every response as it is sent: pages, JSON, errors (404s included) and streamed
    exports alike (a middleware never sees a raised 404 or a response already streaming)."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


def setup(app: web.Application) -> None:
    """What every page shares: the security headers and /static. The pages themselves are
    listed in bot/app/registry.py (PAGES)."""
    app.on_response_prepare.append(security_headers)
    app.router.add_static("/static", HERE / "static", name="static")
