"""Customers, groups and their members, staff (and their dashboard sign-in), the transcript and
the interactions logged with customers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text
from sqlmodel import Field, SQLModel

from storage.models.base import utc


class Customer(SQLModel, table=True):
    __tablename__ = "customers"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    region: str | None = Field(default=None, max_length=100)
    customer_group: str | None = Field(default=None, max_length=50)  # VIP / wholesale / retail
    birthday: date | None = None
    gender: str | None = Field(default=None, max_length=20)
    channel: str | None = Field(default=None, max_length=50)  # where the customer came from
    contact_channel: str | None = Field(default=None, max_length=50)  # preferred contact channel
    founded_on: date | None = None  # a business customer's founding day (gift plan)
    created_at: datetime = utc()
    updated_at: datetime = utc()


class Group(SQLModel, table=True):
    """A Zalo GMF group: one group is one customer account."""

    __tablename__ = "groups"
    group_id: str = Field(primary_key=True, max_length=64)
    name: str | None = Field(default=None, max_length=200)
    customer_id: int | None = Field(default=None, foreign_key="customers.id", index=True)
    assigned_sales_id: str | None = Field(default=None, max_length=64, index=True)
    stage: str = Field(default="new", max_length=20)
    lost_reason: str | None = Field(default=None, sa_column=Column(Text))
    working_hours: str | None = Field(default=None, max_length=200)  # per-group override
    sla_first_response: str | None = Field(default=None, max_length=20)  # e.g. "30m"; "off"
    out_of_hours_reply: bool | None = None  # /sla ngoaigio tat|bat; None: OUT_OF_HOURS_REPLY
    created_at: datetime = utc()
    updated_at: datetime = utc()


class GroupMember(SQLModel, table=True):
    __tablename__ = "group_members"
    __table_args__ = (Index("ix_group_members_user", "user_id"),)
    group_id: str = Field(primary_key=True, max_length=64)
    user_id: str = Field(primary_key=True, max_length=64)
    joined_at: datetime = utc()
    left_at: datetime | None = utc(default=None, nullable=True)


class Staff(SQLModel, table=True):
    __tablename__ = "staff"
    zalo_user_id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    role: str = Field(max_length=30, index=True)
    active: bool = True
    source: str = Field(default="file", max_length=10)  # file|chat: chat edits win over the file
    updated_at: datetime = utc()
    # Dashboard password sign-in (optional; the /login link needs neither).
    username: str | None = Field(default=None, max_length=64, unique=True, index=True)
    password_hash: str | None = Field(default=None, max_length=200)  # scrypt$n$r$p$salt$hash
    # Dashboard cookies carry the version they were issued under; signing out or being
    # deactivated moves it on, so every earlier cookie of this person stops working.
    session_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # Zalo refused a 1:1 message to this person for good (-230: no interaction with the OA in
    # 7 days; -213: not a follower): alerts go around them until they write to the OA again.
    dm_blocked_code: int | None = None
    dm_blocked_at: datetime | None = utc(default=None, nullable=True)
    # /vangmat: until away_until, the bot's 1:1 reminders and alerts for this person go to
    # away_backup (or the heads) instead.
    away_until: datetime | None = utc(default=None, nullable=True, index=True)
    away_backup: str | None = Field(default=None, max_length=64)


class Message(SQLModel, table=True):
    """Every message seen or sent in a group or 1:1 chat: the transcript the regulation keeps."""

    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_group_sent", "group_id", "sent_at"),)
    id: int | None = Field(default=None, primary_key=True)
    msg_id: str = Field(unique=True, max_length=100)
    group_id: str | None = Field(default=None, max_length=64)
    user_id: str = Field(max_length=64)  # the member who wrote it, or the OA id
    direction: str = Field(max_length=3)  # in|out
    sender_kind: str = Field(max_length=10)  # customer|staff|oa
    event_name: str = Field(max_length=100)
    text: str | None = Field(default=None, sa_column=Column(Text))
    attachments: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    quote_msg_id: str | None = Field(default=None, max_length=100)
    zalo_timestamp: str | None = Field(default=None, max_length=20)  # epoch ms, as Zalo sent it
    sent_at: datetime = utc()


class Interaction(SQLModel, table=True):
    """A call, visit, email or chat recorded with /log."""

    __tablename__ = "interactions"
    id: int | None = Field(default=None, primary_key=True)
    group_id: str = Field(max_length=64, index=True)
    customer_id: int | None = Field(default=None, foreign_key="customers.id")
    staff_id: str = Field(max_length=64)
    kind: str = Field(max_length=20)  # call|visit|email|chat
    feedback: str | None = Field(default=None, max_length=20)
    note: str = Field(sa_column=Column(Text, nullable=False))
    at: datetime = utc()


class LoginToken(SQLModel, table=True):
    """A one-time sign-in link from /login: only the SHA-256 of the token is kept."""

    __tablename__ = "login_tokens"
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, max_length=64)
    user_id: str = Field(max_length=64, index=True)
    created_at: datetime = utc()
    expires_at: datetime = utc()
    used_at: datetime | None = utc(default=None, nullable=True)


class SignInFailure(SQLModel, table=True):
    """A failed dashboard password sign-in, once per key it counts against (a username, an
    address): the sign-in throttle of every process counts these (bot/web/auth.py). Rows older
    than the throttle's window are deleted."""

    __tablename__ = "sign_in_failures"
    __table_args__ = (Index("ix_sign_in_failures_key", "kind", "key", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=10)  # user|addr
    key: str = Field(max_length=200)
    at: datetime = utc(index=True)
