"""Which rows an erasure covers: the customer's notes, the customer side's messages, the alerts
about the group, the group's and the customer's rows to mask."""

from __future__ import annotations

from typing import Any

from sqlalchemy import literal, or_
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col, select

from bot.features.privacy.export import about_customer
from bot.features.privacy.policy import (
    ERASED,
)
from storage.models import (
    CareLog,
    CommandRun,
    InboxEvent,
    Incident,
    Interaction,
    Message,
    OutboxMessage,
    Payment,
)


def notes_of(group_id: str, customer_id: int | None) -> list[tuple[Any, Any, list[Any]]]:
    """(model, column, conditions) of the free-text notes about the customer."""
    return [
        (Interaction, Interaction.note, [about_customer(Interaction, group_id, customer_id)]),
        (CareLog, CareLog.content, [about_customer(CareLog, group_id, customer_id)]),
        (Incident, Incident.description, [Incident.group_id == group_id]),
        (Payment, Payment.note, [Payment.group_id == group_id, col(Payment.note).is_not(None)]),
    ]


def customer_texts(group_id: str) -> list[Any]:
    unerased = or_(col(Message.text).is_(None), col(Message.text) != ERASED)
    return [Message.group_id == group_id, Message.sender_kind == "customer", unerased]


def outbox_about(group_id: str) -> ColumnElement[bool]:
    """Outbox rows to the group, or caused by one of its events (1:1 notices, alerts)."""
    keys = select(literal("msg:") + col(Message.msg_id)).where(Message.group_id == group_id)
    events = select(InboxEvent.id).where(col(InboxEvent.dedupe_key).in_(keys))
    return or_(
        col(OutboxMessage.target_id) == group_id, col(OutboxMessage.source_event_id).in_(events)
    )


def scopes(group_id: str) -> tuple[list[Any], list[Any]]:
    """(column, conditions) to mask: customer identifiers (wide), note texts (the group's)."""
    about = outbox_about(group_id)
    sent_about = select(OutboxMessage.zalo_message_id).where(about)
    commands = (CommandRun.text, [CommandRun.group_id == group_id])
    wide = [
        (Message.text, [or_(col(Message.group_id) == group_id, col(Message.group_id).is_(None))]),
        (OutboxMessage.text, []),  # 1:1 alerts about the group carry no group id
        commands,
        (Payment.reject_reason, [Payment.group_id == group_id]),
    ]
    narrow = [
        (
            Message.text,
            [or_(col(Message.group_id) == group_id, col(Message.msg_id).in_(sent_about))],
        ),
        (OutboxMessage.text, [about]),
        commands,
    ]
    return wide, narrow
