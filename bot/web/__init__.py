"""The web pages: the dashboard for staff (signed in) and the simulator (local mode only).

Each module adds its routes in `setup(app)`; `bot.web.core` holds what they share.
"""

from __future__ import annotations

from aiohttp import web

from bot.web.core import HERE

# Scripts, styles and fetches only from this site; no inline script or style anywhere.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


@web.middleware
async def security_headers(request: web.Request, handler: web.RequestHandler) -> web.StreamResponse:
    response = await handler(request)
    if request.path.startswith(("/dashboard", "/login", "/logout", "/sim", "/static")):
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Content-Security-Policy", CSP)
    return response


def setup(app: web.Application) -> None:
    from bot.web import auth, directory, exports, groups, overview, reports, simulator, staff

    app.middlewares.append(security_headers)
    app.router.add_static("/static", HERE / "static", name="static")
    for module in (auth, overview, groups, staff, directory, reports, exports, simulator):
        module.setup(app)
