"""The simulator (local mode only): a pretend Zalo group in the browser, on the real pipeline.

GET  /sim?key=K  the link printed on the console at start: opens a simulator session (a
                  cookie) and goes on to /sim
GET  /sim         the page: group, identity picker, feed, composer, clock and side panels
GET  /sim/feed    JSON: the group's messages (and the 1:1 ones of the identity this session
                  plays) after a row id, the open SLA clocks, payments, stage and the time
POST /sim/send    {"group", "sender", "text", "quote_msg_id"?, "direct"?}: a signed event to
                  this server's own /zalo/webhook; the session plays `sender` from then on
POST /sim/identity {"user"}: the session plays this identity (the picker on the page)
POST /sim/clock   {"minutes"}: move the adjustable clock forward, act on what became due

Every route is 404 outside local mode, and 403 without a session opened by the console's key:
the simulator posts as anyone, staff and admins included, so reaching the port is not enough.
The POSTs need a JSON body, the header `X-Sim: 1` and, when the browser sends one, an Origin
of this host: a form on another website can send none of these without a CORS preflight,
which this server never answers. The Host header is checked for every route (bot/web/hosts.py).
"""

from __future__ import annotations

import hmac
import json
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from aiohttp import web

from bot.app.keys import RUNTIME
from bot.core.jsonbody import BadJSON, parse_json
from bot.web import sim_data, sim_events
from bot.web.core import language, pick, render
from bot.web.sim_data import CUSTOMER_ID
from bot.web.words import words
from storage import repo

if TYPE_CHECKING:
    from bot.app.runtime import Runtime

DEFAULT_GROUP = "sim-group-1"
GROUP_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
MAX_TEXT = 2000
MAX_MINUTES = 366 * 24 * 60
SIM_COOKIE = "zb_sim"
WORDS = {  # what the simulator answers, (Vietnamese, English)
    "key": words("simulator_open_the_simulator_with_the_link"),
    "bad_group": words("simulator_group_id_1_64_letters_digits"),
    "origin": words("simulator_requests_from_other_websites_are_refused"),
    "x_sim": words("simulator_missing_header_x_sim_1"),
    "json_type": words("simulator_content_type_must_be_application_json"),
    "json_body": words("simulator_the_body_must_be_a_json"),
    "text": words("simulator_type_a_message_2000_characters_at"),
    "quote": words("simulator_quote_msg_id_must_be_a"),
    "sender": words("simulator_the_sender_must_be_the_customer"),
    "webhook": words("simulator_the_webhook_did_not_take_the"),
    "minutes": words("simulator_minutes", most=MAX_MINUTES),
    "clock": words("simulator_this_clock_cannot_be_moved_only"),
}


def setup(app: web.Application) -> None:
    """Add the simulator's routes (they answer 404 unless the service is in local mode)."""
    app[sim_events.SIM_STATE] = sim_events.SimState()
    app.router.add_get("/sim", sim_page)
    app.router.add_get("/sim/feed", sim_feed)
    app.router.add_post("/sim/send", sim_send)
    app.router.add_post("/sim/identity", sim_identity)
    app.router.add_post("/sim/clock", sim_clock)


def _say(request: web.Request, key: str) -> str:
    return pick(language(request), *WORDS[key])


def _fail(status: int, message: str) -> web.Response:
    return web.json_response({"ok": False, "message": message}, status=status)


def _refuse(request: web.Request, error: type[web.HTTPException], key: str) -> web.HTTPException:
    body = json.dumps({"ok": False, "message": _say(request, key)}, ensure_ascii=False)
    return error(text=body, content_type="application/json")


def _local(request: web.Request) -> Runtime:
    """The runtime, for a caller with a simulator session in local mode; 404 / 403 else."""
    runtime = request.app[RUNTIME]
    if not runtime.settings.local_mode:
        raise web.HTTPNotFound()
    _session(request)
    return runtime


def _session(request: web.Request) -> str:
    """The caller's simulator session id (its cookie); 403 without a valid one."""
    session_id = request.cookies.get(SIM_COOKIE, "")
    if session_id not in request.app[sim_events.SIM_STATE].sessions:
        raise _refuse(request, web.HTTPForbidden, "key")
    return session_id


def _playing(request: web.Request) -> str:
    """The identity the caller's session plays."""
    return request.app[sim_events.SIM_STATE].sessions[_session(request)]


def _play(request: web.Request, identity: str) -> None:
    request.app[sim_events.SIM_STATE].sessions[_session(request)] = identity


