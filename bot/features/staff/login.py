"""/login (/dangnhap): a one-time sign-in link to the dashboard, sent 1:1.

* The link never goes into a group: the customer is in it. Asked in a group, the link goes to
  the staff member 1:1 and the group only hears that it was sent; asked 1:1, it is the answer.
* Only the SHA-256 of the token is stored. The link works once, for LOGIN_LINK_TTL; opening it
  shows a confirmation button, so a chat app's link preview cannot use it up.
"""

from __future__ import annotations

import hashlib
import secrets

from bot.core.commands import command
from bot.core.context import Context
from bot.core.intents import Intent, SendUser
from storage import repo


def token_hash(token: str) -> str:
    """What is stored for a sign-in token: its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


@command("login", aliases=("dangnhap",), group_only=False)
async def login(ctx: Context, _args: None) -> list[Intent]:
    """Create a one-time sign-in link and send it to the caller privately."""
    assert ctx.sender is not None
    token = secrets.token_urlsafe(32)
    ttl = ctx.settings.duration("login_link_ttl")
    expires_at = ctx.now + ttl
    await repo.add_login_token(
        ctx.db,
        user_id=ctx.sender_id,
        token_hash=token_hash(token),
        now=ctx.now,
        expires_at=expires_at,
    )
    await repo.audit(
        ctx.db,
        at=ctx.now,
        actor_id=ctx.sender_id,
        action="dashboard_link",
        asked_in=ctx.event.group_id,
    )
    context = {
        "name": ctx.sender.name,
        "url": f"{ctx.settings.base_url}/login/{token}",
        "minutes": max(1, round(ttl.total_seconds() / 60)),
        "expires_at": expires_at,
    }
    if not ctx.event.group_id:
        return [ctx.reply("login_link", **context)]
    return [
        SendUser(ctx.sender_id, "login_link", context),
        ctx.reply("login_link_sent", user_id=ctx.sender_id),
    ]
