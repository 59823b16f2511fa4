"""Dashboard: the customer groups the viewer sees, and one group's whole story.

A group the viewer may not see answers 404, exactly like one that does not exist, so its
existence is not given away.
"""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from bot.web.core import Viewer, page, render, runtime_of
from bot.web.display import compact, labeler, namer, not_found, page_number, with_mentions
from bot.web.queries import may_see, plain_id, search_text, staff_by_id
from bot.web.queries_groups import group_list, group_sections, is_member, transcript
from bot.web.words import words
from storage import repo


@page()
async def groups(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    """The visible groups, searchable by group name, customer name or phone, or group id."""
    runtime = runtime_of(request)
    q = search_text(request.query.get("q"))
    async with runtime.read_sessions() as db:
        found = await group_list(db, viewer, q, page_number(request))
        who = namer(await staff_by_id(db))
    return render(
        request,
        "groups.html",
        title=words("groups_groups"),
        found=found,
        q=q,
        paging=urlencode({"q": q}) + "&" if q else "",
        label=labeler(request),
        who=who,
    )


@page()
async def group(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    """One group: header, SLA, transcript (searchable), payments, incidents, care, audit."""
    runtime = runtime_of(request)
    group_id = request.match_info["group_id"]
    q = search_text(request.query.get("q"))
    async with runtime.read_sessions() as db:
        found = await repo.get_group(db, group_id=group_id) if plain_id(group_id) else None
        member = found is not None and await is_member(
            db, group_id=group_id, user_id=viewer.user_id
        )
        if found is None or not may_see(viewer, found, member):
            return not_found(request)
        sections = await group_sections(db, found)
        messages = await transcript(db, group_id, q, page_number(request))
        staff = await staff_by_id(db)
    who = namer(staff)
    return render(
        request,
        "group.html",
        title=(found.name or group_id, found.name or group_id),
        group=found,
        messages=messages,
        q=q,
        paging=urlencode({"q": q}) + "&" if q else "",
        staff=staff,
        who=who,
        mentions=lambda text: with_mentions(text, who),
        compact=compact,
        label=labeler(request),
        **sections,
    )


def setup(app: web.Application) -> None:
    """Add this part's routes."""
    app.router.add_get("/dashboard/groups", groups)
    app.router.add_get("/dashboard/groups/{group_id}", group)
