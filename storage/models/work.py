"""Payments and credit requests, incidents, the customer care program (products, orders, care
logs and assignments), ratings, and customer data erasures."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Text
from sqlmodel import Field, SQLModel

from storage.models.base import utc


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
    requested_at: datetime = utc(index=True)
    status: str = Field(default="pending", max_length=10)  # pending|approved|rejected
    needs_chief: bool = False
    accountant_id: str | None = Field(default=None, max_length=64)
    accountant_at: datetime | None = utc(default=None, nullable=True)
    chief_id: str | None = Field(default=None, max_length=64)
    chief_at: datetime | None = utc(default=None, nullable=True)
    decided_by: str | None = Field(default=None, max_length=64)
    decided_at: datetime | None = utc(default=None, nullable=True)
    reject_reason: str | None = Field(default=None, sa_column=Column(Text))
    # PAYMENT_APPROVAL_SLA: the accountants are reminded at remind_at, the chief accountant
    # and the heads alerted at escalate_at (working time from the request), each once.
    remind_at: datetime | None = utc(default=None, nullable=True, index=True)
    escalate_at: datetime | None = utc(default=None, nullable=True, index=True)
    reminded_at: datetime | None = utc(default=None, nullable=True)
    escalated_at: datetime | None = utc(default=None, nullable=True)


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
    opened_at: datetime = utc(index=True)
    deadline: datetime = utc()
    escalate_at: datetime = utc()
    next_due_at: datetime | None = utc(default=None, nullable=True)
    breached_at: datetime | None = utc(default=None, nullable=True)
    escalated_at: datetime | None = utc(default=None, nullable=True)
    resolved_by: str | None = Field(default=None, max_length=64)
    resolved_at: datetime | None = utc(default=None, nullable=True)
    resolution_note: str | None = Field(default=None, sa_column=Column(Text))
    # INCIDENT_FIRST_RESPONSE: the department must answer in the group by respond_by; the first
    # message of one of its staff there sets responded_at; unanswered, the heads and the
    # department are alerted once (response_alerted_at).
    respond_by: datetime | None = utc(default=None, nullable=True, index=True)
    responded_at: datetime | None = utc(default=None, nullable=True)
    responded_by: str | None = Field(default=None, max_length=64)
    response_alerted_at: datetime | None = utc(default=None, nullable=True)


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
    purchased_at: datetime = utc(index=True)
    amount: int | None = Field(default=None, sa_type=BigInteger)
    source: str = Field(default="chat", max_length=10)  # chat|api
    created_by: str | None = Field(default=None, max_length=64)
    status: str = Field(default="open", max_length=12)  # open|fulfilled|cancelled
    next_care_date: date | None = None  # from the interval rule, or set by the staff
    care_closed: bool = False  # /care end
    created_at: datetime = utc()


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
    at: datetime = utc(index=True)


class CareAssignment(SQLModel, table=True):
    """Who cares for what: a product group (CARE_MODE=by_product) or a customer (by_customer)."""

    __tablename__ = "care_assignments"
    id: int | None = Field(default=None, primary_key=True)
    staff_id: str = Field(max_length=64, index=True)
    product_group: str | None = Field(default=None, max_length=100, index=True)
    customer_id: int | None = Field(default=None, foreign_key="customers.id", index=True)
    created_at: datetime = utc()


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
    asked_at: datetime = utc(index=True)
    score: int | None = None
    answered_by: str | None = Field(default=None, max_length=64)
    answered_at: datetime | None = utc(default=None, nullable=True, index=True)


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
    confirmed_at: datetime = utc()
    runner: str | None = Field(default=None, max_length=32)
    lease_until: datetime | None = utc(default=None, nullable=True)
    finished_at: datetime | None = utc(default=None, nullable=True, index=True)
