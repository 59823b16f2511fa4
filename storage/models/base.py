"""What the tables share: the roles and a UTC datetime field."""

from __future__ import annotations

from typing import Any

from sqlmodel import Field

from storage.types import UTCDateTime

ROLES = ("sales", "sales_head", "accountant", "chief_accountant", "warehouse", "shipping", "admin")


def utc(**kwargs: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kwargs)
