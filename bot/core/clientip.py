"""Who is asking: the client's address, seen through the reverse proxies we trust.

Behind nginx every request comes from the proxy's address, so a per-address limit would lump
all clients together. With TRUSTED_PROXIES set, X-Forwarded-For is read from right to left,
skipping trusted hops, and the first untrusted one is the client. A header sent by anyone
else is ignored: only a trusted proxy can name the client.
"""

from __future__ import annotations

from aiohttp import web


def parse_proxies(value: str) -> frozenset[str]:
    """'127.0.0.1, ::1' -> {'127.0.0.1', '::1'}."""
    return frozenset(part.strip() for part in value.split(",") if part.strip())


def client_address(request: web.Request, trusted: frozenset[str]) -> str:
    """The client's IP address, or the direct peer when it is not a trusted proxy."""
    remote = request.remote or "unknown"
    if remote not in trusted:
        return remote
    hops = [hop.strip() for hop in request.headers.get("X-Forwarded-For", "").split(",")]
    for hop in reversed([hop for hop in hops if hop]):
        if hop not in trusted:
            return hop
    return remote
