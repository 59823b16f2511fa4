"""Intents become outbox rows, in the caller's transaction: a message's text rendered now and
split into Zalo-sized pieces (at most MAX_PIECES), 1:1 messages for someone away redirected to
their stand-in (bot/core/standins.py). The Outbox (bot/core/outbox.py) delivers them."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core import standins as away
from bot.core.intents import Intent, Invite, SendGroup, SyncGroup
from bot.core.render import Renderer
from bot.zalo.client import MAX_TEXT
from storage.models import OutboxMessage

MAX_PIECES = 3  # Zalo messages one reply may take; a longer text is cut, ending with "…"


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Cut a text into pieces Zalo accepts: at a line break or space, never inside a mention."""
    text = unicodedata.normalize("NFC", text)
    pieces: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit + 1)
        cut = cut if cut > limit // 2 else text.rfind(" ", 0, limit + 1)
        cut = cut if cut > limit // 2 else limit
        marker = text.rfind("[@", 0, cut)
        if marker != -1 and text.find("]", marker) >= cut and marker > 0:
            cut = marker
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    return [*pieces, text] if text else pieces


# Long on purpose: the one place intents become rows, one branch per kind of intent.
async def enqueue(
    db: AsyncSession,
    intents: Sequence[Intent],
    *,
    renderer: Renderer,
    locale: str,
    now: datetime,
    source_event_id: int | None = None,
) -> list[OutboxMessage]:
    """Render each intent and add its outbox rows to the session (the caller commits).
    A 1:1 message for someone away (/vangmat) goes to their stand-in, with a note."""
    rows: list[OutboxMessage] = []
    for intent, away_note in await away.redirect(db, intents, now):
        common: dict[str, Any] = {
            "created_at": now,
            "next_attempt_at": now,
            "source_event_id": source_event_id,
            "notify_user_id": intent.notify_user_id,
        }
        if isinstance(intent, SyncGroup):
            rows.append(
                OutboxMessage(
                    target_kind="sync", target_id=intent.group_id, text="", purpose="group_sync",
                    **common,
                )
            )  # fmt: skip
            continue
        if isinstance(intent, Invite):
            rows.append(
                OutboxMessage(
                    target_kind="invite",
                    target_id=intent.group_id,
                    text="",
                    purpose=intent.reason,
                    payload={
                        "user_ids": list(intent.user_ids),
                        "also_notify": list(intent.also_notify),
                    },
                    **common,
                )
            )
            continue
        kind, target = (
            ("group", intent.group_id)
            if isinstance(intent, SendGroup)
            else ("user", intent.user_id)
        )
        text = renderer.render(intent.template, locale, **intent.context)
        if away_note is not None:
            text = renderer.render("away_forward", locale, **away_note) + "\n" + text
        pieces = split_text(text)
        if len(pieces) > MAX_PIECES:
            pieces = [*pieces[: MAX_PIECES - 1], pieces[MAX_PIECES - 1][: MAX_TEXT - 1] + "…"]
        for index, piece in enumerate(pieces):
            rows.append(
                OutboxMessage(
                    target_kind=kind,
                    target_id=target,
                    text=piece,
                    purpose=intent.template,
                    quote_msg_id=intent.quote_msg_id if index == 0 else None,
                    payload=dict(intent.ref),
                    **common,
                )
            )
    db.add_all(rows)
    return rows
