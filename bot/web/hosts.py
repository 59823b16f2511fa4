"""Which Host headers this service answers to, outside the webhook (DNS rebinding).

A page on another site can make a browser resolve its own name to 127.0.0.1 and then read
this service's answers as same-origin: the Origin check alone does not stop that, the Host
header does. Every route but the webhook (Zalo signs its events; its Host is whatever Zalo
calls) answers only to PUBLIC_URL's host, the loopback names, the address set in HOST and the
names in ALLOWED_HOSTS; anything else gets 421 and nothing else happens.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from config.settings import Settings

LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARDS = frozenset({"", "0.0.0.0", "::"})


def allowed_hosts(settings: Settings) -> frozenset[str]:
    """Host names (lower-case, no port) the service answers to."""
    names = set(LOOPBACK)
    if settings.public_url:
        names.add((urlsplit(settings.public_url).hostname or "").lower())
    if settings.host.strip().lower() not in WILDCARDS:
        names.add(settings.host.strip().lower().strip("[]"))
    names.update(name.strip().lower() for name in settings.allowed_hosts.split(",") if name.strip())
    return frozenset(names - {""})


def host_name(header: str) -> str:
    """'Example.com:8080' -> 'example.com'; '[::1]:80' -> '::1'; '' for a malformed header."""
    try:
        return (urlsplit(f"//{header}").hostname or "").lower()
    except ValueError:
        return ""


def host_guard(settings: Settings, exempt: frozenset[str]) -> Middleware:
    """A middleware refusing (421) requests whose Host is not one of allowed_hosts()."""
    allowed = allowed_hosts(settings)

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path not in exempt and host_name(request.host) not in allowed:
            return web.Response(
                status=421,
                text="Unknown Host: set PUBLIC_URL or ALLOWED_HOSTS to the name you use.\n",
            )
        return await handler(request)

    return guard
