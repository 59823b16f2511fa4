"""The pipeline's tables: webhook events (inbox, quarantine), outgoing messages (outbox,
undelivered), commands run, the audit log, Zalo tokens, scheduled runs and app secrets."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.models.base import utc


class InboxEvent(SQLModel, table=True):
    """A raw webhook event, stored before the webhook answers; processed off the request path."""

    __tablename__ = "inbox_events"
    __table_args__ = (Index("ix_inbox_events_conversation", "conversation", "id"),)
    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(unique=True, max_length=200)
    # The group (or 1:1 user) the event belongs to: its events are processed in arrival order,
    # even with several processes.
    conversation: str | None = Field(default=None, max_length=64)
    event_name: str = Field(max_length=100)
    body: str = Field(sa_column=Column(Text, nullable=False))
    received_at: datetime = utc()
    status: str = Field(default="pending", max_length=20, index=True)  # pending|done|failed
    attempts: int = 0
    error: str | None = Field(default=None, sa_column=Column(Text))
    processed_at: datetime | None = utc(default=None, nullable=True)


class QuarantinedEvent(SQLModel, table=True):
    """A webhook event whose signature failed: acknowledged (200), never processed while it
    fails, checked again with the current key at each start and on demand (bot/zalo/quarantine.py).
    Bounded: WEBHOOK_QUARANTINE_MAX rows, WEBHOOK_QUARANTINE_DAYS days."""

    __tablename__ = "webhook_quarantine"
    id: int | None = Field(default=None, primary_key=True)
    received_at: datetime = utc(index=True)
    event_name: str = Field(max_length=100)
    body: str = Field(sa_column=Column(Text, nullable=False))  # the exact bytes, as UTF-8
    signature: str | None = Field(default=None, max_length=200)  # X-ZEvent-Signature as sent
    source: str | None = Field(default=None, max_length=64)  # the sender's address
    hint: str | None = Field(default=None, max_length=40)  # the setting it matched, if any


class CommandRun(SQLModel, table=True):
    __tablename__ = "command_runs"
    id: int | None = Field(default=None, primary_key=True)
    group_id: str | None = Field(default=None, max_length=64, index=True)
    user_id: str = Field(max_length=64)
    msg_id: str | None = Field(default=None, max_length=100)
    name: str = Field(max_length=40)  # canonical command name, or the unknown word typed
    text: str = Field(sa_column=Column(Text, nullable=False))
    outcome: str = Field(max_length=20)  # ok|usage|denied|unknown|error
    at: datetime = utc()


class OutboxMessage(SQLModel, table=True):
    """A message the bot owes someone: written in the event's transaction, delivered after."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_due", "status", "next_attempt_at"),)
    id: int | None = Field(default=None, primary_key=True)
    target_kind: str = Field(max_length=6)  # group|user|invite
    target_id: str = Field(max_length=64, index=True)  # group id, or user id for 1:1
    text: str = Field(sa_column=Column(Text, nullable=False))  # empty for an invite
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    quote_msg_id: str | None = Field(default=None, max_length=100)
    purpose: str = Field(default="", max_length=60)  # the template it was rendered from
    status: str = Field(default="pending", max_length=10)  # pending|sending|sent|failed
    notify_user_id: str | None = Field(default=None, max_length=64)  # told if it fails for good
    attempts: int = 0
    next_attempt_at: datetime = utc()
    leased_by: str | None = Field(default=None, max_length=100)  # the process sending it
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    error_code: int | None = None
    zalo_message_id: str | None = Field(default=None, max_length=100, index=True)
    source_event_id: int | None = None
    created_at: datetime = utc()
    sent_at: datetime | None = utc(default=None, nullable=True)


class UndeliveredMessage(SQLModel, table=True):
    """A 1:1 message to a staff member that Zalo refused for good: shown on the dashboard of
    that person and of the heads ("Tin nhắn chưa gửi được") until opened."""

    __tablename__ = "undelivered_messages"
    id: int | None = Field(default=None, primary_key=True)
    outbox_id: int = Field(unique=True)
    staff_id: str = Field(max_length=64, index=True)
    code: int | None = None
    text: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = utc()
    opened_at: datetime | None = utc(default=None, nullable=True)
    opened_by: str | None = Field(default=None, max_length=64)


class AuditEntry(SQLModel, table=True):
    """Append-only: who did what, when. Never updated or deleted."""

    __tablename__ = "audit_log"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = utc(index=True)
    actor_id: str = Field(max_length=64)
    action: str = Field(max_length=60)
    group_id: str | None = Field(default=None, max_length=64, index=True)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class ZaloToken(SQLModel, table=True):
    """The current OA token pair. Once stored it wins over the environment."""

    __tablename__ = "zalo_tokens"
    __table_args__ = (UniqueConstraint("name"),)
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(default="oa", max_length=20)
    access_token: str = Field(sa_column=Column(Text, nullable=False))
    refresh_token: str = Field(sa_column=Column(Text, nullable=False))
    expires_at: datetime | None = utc(default=None, nullable=True)
    updated_at: datetime = utc()


class ScheduledRun(SQLModel, table=True):
    """A scheduled job's run for one period (e.g. the 2026-11-23 care digest): claimed once."""

    __tablename__ = "scheduled_runs"
    __table_args__ = (UniqueConstraint("job", "period"),)
    id: int | None = Field(default=None, primary_key=True)
    job: str = Field(max_length=60)
    period: str = Field(max_length=40)
    claimed_at: datetime = utc()


class AppSecret(SQLModel, table=True):
    """A secret the service made itself, the same for every process and across restarts (the
    dashboard's session key when SESSION_SECRET is empty): the first process to start inserts
    it, every process reads the stored one. Never logged."""

    __tablename__ = "app_secrets"
    name: str = Field(primary_key=True, max_length=60)
    value: str = Field(max_length=200)
    created_at: datetime = utc()
