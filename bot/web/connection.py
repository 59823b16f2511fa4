"""Dashboard: "Kết nối Zalo" (/dashboard/zalo), the connection doctor's checks for admins."""

from __future__ import annotations

from aiohttp import web

from bot.features.connection.checks import examine
from bot.web.core import Viewer, page, render, runtime_of
from bot.web.words import words


@page(roles=frozenset({"admin"}))
async def connection(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    """Every check of `python -m bot doctor`, run now, with the fix of each failed one."""
    found = await examine(runtime_of(request))
    passed = all(line.ok for line in found if line.required)
    return render(
        request,
        "connection.html",
        title=words("connection_zalo_connection"),
        lines=found,
        passed=passed,
    )


def setup(app: web.Application) -> None:
    """Add this part's routes."""
    app.router.add_get("/dashboard/zalo", connection)
