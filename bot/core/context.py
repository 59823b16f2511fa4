"""What a rule or a handler gets: the event, who sent it, the group, the time, the database."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.intents import SendGroup, SendUser
from bot.zalo.events import ZaloEvent
from config.settings import Settings
from storage.models import Group, SlaClock, Staff
from storage.repo import UNREAD

if TYPE_CHECKING:
    from bot.core.calendars import Calendars
    from bot.core.render import Renderer


class EventTooSlow(TimeoutError):
    """Processing an event took longer than EVENT_TIME_BUDGET: it is rolled back and retried."""


@dataclass
class Context:
    event: ZaloEvent
    db: AsyncSession
    now: datetime
    settings: Settings
    renderer: Renderer
    sender: Staff | None
    group: Group | None
    calendars: Calendars
    group_is_new: bool = False  # this event is the first the bot sees of the group
    # The group's open SLA clock (None: none open) as read with the group, for the SLA rule,
    # which runs first; UNREAD when process_event did not read it.
    sla_clock: SlaClock | None = UNREAD
    # Set by the satisfaction rule once it has stored this message as a rating answer.
    rating_answered: bool = False
    # What a rule worked out about this event, for a later rule (or itself) to reuse.
    memo: dict[str, Any] = field(default_factory=dict, repr=False)
    # time.monotonic() past which processing this event gives up (EVENT_TIME_BUDGET)
    deadline: float | None = None

    def check_budget(self, step: str) -> None:
        """Raise EventTooSlow when this event has used up its time budget (between steps)."""
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise EventTooSlow(f"over EVENT_TIME_BUDGET after {step}")

    @property
    def role(self) -> str | None:
        """The sender's staff role; None for the customer side."""
        return self.sender.role if self.sender and self.sender.active else None

    @property
    def is_staff(self) -> bool:
        return self.role is not None

    @property
    def locale(self) -> str:
        return self.settings.locale

    @property
    def labels(self) -> dict[str, Any]:
        """Display words in the context's locale (templates/<locale>/labels.toml)."""
        from bot.core.render import labels

        return labels(self.locale)

    @property
    def sender_id(self) -> str:
        return self.event.sender_id or ""

    def reply(self, template: str, **context: Any) -> SendGroup | SendUser:
        """Answer where the event came from: in the group, quoting it, or 1:1."""
        if self.event.group_id:
            return SendGroup(
                self.event.group_id,
                template,
                context,
                quote_msg_id=self.event.msg_id,
                notify_user_id=self.sender_id or None,
            )
        if "user_id" in context:  # a mention means nothing in a 1:1 chat: Zalo would show it raw
            context = {**context, "user_id": None}
        return SendUser(self.sender_id, template, context, quote_msg_id=self.event.msg_id)
