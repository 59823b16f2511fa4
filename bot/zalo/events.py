"""Zalo webhook events: signature check and parsing into one frozen value. Pure, no I/O.

Shapes follow shared/reference/zalo-api.md: every id and timestamp stays a string; group
messages carry the group id in recipient.id and the member in sender.id; lifecycle event names
differ between sources, so they are routed by prefix.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class EventError(ValueError):
    """The body is not a Zalo event we can store; the message says why (sent back as 400)."""


class Kind(StrEnum):
    GROUP_MESSAGE = "group_message"  # user_send_group_*
    OA_GROUP_ECHO = "oa_group_echo"  # oa_send_group_*: our own sends, never trigger anything
    USER_MESSAGE = "user_message"  # user_send_* (1:1 with the OA)
    OA_ECHO = "oa_echo"  # oa_send_* (1:1)
    GROUP_CREATED = "group_created"
    MEMBER_JOINED = "member_joined"
    MEMBER_LEFT = "member_left"
    GROUP_REMOVED = "group_removed"
    GROUP_OTHER = "group_other"  # admins, join requests, info updates
    FOLLOW = "follow"
    UNFOLLOW = "unfollow"
    REACTION = "reaction"  # user_reacted_message / oa_reacted_message: kept in the transcript
    OTHER = "other"  # seen/received/reacted, unknown names: stored, logged, no effect


_GROUP_LIFECYCLE = (
    ("create_group", Kind.GROUP_CREATED),
    ("user_join_group", Kind.MEMBER_JOINED),
    ("accept_request_join_group", Kind.MEMBER_JOINED),
    ("react_request_join_group_accept", Kind.MEMBER_JOINED),
    ("react_request_join_group_reject", Kind.GROUP_OTHER),
    ("user_out_group", Kind.MEMBER_LEFT),
    ("user_leave_group", Kind.MEMBER_LEFT),
    ("remove_member", Kind.MEMBER_LEFT),
    ("disperse_group", Kind.GROUP_REMOVED),
    ("delete_group", Kind.GROUP_REMOVED),
)


@dataclass(frozen=True)
class Attachment:
    type: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class ZaloEvent:
    """One webhook event, reduced to what the bot uses. `raw` keeps the whole body."""

    name: str
    kind: Kind
    timestamp: str
    sender_id: str | None = None
    group_id: str | None = None
    msg_id: str | None = None
    text: str | None = None
    quote_msg_id: str | None = None
    attachments: tuple[Attachment, ...] = ()
    member_ids: tuple[str, ...] = ()
    oa_id: str | None = None  # the OA the event is for, when it says (top-level oa_id)
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def at(self) -> datetime:
        """When Zalo says it happened (UTC)."""
        return datetime.fromtimestamp(int(self.timestamp) / 1000, tz=UTC)

    @property
    def is_message(self) -> bool:
        return self.kind in (Kind.GROUP_MESSAGE, Kind.USER_MESSAGE)


def classify(name: str) -> Kind:
    """The kind of an event name; unknown names are OTHER, never an error."""
    if name.startswith("user_send_group_"):
        return Kind.GROUP_MESSAGE
    if name.startswith("oa_send_group_"):
        return Kind.OA_GROUP_ECHO
    for prefix, kind in _GROUP_LIFECYCLE:
        if name.startswith(prefix):
            return kind
    if name.endswith("_reacted_message"):
        return Kind.REACTION
    if name.endswith("_group") or "_group_" in name:
        return Kind.GROUP_OTHER
    if name.startswith(("user_send_", "anonymous_send_")):
        return Kind.USER_MESSAGE
    if name.startswith("oa_send_"):
        return Kind.OA_ECHO
    if name in ("follow", "unfollow"):
        return Kind.FOLLOW if name == "follow" else Kind.UNFOLLOW
    return Kind.OTHER


def expected_signature(app_id: str, raw_body: bytes, timestamp: str, secret: str) -> str:
    """'mac=' + hex SHA-256 of app id + raw body + the body's timestamp + OA secret key."""
    digest = hashlib.sha256(app_id.encode() + raw_body + timestamp.encode() + secret.encode())
    return "mac=" + digest.hexdigest()


def verify_signature(
    header: str | None, app_id: str, raw_body: bytes, timestamp: str, secret: str
) -> bool:
    """Constant-time check of X-ZEvent-Signature (the 'mac=' prefix is optional)."""
    if not header:
        return False
    given = header.strip()
    given = given if given.startswith("mac=") else "mac=" + given
    wanted = expected_signature(app_id, raw_body, timestamp, secret)
    return hmac.compare_digest(given.encode(), wanted.encode())


