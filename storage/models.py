"""The tables. Every id that comes from Zalo is a string; every datetime is UTC-aware.

Change a model, then add a migration: `make migration m="what changed"`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime

ROLES = ("sales", "sales_head", "accountant", "chief_accountant", "warehouse", "shipping", "admin")


def _utc(**kwargs: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kwargs)


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
    received_at: datetime = _utc()
    status: str = Field(default="pending", max_length=20, index=True)  # pending|done|failed
    attempts: int = 0
    error: str | None = Field(default=None, sa_column=Column(Text))
    processed_at: datetime | None = _utc(default=None, nullable=True)


class QuarantinedEvent(SQLModel, table=True):
    """A webhook event whose signature failed: acknowledged (200), never processed while it
    fails, checked again with the current key at each start and on demand (bot/zalo/quarantine.py).
    Bounded: WEBHOOK_QUARANTINE_MAX rows, WEBHOOK_QUARANTINE_DAYS days."""

    __tablename__ = "webhook_quarantine"
    id: int | None = Field(default=None, primary_key=True)
    received_at: datetime = _utc(index=True)
    event_name: str = Field(max_length=100)
    body: str = Field(sa_column=Column(Text, nullable=False))  # the exact bytes, as UTF-8
    signature: str | None = Field(default=None, max_length=200)  # X-ZEvent-Signature as sent
    source: str | None = Field(default=None, max_length=64)  # the sender's address
    hint: str | None = Field(default=None, max_length=40)  # the setting it matched, if any


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
    created_at: datetime = _utc()
    updated_at: datetime = _utc()


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
    created_at: datetime = _utc()
    updated_at: datetime = _utc()


class GroupMember(SQLModel, table=True):
    __tablename__ = "group_members"
    __table_args__ = (Index("ix_group_members_user", "user_id"),)
    group_id: str = Field(primary_key=True, max_length=64)
    user_id: str = Field(primary_key=True, max_length=64)
    joined_at: datetime = _utc()
    left_at: datetime | None = _utc(default=None, nullable=True)


class Staff(SQLModel, table=True):
    __tablename__ = "staff"
    zalo_user_id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    role: str = Field(max_length=30, index=True)
    active: bool = True
    source: str = Field(default="file", max_length=10)  # file|chat: chat edits win over the file
    updated_at: datetime = _utc()
    # Dashboard password sign-in (optional; the /login link needs neither).
    username: str | None = Field(default=None, max_length=64, unique=True, index=True)
    password_hash: str | None = Field(default=None, max_length=200)  # scrypt$n$r$p$salt$hash
    # Dashboard cookies carry the version they were issued under; signing out or being
    # deactivated moves it on, so every earlier cookie of this person stops working.
    session_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # Zalo refused a 1:1 message to this person for good (-230: no interaction with the OA in
    # 7 days; -213: not a follower): alerts go around them until they write to the OA again.
    dm_blocked_code: int | None = None
    dm_blocked_at: datetime | None = _utc(default=None, nullable=True)
    # /vangmat: until away_until, the bot's 1:1 reminders and alerts for this person go to
    # away_backup (or the heads) instead.
    away_until: datetime | None = _utc(default=None, nullable=True, index=True)
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
    sent_at: datetime = _utc()


class CommandRun(SQLModel, table=True):
    __tablename__ = "command_runs"
    id: int | None = Field(default=None, primary_key=True)
    group_id: str | None = Field(default=None, max_length=64, index=True)
    user_id: str = Field(max_length=64)
    msg_id: str | None = Field(default=None, max_length=100)
    name: str = Field(max_length=40)  # canonical command name, or the unknown word typed
    text: str = Field(sa_column=Column(Text, nullable=False))
    outcome: str = Field(max_length=20)  # ok|usage|denied|unknown|error
    at: datetime = _utc()


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
    at: datetime = _utc()


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
    next_attempt_at: datetime = _utc()
    leased_by: str | None = Field(default=None, max_length=100)  # the process sending it
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    error_code: int | None = None
    zalo_message_id: str | None = Field(default=None, max_length=100, index=True)
    source_event_id: int | None = None
    created_at: datetime = _utc()
    sent_at: datetime | None = _utc(default=None, nullable=True)


class UndeliveredMessage(SQLModel, table=True):
    """A 1:1 message to a staff member that Zalo refused for good: shown on the dashboard of
    that person and of the heads ("Tin nhắn chưa gửi được") until opened."""

    __tablename__ = "undelivered_messages"
    id: int | None = Field(default=None, primary_key=True)
    outbox_id: int = Field(unique=True)
    staff_id: str = Field(max_length=64, index=True)
    code: int | None = None
    text: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = _utc()
    opened_at: datetime | None = _utc(default=None, nullable=True)
    opened_by: str | None = Field(default=None, max_length=64)


class AuditEntry(SQLModel, table=True):
    """Append-only: who did what, when. Never updated or deleted."""

    __tablename__ = "audit_log"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _utc(index=True)
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
    expires_at: datetime | None = _utc(default=None, nullable=True)
    updated_at: datetime = _utc()


# --- workflow rules (issue: SLA, payment gate, stages, handover, incidents) ------------------


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
    opened_at: datetime = _utc(index=True)
    remind_at: datetime = _utc()
    deadline: datetime = _utc()
    escalate_at: datetime = _utc()
    next_due_at: datetime | None = _utc(default=None, nullable=True)
    reminded_at: datetime | None = _utc(default=None, nullable=True)
    breached_at: datetime | None = _utc(default=None, nullable=True)
    escalated_at: datetime | None = _utc(default=None, nullable=True)
    closed_at: datetime | None = _utc(default=None, nullable=True)
    closed_by: str | None = Field(default=None, max_length=64)
    response_seconds: int | None = None  # working seconds from open to close
    # A head's /khongcan: the message needed no answer. Kept (the reports show it withdrawn).
    withdrawn_at: datetime | None = _utc(default=None, nullable=True)
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
    at: datetime = _utc(index=True)


class SlaEvent(SQLModel, table=True):
    """Append-only: every start, stop, reminder, breach, escalation and warning."""

    __tablename__ = "sla_events"
    id: int | None = Field(default=None, primary_key=True)
    clock_id: int | None = Field(default=None, index=True)
    group_id: str = Field(max_length=64, index=True)
    kind: str = Field(max_length=20)  # start|stop|reminder|breach|escalation|warning
    staff_id: str | None = Field(default=None, max_length=64, index=True)
    at: datetime = _utc(index=True)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class Violation(SQLModel, table=True):
    """A breach of the regulation (section 5), per staff member."""

    __tablename__ = "violations"
    id: int | None = Field(default=None, primary_key=True)
    group_id: str | None = Field(default=None, max_length=64, index=True)
    staff_id: str | None = Field(default=None, max_length=64, index=True)
    kind: str = Field(max_length=40)  # sla_breach|ship_before_approval|policy_promise|...
    severity: str = Field(default="minor", max_length=10)  # minor|serious
    at: datetime = _utc(index=True)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class Payment(SQLModel, table=True):
    """A payment or a credit term waiting for accounting's decision."""

    __tablename__ = "payments"
    __table_args__ = (Index("ix_payments_status_requested", "status", "requested_at"),)
    id: int | None = Field(default=None, primary_key=True)
    group_id: str = Field(max_length=64, index=True)
    kind: str = Field(default="payment", max_length=10)  # payment|credit
    amount: int = Field(sa_type=BigInteger)
    method: str | None = Field(default=None, max_length=60)
    note: str | None = Field(default=None, sa_column=Column(Text))
    requested_by: str = Field(max_length=64)
    requested_at: datetime = _utc(index=True)
    status: str = Field(default="pending", max_length=10)  # pending|approved|rejected
    needs_chief: bool = False
    accountant_id: str | None = Field(default=None, max_length=64)
    accountant_at: datetime | None = _utc(default=None, nullable=True)
    chief_id: str | None = Field(default=None, max_length=64)
    chief_at: datetime | None = _utc(default=None, nullable=True)
    decided_by: str | None = Field(default=None, max_length=64)
    decided_at: datetime | None = _utc(default=None, nullable=True)
    reject_reason: str | None = Field(default=None, sa_column=Column(Text))
    # PAYMENT_APPROVAL_SLA: the accountants are reminded at remind_at, the chief accountant
    # and the heads alerted at escalate_at (working time from the request), each once.
    remind_at: datetime | None = _utc(default=None, nullable=True, index=True)
    escalate_at: datetime | None = _utc(default=None, nullable=True, index=True)
    reminded_at: datetime | None = _utc(default=None, nullable=True)
    escalated_at: datetime | None = _utc(default=None, nullable=True)


