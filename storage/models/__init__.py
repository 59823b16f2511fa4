"""The tables, by capability in this package's modules; everything is importable from here.
Every id that comes from Zalo is a string; every datetime is UTC-aware.

Change a model, then add a migration: `make migration m="what changed"`.
"""

from __future__ import annotations

from storage.models.base import ROLES
from storage.models.people import (
    Customer,
    Group,
    GroupMember,
    Interaction,
    LoginToken,
    Message,
    SignInFailure,
    Staff,
)
from storage.models.pipeline import (
    AppSecret,
    AuditEntry,
    CommandRun,
    InboxEvent,
    OutboxMessage,
    QuarantinedEvent,
    ScheduledRun,
    UndeliveredMessage,
    ZaloToken,
)
from storage.models.sla import Reminder, SlaClock, SlaCorrection, SlaEvent, Violation
from storage.models.work import (
    CareAssignment,
    CareLog,
    Erasure,
    Incident,
    Order,
    OrderItem,
    Payment,
    Product,
    Rating,
)

__all__ = [
    "AppSecret",
    "AuditEntry",
    "CareAssignment",
    "CareLog",
    "CommandRun",
    "Customer",
    "Erasure",
    "Group",
    "GroupMember",
    "InboxEvent",
    "Incident",
    "Interaction",
    "LoginToken",
    "Message",
    "Order",
    "OrderItem",
    "OutboxMessage",
    "Payment",
    "Product",
    "QuarantinedEvent",
    "ROLES",
    "Rating",
    "Reminder",
    "ScheduledRun",
    "SignInFailure",
    "SlaClock",
    "SlaCorrection",
    "SlaEvent",
    "Staff",
    "UndeliveredMessage",
    "Violation",
    "ZaloToken",
]
