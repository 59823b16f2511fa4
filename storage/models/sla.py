"""The response SLA's tables: clocks, their events and corrections, violations, reminders."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, text
from sqlmodel import Field, SQLModel

from storage.models.base import utc


class SlaClock(SQLModel, table=True):
    """A customer waiting for an answer: opened by their first unanswered message."""

    __tablename__ = "sla_clocks"
    __table_args__ = (
        Index("ix_sla_clocks_due", "next_due_at"),
        Index("ix_sla_clocks_owner_opened", "owner_id", "opened_at"),
        Index(
            "ux_sla_clocks_open_group",
            "group_id",
            unique=True,
            sqlite_where=text("closed_at IS NULL"),
            postgresql_where=text("closed_at IS NULL"),
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    group_id: str = Field(max_length=64)
    customer_id: str = Field(max_length=64)  # the member who asked
    msg_id: str = Field(max_length=100)
    owner_id: str | None = Field(default=None, max_length=64)  # the sales answerable for it
    opened_at: datetime = utc(index=True)
    remind_at: datetime = utc()
    deadline: datetime = utc()
    escalate_at: datetime = utc()
    next_due_at: datetime | None = utc(default=None, nullable=True)
    reminded_at: datetime | None = utc(default=None, nullable=True)
    breached_at: datetime | None = utc(default=None, nullable=True)
    escalated_at: datetime | None = utc(default=None, nullable=True)
    closed_at: datetime | None = utc(default=None, nullable=True)
    closed_by: str | None = Field(default=None, max_length=64)
    response_seconds: int | None = None  # working seconds from open to close
    # A head's /khongcan: the message needed no answer. Kept (the reports show it withdrawn).
    withdrawn_at: datetime | None = utc(default=None, nullable=True)
    withdrawn_by: str | None = Field(default=None, max_length=64)


class SlaCorrection(SQLModel, table=True):
    """A head correcting the request classifier by replying to a customer message: /khongcan
    (it needed no answer) or /cantraloi (it did). The benchmark replays them as cases."""

    __tablename__ = "sla_corrections"
    id: int | None = Field(default=None, primary_key=True)
    group_id: str = Field(max_length=64, index=True)
    msg_id: str = Field(max_length=100)
    needs_reply: bool  # what the head says
    text: str | None = Field(default=None, sa_column=Column(Text))  # the customer's message
    by: str = Field(max_length=64)
    at: datetime = utc(index=True)


class SlaEvent(SQLModel, table=True):
    """Append-only: every start, stop, reminder, breach, escalation and warning."""

    __tablename__ = "sla_events"
    id: int | None = Field(default=None, primary_key=True)
    clock_id: int | None = Field(default=None, index=True)
    group_id: str = Field(max_length=64, index=True)
    kind: str = Field(max_length=20)  # start|stop|reminder|breach|escalation|warning
    staff_id: str | None = Field(default=None, max_length=64, index=True)
    at: datetime = utc(index=True)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class Violation(SQLModel, table=True):
    """A breach of the regulation (section 5), per staff member."""

    __tablename__ = "violations"
    id: int | None = Field(default=None, primary_key=True)
    group_id: str | None = Field(default=None, max_length=64, index=True)
    staff_id: str | None = Field(default=None, max_length=64, index=True)
    kind: str = Field(max_length=40)  # sla_breach|ship_before_approval|policy_promise|...
    severity: str = Field(default="minor", max_length=10)  # minor|serious
    at: datetime = utc(index=True)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class Reminder(SQLModel, table=True):
    """A message owed at a later time (handover follow-ups and the like). The row is the timer."""

    __tablename__ = "reminders"
    id: int | None = Field(default=None, primary_key=True)
    due_at: datetime = utc(index=True)
    group_id: str | None = Field(default=None, max_length=64)
    user_id: str = Field(max_length=64)  # sent 1:1 to this person
    template: str = Field(max_length=60)
    context: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    sent_at: datetime | None = utc(default=None, nullable=True)