class Incident(SQLModel, table=True):
    """A customer problem (wrong, missing or damaged goods, late delivery, payment, complaint)."""

    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_due", "next_due_at"),
        Index("ix_incidents_status", "status"),
    )
    id: int | None = Field(default=None, primary_key=True)
    group_id: str = Field(max_length=64, index=True)
    type: str = Field(max_length=20)
    description: str = Field(sa_column=Column(Text, nullable=False))
    attachments: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    status: str = Field(default="open", max_length=12)  # open|in_progress|resolved
    opened_by: str = Field(max_length=64)
    opened_at: datetime = _utc(index=True)
    deadline: datetime = _utc()
    escalate_at: datetime = _utc()
    next_due_at: datetime | None = _utc(default=None, nullable=True)
    breached_at: datetime | None = _utc(default=None, nullable=True)
    escalated_at: datetime | None = _utc(default=None, nullable=True)
    resolved_by: str | None = Field(default=None, max_length=64)
    resolved_at: datetime | None = _utc(default=None, nullable=True)
    resolution_note: str | None = Field(default=None, sa_column=Column(Text))
    # INCIDENT_FIRST_RESPONSE: the department must answer in the group by respond_by; the first
    # message of one of its staff there sets responded_at; unanswered, the heads and the
    # department are alerted once (response_alerted_at).
    respond_by: datetime | None = _utc(default=None, nullable=True, index=True)
    responded_at: datetime | None = _utc(default=None, nullable=True)
    responded_by: str | None = Field(default=None, max_length=64)
    response_alerted_at: datetime | None = _utc(default=None, nullable=True)


