"""Test helpers: people from config/staff.csv and a Bot driver that posts signed events."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import insert, text
from sqlmodel import col, select

from bot.app.keys import RUNTIME
from bot.app.runtime import Runtime
from bot.core.clock import FrozenClock
from bot.web.sim_events import SIM_STATE
from bot.zalo.payloads import group_message, lifecycle, signed, user_message
from config.settings import Settings
from storage.models import OutboxMessage

ROOT = Path(__file__).resolve().parent.parent  # the checkout

SALES = "1000000000000000001"
SALES2 = "1000000000000000002"
HEAD = "1000000000000000003"
ACCOUNTANT = "1000000000000000004"
CHIEF = "1000000000000000005"
WAREHOUSE = "1000000000000000006"
SHIPPING = "1000000000000000007"
ADMIN = "1000000000000000008"
CUSTOMER = "2000000000000000001"
GROUP = "f414c8f76fa586fbdfb4"


@dataclass
class Bot:
    """Drives one app the way Zalo would: signed events in, outbox rows and Zalo calls out."""

    client: TestClient
    app: web.Application
    clock: FrozenClock

    @property
    def runtime(self) -> Runtime:
        return self.app[RUNTIME]

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    async def post(
        self, body: dict[str, Any], *, drain: bool = True, headers: dict[str, str] | None = None
    ) -> Any:
        """POST a correctly signed body; returns the response (after processing, by default)."""
        raw, signed_headers = signed(
            body, app_id=self.settings.signing_app_id, secret=self.settings.signing_secret
        )
        response = await self.client.post(
            "/zalo/webhook", data=raw, headers=headers or signed_headers
        )
        if drain:
            await self.runtime.drain()
        return response

    def message(
        self, text: str | None, *, sender: str = SALES, group: str = GROUP, **kw: Any
    ) -> dict[str, Any]:
        return group_message(
            group_id=group,
            sender_id=sender,
            text=text,
            at=self.clock.now(),
            app_id=self.settings.signing_app_id,
            **{"oa_id": self.settings.signing_oa_id, **kw},
        )

    async def say(
        self, text: str | None, *, sender: str = SALES, group: str = GROUP, **kw: Any
    ) -> Any:
        """A group member types `text` in the group."""
        return await self.post(self.message(text, sender=sender, group=group, **kw))

    async def dm(self, text: str, *, sender: str = SALES) -> Any:
        return await self.post(
            user_message(
                user_id=sender,
                text=text,
                at=self.clock.now(),
                app_id=self.settings.signing_app_id,
                oa_id=self.settings.signing_oa_id,
            )
        )

    async def lifecycle(
        self, event_name: str, *, group: str = GROUP, members: list[str] | None = None
    ) -> Any:
        return await self.post(
            lifecycle(
                event_name=event_name,
                group_id=group,
                at=self.clock.now(),
                app_id=self.settings.signing_app_id,
                member_ids=members,
                oa_id=self.settings.signing_oa_id,
            )
        )

    async def open_simulator(self) -> Bot:
        """Open /sim with the key printed on the console, as its user would (a cookie)."""
        key = self.app[SIM_STATE].key
        response = await self.client.get(f"/sim?key={key}", allow_redirects=False)
        assert response.status == 303, await response.text()
        return self

    async def outbox(self, **where: Any) -> list[OutboxMessage]:
        """The bot's outgoing messages (invites only when asked for with target_kind)."""
        async with self.runtime.sessions() as db:
            query = select(OutboxMessage).order_by(col(OutboxMessage.id))
            if "target_kind" not in where:  # messages: not invites, not readings of a group
                query = query.where(col(OutboxMessage.target_kind).in_(("group", "user")))
            for key, value in where.items():
                query = query.where(getattr(OutboxMessage, key) == value)
            return list((await db.exec(query)).all())

    async def invites(self) -> list[list[str]]:
        """The user ids of each invite the bot asked Zalo for, in order."""
        return [row.payload["user_ids"] for row in await self.outbox(target_kind="invite")]

    async def last_text(self) -> str:
        rows = await self.outbox()
        assert rows, "the bot sent nothing"
        return rows[-1].text

    async def texts(self) -> list[str]:
        return [row.text for row in await self.outbox()]


async def insert_analyzed(sessions: Any, model: Any, rows: list[dict[str, Any]]) -> None:
    """Insert `rows` into `model`'s table in one statement, then ANALYZE: a query-plan test
    needs the planner to know how the rows are spread."""
    async with sessions() as db:
        await db.exec(insert(model), params=rows)
        await db.commit()
        await db.exec(text("ANALYZE"))
        await db.commit()