def _enter(request: web.Request, key: str) -> web.Response:
    """The console's link: a right key opens a session (cookie) and goes on to the page."""
    if not request.app[RUNTIME].settings.local_mode:
        raise web.HTTPNotFound()
    state = request.app[sim_events.SIM_STATE]
    if not hmac.compare_digest(key.encode(), state.key.encode()):
        raise _refuse(request, web.HTTPForbidden, "key")
    group = request.query.get("group")
    target = "/sim" + (f"?group={group}" if group and GROUP_ID.fullmatch(group) else "")
    response = web.Response(status=303, headers={"Location": target})
    response.set_cookie(
        SIM_COOKIE,
        state.open_session(CUSTOMER_ID),
        httponly=True,
        samesite="Strict",
        path="/sim",
    )
    return response


def _group_param(request: web.Request, value: str | None) -> str:
    group_id = (value or DEFAULT_GROUP).strip()
    if not GROUP_ID.fullmatch(group_id):
        raise _refuse(request, web.HTTPBadRequest, "bad_group")
    return group_id


def _int_param(request: web.Request, name: str) -> int:
    try:
        return max(int(request.query.get(name, "0")), 0)
    except ValueError:
        raise web.HTTPBadRequest(text=f"{name}: a whole number") from None


async def read_json(request: web.Request) -> dict[str, Any]:
    """The POST body, only from this page: JSON, `X-Sim: 1`, and a same-host Origin if any."""
    origin = request.headers.get("Origin")
    if origin is not None and urlsplit(origin).netloc != request.host:
        raise _refuse(request, web.HTTPForbidden, "origin")
    if request.headers.get("X-Sim") != "1":
        raise _refuse(request, web.HTTPForbidden, "x_sim")
    if request.content_type != "application/json":
        raise _refuse(request, web.HTTPForbidden, "json_type")
    try:
        data = parse_json(await request.read())
    except BadJSON:
        data = None
    if not isinstance(data, dict):
        raise _refuse(request, web.HTTPBadRequest, "json_body")
    return data


# --- the page ----------------------------------------------------------------------------------


async def sim_page(request: web.Request) -> web.Response:
    """The simulator page; the feed and panels fill in from /sim/feed."""
    if "key" in request.query:
        return _enter(request, request.query["key"])
    runtime = _local(request)
    group_id = _group_param(request, request.query.get("group"))
    async with runtime.sessions() as db:
        staff = await repo.list_staff(db)
        groups = await sim_data.group_ids(db)
    if group_id not in groups:
        groups.insert(0, group_id)
    return render(
        request,
        "sim.html",
        title=words("simulator_zalo_group_simulator"),
        group_id=group_id,
        groups=groups,
        staff=staff,
        customer_id=CUSTOMER_ID,
    )


# --- the feed ----------------------------------------------------------------------------------


async def sim_feed(request: web.Request) -> web.Response:
    """New messages of the group and of the identity's 1:1 chat, plus every side panel."""
    runtime = _local(request)
    group_id = _group_param(request, request.query.get("group"))
    user_id = _playing(request)  # never another identity's 1:1 chat
    after, dm_after = _int_param(request, "after"), _int_param(request, "dm_after")
    lang, tz, now = language(request), runtime.settings.tz, runtime.clock.now()
    async with runtime.sessions() as db:
        who = await sim_data.people(db, lang)
        feed = await sim_data.group_feed(db, group_id=group_id, after=after)
        direct = await sim_data.direct_feed(db, user_id=user_id, after=dm_after)
        body: dict[str, Any] = {
            "ok": True,
            "group": group_id,
            "clock": clock_view(request),
            "messages": await sim_data.message_views(db, feed, who, tz),
            "dm": await sim_data.message_views(db, direct, who, tz),
            "sla": await sim_data.sla_panel(db, group_id=group_id, now=now, who=who, tz=tz),
            "payments": await sim_data.payments_panel(db, group_id=group_id, lang=lang),
            "stage": await sim_data.stage_panel(db, group_id=group_id, who=who),
        }
    body["last_id"] = max([after, *[m["id"] for m in body["messages"]]])
    body["dm_last_id"] = max([dm_after, *[m["id"] for m in body["dm"]]])
    return web.json_response(body, headers={"Cache-Control": "no-store"})


def clock_offset(request: web.Request) -> timedelta:
    """How far the business clock is ahead of real time (a frozen clock: what /sim moved it)."""
    offset = getattr(request.app[RUNTIME].clock, "offset", None)
    if isinstance(offset, timedelta):
        return offset
    return request.app[sim_events.SIM_STATE].advanced


