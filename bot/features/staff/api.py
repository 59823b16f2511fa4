"""Care assignments through the API: GET, POST and DELETE /api/care/assignments.

The same rows as /phancong in the chat: a staff member cares for a product group
(CARE_MODE=by_product) or for one customer (overrides the assigned sales in by_customer).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlmodel import col, select

from bot.app.keys import RUNTIME
from bot.core.jsonbody import BadJSON, read_json
from bot.core.text import fits
from bot.features.care.api import MAX_ROW_ID
from storage import repo
from storage.models import CareAssignment, Customer


def _view(row: CareAssignment) -> dict[str, Any]:
    return {
        "id": row.id,
        "staff_id": row.staff_id,
        "product_group": row.product_group,
        "customer_id": row.customer_id,
    }


def _text_fits(value: Any, max_chars: int) -> bool:
    return isinstance(value, str) and fits(value, max_chars)


def _row_id(value: Any) -> bool:
    """A whole number (or its digits) that can be a row id."""
    if isinstance(value, str):
        value = int(value) if value.isdecimal() and len(value) < 12 else None
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ROW_ID


def _bad(message: str) -> web.Response:
    return web.json_response({"error": "bad_request", "message": message}, status=400)


async def list_assignments(request: web.Request) -> web.Response:
    async with request.app[RUNTIME].sessions() as db:
        rows = (await db.exec(select(CareAssignment).order_by(col(CareAssignment.id)))).all()
    return web.json_response(
        {
            "care_mode": request.app[RUNTIME].settings.care_mode,
            "assignments": [_view(r) for r in rows],
        }
    )


async def add_assignment(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    try:
        body = await read_json(request)
    except BadJSON as exc:
        return _bad(str(exc))
    if not isinstance(body, dict) or not _text_fits(body.get("staff_id"), 64):
        return _bad("staff_id (a Zalo user id string) is required")
    group, customer_id = body.get("product_group"), body.get("customer_id")
    if (group is None) == (customer_id is None):
        return _bad("give exactly one of product_group and customer_id")
    if group is not None and not (_text_fits(group, 100) and group.strip()):
        return _bad("product_group must be text of 1 to 100 characters")
    # an integer, as the OpenAPI document says: "1" is refused, not stored as text
    if customer_id is not None and (isinstance(customer_id, str) or not _row_id(customer_id)):
        return _bad(f"customer_id must be a whole number from 1 to {MAX_ROW_ID} (not text)")
    async with runtime.sessions() as db:
        staff = await repo.get_staff(db, user_id=body["staff_id"])
        if staff is None or not staff.active:
            return _bad(f"{body['staff_id']} is not active staff")
        if customer_id is not None and await db.get(Customer, customer_id) is None:
            return _bad(f"customer {customer_id} does not exist")
        row = CareAssignment(
            staff_id=staff.zalo_user_id,
            product_group=group,
            customer_id=customer_id,
            created_at=runtime.clock.now(),
        )
        db.add(row)
        await db.flush()
        await repo.audit(
            db, at=runtime.clock.now(), actor_id="api", action="care.assigned", **_view(row)
        )
        await db.commit()
    return web.json_response(_view(row), status=201)


async def remove_assignment(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    ident = request.match_info["assignment_id"]
    async with runtime.sessions() as db:
        row = await db.get(CareAssignment, int(ident)) if _row_id(ident) else None
        if row is None:
            return web.json_response({"error": "not_found"}, status=404)
        await repo.audit(
            db, at=runtime.clock.now(), actor_id="api", action="care.unassigned", **_view(row)
        )
        await db.delete(row)
        await db.commit()
    return web.json_response({"ok": True})


def setup(app: web.Application) -> None:
    app.router.add_get("/api/care/assignments", list_assignments)
    app.router.add_post("/api/care/assignments", add_assignment)
    app.router.add_delete("/api/care/assignments/{assignment_id}", remove_assignment)