class Reminder(SQLModel, table=True):
    """A message owed at a later time (handover follow-ups and the like). The row is the timer."""

    __tablename__ = "reminders"
    id: int | None = Field(default=None, primary_key=True)
    due_at: datetime = _utc(index=True)
    group_id: str | None = Field(default=None, max_length=64)
    user_id: str = Field(max_length=64)  # sent 1:1 to this person
    template: str = Field(max_length=60)
    context: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    sent_at: datetime | None = _utc(default=None, nullable=True)


# --- customer care program (seed 002): products, orders, care, ratings, schedules ------------


class Product(SQLModel, table=True):
    """A catalog product; care_interval_days drives the first care date (0 = no care)."""

    __tablename__ = "products"
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, max_length=60)
    name: str = Field(max_length=200)
    product_group: str | None = Field(default=None, max_length=100, index=True)
    care_interval_days: int = 0
    care_min: int | None = None  # suggested number of care contacts per order
    care_max: int | None = None
    active: bool = True


class Order(SQLModel, table=True):
    """A purchase, from the chat (/order) or synced in by a shop or an ERP (POST /api/orders)."""

    __tablename__ = "orders"
    __table_args__ = (Index("ix_orders_care_due", "care_closed", "next_care_date"),)
    id: int | None = Field(default=None, primary_key=True)
    order_code: str = Field(unique=True, max_length=100)  # the shop's or ERP's own id
    group_id: str | None = Field(default=None, max_length=64, index=True)
    customer_id: int | None = Field(default=None, foreign_key="customers.id", index=True)
    purchased_at: datetime = _utc(index=True)
    amount: int | None = Field(default=None, sa_type=BigInteger)
    source: str = Field(default="chat", max_length=10)  # chat|api
    created_by: str | None = Field(default=None, max_length=64)
    status: str = Field(default="open", max_length=12)  # open|fulfilled|cancelled
    next_care_date: date | None = None  # from the interval rule, or set by the staff
    care_closed: bool = False  # /care end
    created_at: datetime = _utc()


class OrderItem(SQLModel, table=True):
    __tablename__ = "order_items"
    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="orders.id", index=True)
    product_id: int = Field(foreign_key="products.id", index=True)
    quantity: int = 1
    amount: int | None = Field(default=None, sa_type=BigInteger)


class CareLog(SQLModel, table=True):
    """One care contact (/care): what was said, the feedback, when to care next."""

    __tablename__ = "care_logs"
    id: int | None = Field(default=None, primary_key=True)
    order_id: int | None = Field(default=None, foreign_key="orders.id", index=True)
    group_id: str | None = Field(default=None, max_length=64, index=True)
    customer_id: int | None = Field(default=None, foreign_key="customers.id", index=True)
    staff_id: str = Field(max_length=64, index=True)
    content: str = Field(sa_column=Column(Text, nullable=False))
    feedback: str | None = Field(
        default=None, max_length=20
    )  # positive|neutral|negative|complaint|no_answer
    next_care_date: date | None = None
    ended: bool = False
    at: datetime = _utc(index=True)


