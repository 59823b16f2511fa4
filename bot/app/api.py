"""The integration API under /api, for ERPs and dashboards. Bearer ADMIN_TOKEN."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.app import openapi, registry
from bot.app.keys import RUNTIME
from bot.core.text import fits
from storage import repo
from storage.models import Group


@web.middleware
async def require_admin_token(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Refuse /api without `Authorization: Bearer <ADMIN_TOKEN>` (or with no token configured)."""
    if request.path.startswith("/api/"):
        expected = request.app[RUNTIME].settings.admin_token
        given = request.headers.get("Authorization", "")
        if not expected or not hmac.compare_digest(given.encode(), f"Bearer {expected}".encode()):
            return web.json_response(
                {"error": "unauthorized", "message": "send Authorization: Bearer <ADMIN_TOKEN>"},
                status=401,
            )
    return await handler(request)


async def get_group(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    group_id = request.match_info["group_id"]
    async with runtime.sessions() as db:
        # An id that no row can hold is not looked up (PostgreSQL would refuse the query).
        group = await repo.get_group(db, group_id=group_id) if fits(group_id, 64) else None
        if group is None:
            return web.json_response({"error": "not_found", "group_id": group_id}, status=404)
        body = await _group_body(db, group)
        for section in registry.GROUP_SECTIONS:
            body.update(await section(db, group))
    return web.json_response(body)


async def _group_body(db: AsyncSession, group: Group) -> dict[str, Any]:
    customer = await repo.get_customer(db, customer_id=group.customer_id)
    staff = {s.zalo_user_id: s for s in await repo.list_staff(db)}
    sales = staff.get(group.assigned_sales_id or "")
    members = await repo.group_members(db, group_id=group.group_id)
    return {
        "group_id": group.group_id,
        "name": group.name,
        "stage": group.stage,
        "customer": customer.model_dump(mode="json") if customer else None,
        "assigned_sales": {
            "zalo_user_id": group.assigned_sales_id,
            "name": sales.name if sales else None,
        }
        if group.assigned_sales_id
        else None,
        "members": [
            {
                "zalo_user_id": m.user_id,
                "joined_at": m.joined_at.isoformat(),
                "role": staff[m.user_id].role if m.user_id in staff else "customer",
                "name": staff[m.user_id].name if m.user_id in staff else None,
            }
            for m in members
        ],
        "messages": await repo.count_messages(db, group_id=group.group_id),
    }


async def get_openapi(request: web.Request) -> web.Response:
    """The OpenAPI 3.0 document of /api (bot/app/openapi.py)."""
    return web.json_response(openapi.document())


def setup(app: web.Application) -> None:
    app.middlewares.append(require_admin_token)
    app.router.add_get("/api/openapi.json", get_openapi)
    app.router.add_get("/api/groups/{group_id}", get_group)
    for setup_routes in registry.API:
        setup_routes(app)
