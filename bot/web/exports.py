"""Dashboard part: the per-customer data export download, for admins and sales heads.

GET /dashboard/exports/<group id>.json builds the document afresh (features/privacy) and
streams it as an attachment, page by page, so a big group never sits in memory. Every download is
audited ("customer_export", the downloader as actor) before the first byte leaves.
"""

from __future__ import annotations

from aiohttp import web

from bot.features.privacy import export as privacy_export
from bot.web.core import Viewer, page, runtime_of
from storage import repo

ROLES = ("admin", "sales_head")


@page(roles=ROLES)
async def download(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    """Stream one group's export as a JSON attachment."""
    runtime = runtime_of(request)
    now = runtime.clock.now()
    async with runtime.sessions() as db:
        group = await repo.get_group(db, group_id=request.match_info["group_id"])
        if group is None:
            raise web.HTTPNotFound(text="no such group")
        await repo.audit(
            db,
            at=now,
            actor_id=viewer.user_id,
            action="customer_export",
            group_id=group.group_id,
            customer_id=group.customer_id,
        )
        await db.commit()
    name = f"customer-{group.group_id}-{now:%Y%m%d-%H%M}.json"
    response = web.StreamResponse(
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "same-origin",
        }
    )
    await response.prepare(request)
    document = privacy_export.export_document(runtime.sessions, group, now=now, by=viewer.user_id)
    async for chunk in document:
        await response.write(chunk.encode("utf-8"))
    await response.write_eof()
    return response


def setup(app: web.Application) -> None:
    """Add this part's routes."""
    app.router.add_get(r"/dashboard/exports/{group_id:[A-Za-z0-9_-]+}.json", download)
