"""What rules and handlers ask for. The executor turns them into outbox rows in the event's
transaction, so a reply is owed exactly when the event's effects are committed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# 1:1 messages for their addressee alone (a sign-in link, a data export): never re-routed to
# anyone else, whether Zalo refuses them (outbox) or the person is away (away).
PRIVATE_TEMPLATES = frozenset({"login_link", "privacy_export_link"})


@dataclass(frozen=True)
class SendGroup:
    """Post template `template` into a group, optionally quoting a message."""

    group_id: str
    template: str
    context: dict[str, Any] = field(default_factory=dict)
    quote_msg_id: str | None = None
    notify_user_id: str | None = None  # told 1:1 if the message cannot be delivered
    ref: dict[str, Any] = field(default_factory=dict)  # kept with the sent message, e.g.
    # {"payment_id": 7}: a later reply quoting this message is matched back through it


@dataclass(frozen=True)
class SendUser:
    """Send template `template` to one user 1:1 (Zalo's consultation message)."""

    user_id: str
    template: str
    context: dict[str, Any] = field(default_factory=dict)
    quote_msg_id: str | None = None
    notify_user_id: str | None = None
    ref: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Invite:
    """Invite users into a group through the Zalo GMF invite API."""

    group_id: str
    user_ids: tuple[str, ...]
    reason: str
    notify_user_id: str | None = None
    also_notify: tuple[str, ...] = ()  # e.g. the sales head, told too if the invite fails


@dataclass(frozen=True)
class SyncGroup:
    """Read the group's members and state from Zalo and reconcile (bot/core/membership.py).

    Queued like a message, so a group's invites after it go out once its members are known."""

    group_id: str
    notify_user_id: str | None = None  # told 1:1 what came of it (/sync)


Intent = SendGroup | SendUser | Invite | SyncGroup
