"""Zalo-shaped webhook bodies and their signatures, for the simulator, the CLI, tests and bench.

The shapes follow shared/reference/zalo-api.md §2: ids and timestamps are strings.
"""

from __future__ import annotations

import itertools
import json
from datetime import datetime
from typing import Any

from bot.zalo.events import expected_signature

_counter = itertools.count(1)


def _ms(at: datetime) -> str:
    return str(int(at.timestamp() * 1000))


def group_message(
    *,
    group_id: str,
    sender_id: str,
    text: str | None,
    at: datetime,
    app_id: str,
    oa_id: str = "oa-1",
    msg_id: str | None = None,
    quote_msg_id: str | None = None,
    attachments: list[dict[str, Any]] | None = None,
    event_name: str | None = None,
) -> dict[str, Any]:
    """A user_send_group_* event: group id in recipient.id, the member in sender.id."""
    message: dict[str, Any] = {"msg_id": msg_id or f"msg{next(_counter):08d}{_ms(at)}"}
    if text is not None:
        message["text"] = text
    if quote_msg_id:
        message["quote_msg_id"] = quote_msg_id
    if attachments:
        message["attachments"] = attachments
    kind = "image" if attachments and text is None else "text"
    return {
        "app_id": app_id,
        "oa_id": oa_id,
        "event_name": event_name or f"user_send_group_{kind}",
        "sender": {"id": sender_id},
        "recipient": {"id": group_id},
        "message": message,
        "timestamp": _ms(at),
    }


def user_message(
    *,
    user_id: str,
    text: str,
    at: datetime,
    app_id: str,
    oa_id: str = "oa-1",
    msg_id: str | None = None,
) -> dict[str, Any]:
    """A 1:1 user_send_text event."""
    return {
        "app_id": app_id,
        "event_name": "user_send_text",
        "sender": {"id": user_id},
        "recipient": {"id": oa_id},
        "message": {"text": text, "msg_id": msg_id or f"dm{next(_counter):08d}{_ms(at)}"},
        "timestamp": _ms(at),
        "user_id_by_app": f"app-{user_id}",
    }


def lifecycle(
    *,
    event_name: str,
    group_id: str,
    at: datetime,
    app_id: str,
    member_ids: list[str] | None = None,
    oa_id: str = "oa-1",
) -> dict[str, Any]:
    """A GMF lifecycle event such as create_group or user_join_group."""
    body: dict[str, Any] = {
        "app_id": app_id,
        "oa_id": oa_id,
        "event_name": event_name,
        "group_id": group_id,
        "recipient": {"id": group_id},
        "timestamp": _ms(at),
    }
    if member_ids:
        body["sender"] = {"id": member_ids[0]}
        body["member_user_ids"] = member_ids
    return body


def signed(body: dict[str, Any], *, app_id: str, secret: str) -> tuple[bytes, dict[str, str]]:
    """The raw bytes to POST and the headers Zalo would send with them."""
    raw = json.dumps(body, ensure_ascii=False).encode("utf-8")
    signature = expected_signature(app_id, raw, str(body.get("timestamp", "")), secret)
    return raw, {"X-ZEvent-Signature": signature, "Content-Type": "application/json"}