def load_body(raw_body: bytes) -> dict[str, Any]:
    """The JSON object in a webhook body, or EventError."""
    try:
        body = json.loads(raw_body.decode("utf-8"))
    except ValueError as exc:  # bad UTF-8 or JSON, or a number too long to convert
        raise EventError(f"body is not JSON: {exc}") from None
    except RecursionError:
        raise EventError("body is not JSON: nested too deeply") from None
    if not isinstance(body, dict):
        raise EventError("body must be a JSON object")
    return body


def _id(obj: Any, key: str = "id") -> str | None:
    if isinstance(obj, dict) and obj.get(key) not in (None, ""):
        return str(obj[key])
    return None


def _attachments(message: dict[str, Any]) -> tuple[Attachment, ...]:
    items = message.get("attachments") or []
    if not isinstance(items, list):
        raise EventError("message.attachments must be a list")
    return tuple(
        Attachment(type=str(a.get("type", "")), payload=as_object(a.get("payload")))
        for a in items
        if isinstance(a, dict)
    )


def as_object(value: Any) -> dict[str, Any]:
    """`value` when it is a JSON object, else an empty one: Zalo's shapes are not all public."""
    return dict(value) if isinstance(value, dict) else {}


def event_moment(timestamp: Any) -> datetime | None:
    """The UTC moment of a body's `timestamp` (epoch milliseconds), or None if it is not one."""
    text = str(timestamp) if isinstance(timestamp, str | int) else ""
    if isinstance(timestamp, bool) or not (text.isascii() and text.isdecimal()) or len(text) > 20:
        return None
    try:
        return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
    except (OverflowError, ValueError, OSError):  # past year 9999
        return None


def _members(body: dict[str, Any]) -> tuple[str, ...]:
    """Members named by a lifecycle event; the sources disagree, so look in every known place:
    a list (member_user_ids, user_ids, members), a flat id (user_id, member_id), an object
    (user, member, sender, follower)."""
    found: list[str] = []
    for key in ("member_user_ids", "user_ids", "members"):
        value = body.get(key)
        if isinstance(value, list):
            found += [
                str(v.get("id") or v.get("user_id")) if isinstance(v, dict) else str(v)
                for v in value
            ]
    for key in ("user_id", "member_id"):
        if isinstance(body.get(key), str | int) and not found:
            found.append(str(body[key]))
    for key in ("user", "member", "sender", "follower"):
        if (ident := _id(body.get(key))) and not found:
            found.append(ident)
    return tuple(dict.fromkeys(f for f in found if f and f != "None"))


_ACCEPTED = frozenset({"accept", "accepted", "approve", "approved", "true", "1", "yes"})


def _accepted(body: dict[str, Any]) -> bool:
    """A join-request answer that accepts (react_request_join_group): the field is not public,
    so any of the usual names with an accepting value."""
    for key in ("action", "react", "reaction", "status", "result", "accept", "is_accept"):
        value = body.get(key)
        if value is True or (isinstance(value, str | int) and str(value).lower() in _ACCEPTED):
            return True
    return False


def conversation_key(body: dict[str, Any], oa_id: str = "") -> str | None:
    """The group (or, 1:1, the user) an event belongs to; None when it cannot be told.

    On the webhook's path: it reads only the ids, not the whole event."""
    name = body.get("event_name")
    if not isinstance(name, str) or not name:
        return None
    sender, group_id = _participants(body, classify(name), oa_id)
    key = group_id or sender
    return key if key and _usable(key, ID_CHARS) else None


def _participants(
    body: dict[str, Any], kind: Kind, oa_id: str = ""
) -> tuple[str | None, str | None]:
    """The sender's id and the group's id, each where this kind of event carries it.

    A group message carries the group id in recipient.id (what public code shows); should
    recipient.id be the OA's own id (ZALO_OA_ID, or the event's oa_id), the group id is taken
    from recipient.group_id, message.group_id or a top-level group_id instead: trusting it
    would merge every group into one."""
    sender = _id(body.get("sender")) or _id(body.get("follower")) or _id(body.get("user"))
    recipient = _id(body.get("recipient"))
    if recipient is not None and recipient in {oa_id, _id(body, "oa_id")} - {"", None}:
        recipient = None
    group_id = (
        _id(body, "group_id")
        or _id(body.get("group"), "group_id")
        or _id(body.get("group"))
        or _id(body.get("recipient"), "group_id")
        or _id(body.get("message"), "group_id")
    )
    if kind in (Kind.GROUP_MESSAGE, Kind.OA_GROUP_ECHO):
        group_id = _id(body.get("recipient"), "group_id") or recipient or group_id
    elif kind in (
        Kind.GROUP_CREATED,
        Kind.MEMBER_JOINED,
        Kind.MEMBER_LEFT,
        Kind.GROUP_REMOVED,
        Kind.GROUP_OTHER,
    ):
        group_id = group_id or recipient
    return sender, group_id


