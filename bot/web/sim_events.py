"""The simulator's way in: Zalo-shaped events, signed, POSTed over HTTP to this server's webhook.

Nothing is written to the database directly: every message typed on /sim goes through the
same signature check, inbox and pipeline as a real Zalo event.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx
from aiohttp import web

from bot.web.sim_data import CUSTOMER_ID
from bot.zalo.payloads import group_message, lifecycle, signed, user_message
from storage import repo

if TYPE_CHECKING:
    from bot.app.runtime import Runtime

log = logging.getLogger(__name__)


class WebhookRefused(Exception):
    """The webhook did not take the event; the message says what it answered."""


MAX_SESSIONS = 64  # simulator sessions kept; the oldest is forgotten first


@dataclass
class SimState:
    """Per app: which groups the simulator has set up (a lock makes it once), how far it has
    moved the clock, the key printed on the console that opens it, and its sessions (session
    id -> the Zalo id that session plays)."""

    started: set[str] = field(default_factory=set)
    advanced: timedelta = timedelta(0)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    key: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    sessions: OrderedDict[str, str] = field(default_factory=OrderedDict)

    def open_session(self, identity: str) -> str:
        """A new session playing `identity`; its id goes into the browser's cookie."""
        session_id = secrets.token_urlsafe(24)
        self.sessions[session_id] = identity
        while len(self.sessions) > MAX_SESSIONS:
            self.sessions.popitem(last=False)
        return session_id


SIM_STATE = web.AppKey("sim_state", SimState)


def webhook_url(request: web.Request) -> str:
    """This server's webhook, at the address and port the request arrived on."""
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    if not sockname:
        raise WebhookRefused("cannot tell which port this server listens on")
    host, port = str(sockname[0]), int(sockname[1])
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    return f"http://{f'[{host}]' if ':' in host else host}:{port}/zalo/webhook"


async def post_event(runtime: Runtime, url: str, body: dict[str, Any]) -> None:
    """Sign `body` as Zalo would and POST it to the webhook; WebhookRefused unless 200."""
    settings = runtime.settings
    raw, headers = signed(body, app_id=settings.signing_app_id, secret=settings.signing_secret)
    async with httpx.AsyncClient(trust_env=False, timeout=10) as client:
        response = await client.post(url, content=raw, headers=headers)
    if response.status_code != 200:
        raise WebhookRefused(f"webhook answered {response.status_code}: {response.text[:200]}")


async def founding_members(runtime: Runtime) -> list[str]:
    """The customer, the first sales and the first sales head: who a new group starts with."""
    async with runtime.sessions() as db:
        sales = await repo.list_staff(db, role="sales")
        heads = await repo.list_staff(db, role="sales_head")
    return [CUSTOMER_ID, *[s.zalo_user_id for s in (sales[:1] + heads[:1])]]


async def ensure_group(runtime: Runtime, state: SimState, url: str, group_id: str) -> bool:
    """Create the group through GMF events the first time it is used; True when created."""
    async with state.lock:
        if group_id in state.started:
            return False
        async with runtime.sessions() as db:
            known = await repo.get_group(db, group_id=group_id) is not None
        if not known:
            members = await founding_members(runtime)
            for name in ("create_group", "user_join_group"):
                await post_event(runtime, url, _lifecycle(runtime, name, group_id, members))
            await settle(runtime)
        state.started.add(group_id)
        return not known


def _lifecycle(runtime: Runtime, name: str, group_id: str, members: list[str]) -> dict[str, Any]:
    settings = runtime.settings
    return lifecycle(
        event_name=name,
        group_id=group_id,
        at=runtime.clock.now(),
        app_id=settings.signing_app_id,
        member_ids=members,
        oa_id=settings.signing_oa_id,
    )


def message_event(
    runtime: Runtime,
    *,
    group_id: str | None,
    sender_id: str,
    text: str,
    quote_msg_id: str | None = None,
) -> dict[str, Any]:
    """A group message (or, without a group, a 1:1 message to the OA) typed now."""
    app_id, now = runtime.settings.signing_app_id, runtime.clock.now()
    oa_id = runtime.settings.signing_oa_id
    msg_id = f"sim-{uuid.uuid4().hex[:20]}"
    if group_id is None:
        return user_message(
            user_id=sender_id, text=text, at=now, app_id=app_id, msg_id=msg_id, oa_id=oa_id
        )
    return group_message(
        group_id=group_id,
        sender_id=sender_id,
        text=text,
        at=now,
        app_id=app_id,
        msg_id=msg_id,
        quote_msg_id=quote_msg_id,
        oa_id=oa_id,
    )


async def settle(runtime: Runtime) -> None:
    """Process what was just stored and deliver the replies now, so the next poll shows them.

    The workers would do the same within a second; doing it here makes the page (and tests
    without workers) deterministic. Both paths share the inbox lock and the outbox claims.
    """
    try:
        await runtime.drain(rounds=5)
    except Exception:  # the event is stored: the workers will pick it up
        log.exception("simulator: processing right away failed")
