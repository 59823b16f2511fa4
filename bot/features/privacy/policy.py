"""What an erasure erases and masks, pure: the markers, the customer's identifiers, scrubbing a
text or a JSON value (the policy: bot/features/privacy/__init__.py)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from storage.models import (
    Customer,
)

ERASED = "[đã xoá theo yêu cầu khách hàng]"


MASK = "[đã xoá]"


MIN_IDENTIFIER = 4


PROFILE_FIELDS = ("phone", "region", "birthday", "gender", "channel", "contact_channel")


PERSONAL_KEYS = frozenset({"note", "text", "description", "content", "resolution_note"})


def erased_name(customer_id: int | None) -> str:
    return f"Khách hàng đã xoá #{customer_id}"


def is_erased(customer: Customer) -> bool:
    """True once the profile holds nothing personal any more."""
    return customer.name == erased_name(customer.id) and not any(
        getattr(customer, f) for f in (*PROFILE_FIELDS, "founded_on")
    )


def identifiers(customer: Customer | None) -> list[str]:
    """The customer's strings to mask in kept text, longest first."""
    if customer is None or is_erased(customer):
        return []
    values = [customer.name, customer.phone or ""]
    for day in (customer.birthday, customer.founded_on):
        if day is not None:
            values += [day.strftime("%d/%m/%Y"), day.isoformat()]
    kept = {v.strip() for v in values if len(v.strip()) >= MIN_IDENTIFIER}
    return sorted(kept - {erased_name(customer.id)}, key=len, reverse=True)


def longest_first(values: Iterable[str]) -> list[str]:
    return sorted(set(values), key=len, reverse=True)


def scrub(value: Any, idents: list[str], blank: frozenset[str] = frozenset()) -> Any:
    """`value` (JSON) with the identifiers masked and the `blank` keys' values erased."""
    if isinstance(value, str):
        for ident in idents:
            value = value.replace(ident, MASK)
        return value
    if isinstance(value, list):
        return [scrub(v, idents, blank) for v in value]
    if isinstance(value, dict):
        return {
            k: ERASED if k in blank and v else scrub(v, idents, blank) for k, v in value.items()
        }
    return value


def clean_body(body: str, customer: bool, idents: list[str]) -> str:
    """A stored webhook body with the customer's text gone (customer side) or masked."""
    try:
        data = json.loads(body)
    except ValueError:
        return body
    cleaned = scrub(without_text(data) if customer else data, idents)
    return body if cleaned == data else json.dumps(cleaned, ensure_ascii=False)


def without_text(data: Any) -> Any:
    message = data.get("message") if isinstance(data, dict) else None
    if not isinstance(message, dict):
        return data
    wiped = {**message, "text": ERASED} if "text" in message else dict(message)
    if "attachments" in wiped:
        wiped["attachments"] = []
    return {**data, "message": wiped}