def parse_event(body: dict[str, Any], oa_id: str = "") -> ZaloEvent:
    """Turn a webhook body into a ZaloEvent, or raise EventError naming the missing field.

    `oa_id`: ZALO_OA_ID, when set (see _participants)."""
    name = body.get("event_name")
    if not isinstance(name, str) or not name:
        raise EventError("missing event_name")
    timestamp = body.get("timestamp")
    if event_moment(timestamp) is None:
        raise EventError("missing or non-numeric timestamp (epoch milliseconds)")
    kind = classify(name)
    if kind is Kind.GROUP_OTHER and name.startswith("react_request_join_group") and _accepted(body):
        kind = Kind.MEMBER_JOINED
    message = as_object(body.get("message"))
    sender, group_id = _participants(body, kind, oa_id)
    if kind in (Kind.GROUP_MESSAGE, Kind.USER_MESSAGE, Kind.OA_GROUP_ECHO, Kind.OA_ECHO):
        if not _id(message, "msg_id"):
            raise EventError("missing message.msg_id")
        if kind is not Kind.OA_ECHO and not sender:
            raise EventError("missing sender.id")
        if kind is Kind.GROUP_MESSAGE and not group_id:
            raise EventError("missing recipient.id (the group id)")
    text = message.get("text")
    event = ZaloEvent(
        name=name,
        kind=kind,
        timestamp=str(timestamp),
        sender_id=sender,
        group_id=group_id,
        msg_id=_id(message, "msg_id"),
        text=clean_text(text) if isinstance(text, str) else None,
        quote_msg_id=_id(message, "quote_msg_id"),
        attachments=_attachments(message),
        member_ids=tuple(m for m in _members(body) if _usable(m, ID_CHARS))
        if kind in (Kind.MEMBER_JOINED, Kind.MEMBER_LEFT)
        else (),
        oa_id=_id(body, "oa_id"),
        raw=body,
    )
    _check_ids(event)
    return event


ID_CHARS = 64  # a user or group id, as the tables hold it
MSG_ID_CHARS = 100  # a message id or an event name


def _usable(value: str, limit: int) -> bool:
    return len(value) <= limit and value.isprintable()


def _check_ids(event: ZaloEvent) -> None:
    """EventError unless every id fits its column: such an event is kept and marked invalid."""
    for what, value, limit in (
        ("event_name", event.name, MSG_ID_CHARS),
        ("sender.id", event.sender_id, ID_CHARS),
        ("the group id", event.group_id, ID_CHARS),
        ("message.msg_id", event.msg_id, MSG_ID_CHARS),
        ("message.quote_msg_id", event.quote_msg_id, MSG_ID_CHARS),
    ):
        if value is not None and not _usable(value, limit):
            raise EventError(f"{what} is not a usable id (up to {limit} printable characters)")


def clean_text(text: str) -> str:
    """`text` as every database can store it: NUL and lone surrogates become replacements."""
    return text.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")


def dedupe_key(body: dict[str, Any], raw_body: bytes) -> str:
    """One key per event however often Zalo redelivers it: the event name and the msg_id,
    else a body hash. A reaction reuses the reacted message's msg_id: keyed on the id alone it
    would be taken for a redelivery of that message. (A message event keeps the key it always
    had, "msg:<msg_id>", so an upgrade does not take its redelivery for a new event.)"""
    message = body.get("message")
    if isinstance(message, dict) and message.get("msg_id"):
        name = str(body.get("event_name") or "")
        kind = classify(name)
        messages = (Kind.GROUP_MESSAGE, Kind.USER_MESSAGE, Kind.OA_GROUP_ECHO, Kind.OA_ECHO)
        key = f"msg:{message['msg_id']}" if kind in messages else f"evt:{name}:{message['msg_id']}"
        # The column holds 200 characters and PostgreSQL text no NUL: hash anything odder.
        if len(key) <= 200 and "\x00" not in key:
            return key
        return "msg-sha:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return "sha:" + hashlib.sha256(raw_body).hexdigest()