class CareAssignment(SQLModel, table=True):
    """Who cares for what: a product group (CARE_MODE=by_product) or a customer (by_customer)."""

    __tablename__ = "care_assignments"
    id: int | None = Field(default=None, primary_key=True)
    staff_id: str = Field(max_length=64, index=True)
    product_group: str | None = Field(default=None, max_length=100, index=True)
    customer_id: int | None = Field(default=None, foreign_key="customers.id", index=True)
    created_at: datetime = _utc()


class Rating(SQLModel, table=True):
    """A 1-5 satisfaction rating the bot asked for (score empty until the customer answers)."""

    __tablename__ = "ratings"
    id: int | None = Field(default=None, primary_key=True)
    group_id: str = Field(max_length=64, index=True)
    customer_id: int | None = Field(default=None, foreign_key="customers.id")
    staff_id: str | None = Field(default=None, max_length=64, index=True)  # answerable sales
    # incident|order|deal; ref_id points into incidents, orders or audit_log
    reason: str = Field(max_length=20)
    ref_id: int | None = None  # the incident or order id
    asked_at: datetime = _utc(index=True)
    score: int | None = None
    answered_by: str | None = Field(default=None, max_length=64)
    answered_at: datetime | None = _utc(default=None, nullable=True, index=True)


class ScheduledRun(SQLModel, table=True):
    """A scheduled job's run for one period (e.g. the 2026-11-23 care digest): claimed once."""

    __tablename__ = "scheduled_runs"
    __table_args__ = (UniqueConstraint("job", "period"),)
    id: int | None = Field(default=None, primary_key=True)
    job: str = Field(max_length=60)
    period: str = Field(max_length=40)
    claimed_at: datetime = _utc()


# --- dashboard sign-in -------------------------------------------------------------------------


class LoginToken(SQLModel, table=True):
    """A one-time sign-in link from /login: only the SHA-256 of the token is kept."""

    __tablename__ = "login_tokens"
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, max_length=64)
    user_id: str = Field(max_length=64, index=True)
    created_at: datetime = _utc()
    expires_at: datetime = _utc()
    used_at: datetime | None = _utc(default=None, nullable=True)


# --- customer data erasure ---------------------------------------------------------------------


class Erasure(SQLModel, table=True):
    """A confirmed /xoadulieu, run in short chunks off the command's transaction (features/privacy).

    The row is the progress: the step reached and the counts so far, each saved in the
    transaction of the chunk it counts, so an erasure cut short resumes where it was. One
    process at a time runs it, holding the lease (runner, lease_until).
    """

    __tablename__ = "erasures"
    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(unique=True)  # the customer_erase_requested audit entry
    group_id: str = Field(max_length=64, index=True)
    actor_id: str = Field(max_length=64)  # the admin who confirmed
    reply_group_id: str | None = Field(default=None, max_length=64)  # where they confirmed
    reply_msg_id: str | None = Field(default=None, max_length=100)
    kept: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    counts: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    step: str = Field(max_length=20)
    confirmed_at: datetime = _utc()
    runner: str | None = Field(default=None, max_length=32)
    lease_until: datetime | None = _utc(default=None, nullable=True)
    finished_at: datetime | None = _utc(default=None, nullable=True, index=True)


# --- state the processes share ------------------------------------------------------------------


class AppSecret(SQLModel, table=True):
    """A secret the service made itself, the same for every process and across restarts (the
    dashboard's session key when SESSION_SECRET is empty): the first process to start inserts
    it, every process reads the stored one. Never logged."""

    __tablename__ = "app_secrets"
    name: str = Field(primary_key=True, max_length=60)
    value: str = Field(max_length=200)
    created_at: datetime = _utc()


class SignInFailure(SQLModel, table=True):
    """A failed dashboard password sign-in, once per key it counts against (a username, an
    address): the sign-in throttle of every process counts these (bot/web/auth.py). Rows older
    than the throttle's window are deleted."""

    __tablename__ = "sign_in_failures"
    __table_args__ = (Index("ix_sign_in_failures_key", "kind", "key", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=10)  # user|addr
    key: str = Field(max_length=200)
    at: datetime = _utc(index=True)
