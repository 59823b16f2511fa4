"""The SLA's policy, pure: which messages need no answer, the first-response target of a group
(SLA_BY_CUSTOMER_GROUP, /sla) and the stages of a clock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.core.worktime import parse_duration
from bot.features.sla import requests
from config.settings import Settings
from storage.models import Group

STAGES = ("reminder", "breach", "escalation")


def is_pleasantry(text: str | None, attachment_types: tuple[str, ...] = ()) -> bool:
    """True for messages that need no answer ('ok', 'cảm ơn', 'dạ vâng ạ', a sticker, "hàng
    về đủ rồi nha em, thanks"): the request classifier's verdict (bot/features/sla/requests.py)."""
    return not requests.classify(text, attachment_types).needs_reply


# How /khachhang's customer groups can be named in SLA_BY_CUSTOMER_GROUP.
GROUP_ALIASES = {"vip": "vip", "si": "wholesale", "wholesale": "wholesale", "le": "retail",
                 "retail": "retail", "buonsi": "wholesale", "khachle": "retail"}  # fmt: skip


def customer_target(
    settings: Settings, customer_group: str | None
) -> tuple[str | None, str | None]:
    """(limit, working hours) SLA_BY_CUSTOMER_GROUP gives the customer's group, if any."""
    if not customer_group:
        return None, None
    for name, target in settings.customer_group_targets.items():
        if GROUP_ALIASES.get(name, name) == customer_group:
            return target
    return None, None


def first_response(
    settings: Any, group: Group | None, customer_group: str | None = None
) -> timedelta | None:
    """The group's SLA: its own override (/sla), else its customer group's
    (SLA_BY_CUSTOMER_GROUP), else SLA_FIRST_RESPONSE; None when switched off."""
    value = group.sla_first_response if group and group.sla_first_response else None
    if value == "off":
        return None
    value = value or customer_target(settings, customer_group)[0]
    return parse_duration(value) if value else settings.duration("sla_first_response")
