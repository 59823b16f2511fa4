"""Who delivers an outbox row: ZaloSender through the Zalo client, LocalSender (local mode) to the
console and the simulator."""

from __future__ import annotations

from typing import Protocol

from bot.core import membership
from bot.core.membership import GroupState
from bot.zalo.client import ZaloClient
from storage.models import OutboxMessage


class Sender(Protocol):
    async def deliver(self, row: OutboxMessage) -> str | None:
        """Send one row; return the Zalo message id (None for an invite)."""
        ...

    async def group_state(self, group_id: str) -> GroupState | None:
        """The group's members and state as Zalo says; None where nobody can say (local)."""
        ...


class ZaloSender:
    """Delivers through the real Zalo OA API."""

    def __init__(self, client: ZaloClient) -> None:
        self.client = client

    async def deliver(self, row: OutboxMessage) -> str | None:
        if row.target_kind == "group":
            return await self.client.send_group_text(row.target_id, row.text, row.quote_msg_id)
        if row.target_kind == "user":
            return await self.client.send_user_text(row.target_id, row.text, row.quote_msg_id)
        await self.client.invite(row.target_id, list(row.payload.get("user_ids", [])))
        return None

    async def group_state(self, group_id: str) -> GroupState | None:
        return await membership.read_state(self.client, group_id)


class LocalSender:
    """Local mode: nothing leaves the machine; each message is printed and marked sent."""

    async def group_state(self, group_id: str) -> GroupState | None:
        return None  # no Zalo to ask: the bot's own record of the members stands

    async def deliver(self, row: OutboxMessage) -> str | None:
        if row.target_kind == "invite":
            print(
                f"[local] invite {row.payload.get('user_ids')} -> group {row.target_id}", flush=True
            )
            return None
        print(f"[local] -> {row.target_kind} {row.target_id}:\n{row.text}\n", flush=True)
        return f"local-{row.id}"