def clock_view(request: web.Request) -> dict[str, Any]:
    """The simulated time in the company's time zone and its distance from real time."""
    runtime, lang = request.app[RUNTIME], language(request)
    now, offset = runtime.clock.now(), clock_offset(request)
    return {
        "now": now.isoformat(),
        "local": sim_data.local_time(now, runtime.settings.tz, lang, seconds=True),
        "offset_minutes": int(offset.total_seconds() // 60),
        "offset": sim_data.offset_label(offset, lang),
        "movable": callable(getattr(runtime.clock, "advance", None)),
    }


# --- sending -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SendArgs:
    group_id: str
    sender: str
    text: str
    quote_msg_id: str | None
    direct: bool  # a 1:1 message to the OA instead of a group message


def _send_args(data: dict[str, Any]) -> SendArgs:
    """The fields of a /sim/send body; ValueError names the WORDS key of what is wrong."""
    text, quote = data.get("text"), data.get("quote_msg_id") or None
    group_id = str(data.get("group") or DEFAULT_GROUP)
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
        raise ValueError("text")
    if quote is not None and (not isinstance(quote, str) or len(quote) > 100):
        raise ValueError("quote")
    if not GROUP_ID.fullmatch(group_id):
        raise ValueError("bad_group")
    return SendArgs(group_id, str(data.get("sender") or ""), text, quote, bool(data.get("direct")))


async def _is_identity(runtime: Runtime, user_id: str) -> bool:
    """The simulated customer or an active staff member."""
    if user_id == CUSTOMER_ID:
        return True
    async with runtime.sessions() as db:
        staff = await repo.get_staff(db, user_id=user_id)
    return staff is not None and staff.active


async def sim_send(request: web.Request) -> web.Response:
    """Type a message as someone: a signed event through this server's own webhook."""
    runtime = _local(request)
    try:
        args = _send_args(await read_json(request))
    except ValueError as exc:
        return _fail(400, _say(request, str(exc)))
    if not await _is_identity(runtime, args.sender):
        return _fail(400, _say(request, "sender"))
    _play(request, args.sender)
    try:
        msg_id, created = await _post_message(request, runtime, args)
    except (sim_events.WebhookRefused, OSError) as exc:
        return _fail(502, f"{_say(request, 'webhook')}: {exc}")
    await sim_events.settle(runtime)
    return web.json_response({"ok": True, "msg_id": msg_id, "group_created": created})


async def _post_message(request: web.Request, runtime: Runtime, args: SendArgs) -> tuple[str, bool]:
    """Set the group up if it is new, then post the message; its msg_id and whether it was."""
    url = sim_events.webhook_url(request)
    created = False
    if not args.direct:
        state = request.app[sim_events.SIM_STATE]
        created = await sim_events.ensure_group(runtime, state, url, args.group_id)
    event = sim_events.message_event(
        runtime,
        group_id=None if args.direct else args.group_id,
        sender_id=args.sender,
        text=args.text,
        quote_msg_id=None if args.direct else args.quote_msg_id,
    )
    await sim_events.post_event(runtime, url, event)
    return str(event["message"]["msg_id"]), created


async def sim_identity(request: web.Request) -> web.Response:
    """The identity picker: this session plays `user` (the customer or active staff) now."""
    runtime = _local(request)
    user = (await read_json(request)).get("user")
    if not isinstance(user, str) or not await _is_identity(runtime, user):
        return _fail(400, _say(request, "sender"))
    _play(request, user)
    return web.json_response({"ok": True, "user": user})


# --- the clock ---------------------------------------------------------------------------------


async def sim_clock(request: web.Request) -> web.Response:
    """Move the clock forward by `minutes`, then act on every deadline that became due."""
    runtime = _local(request)
    minutes = (await read_json(request)).get("minutes")
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 0 < minutes <= MAX_MINUTES:
        return _fail(400, _say(request, "minutes"))
    advance = getattr(runtime.clock, "advance", None)
    try:
        if not callable(advance):
            raise ValueError("the service runs on the real clock")
        advance(minutes=minutes)
        request.app[sim_events.SIM_STATE].advanced += timedelta(minutes=minutes)
    except ValueError as exc:
        return _fail(409, f"{_say(request, 'clock')} ({exc})")
    queued = await runtime.tick()
    runtime.outbox.wake()
    await sim_events.settle(runtime)
    return web.json_response({"ok": True, "queued": queued, "clock": clock_view(request)})
