"""What the dashboard reads, shared by its pages: who sees which group, names, text search.

Visibility: heads, admins and accounting see every group; a sales the groups assigned to
them; warehouse and shipping the groups they are members of (not left). Every list filters
and limits in SQL and looks names up in one batch, never one query per row.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.web.core import Viewer
from storage.fast.hot import dialect_of
from storage.models import Customer, Group, GroupMember, Staff

LIST_LIMIT = 50


@dataclass(frozen=True)
class Listing:
    """At most `limit` rows of a list, and how many there are in all."""

    rows: list[Any]
    total: int


def visible_group_ids(viewer: Viewer) -> Select[Any] | None:
    """The ids of the groups `viewer` may see, as a subquery; None means every group."""
    if viewer.sees_all_groups:
        return None
    if viewer.role == "sales":
        return select(Group.group_id).where(Group.assigned_sales_id == viewer.user_id)
    return select(GroupMember.group_id).where(
        GroupMember.user_id == viewer.user_id, col(GroupMember.left_at).is_(None)
    )


def scoped(query: Any, column: Any, viewer: Viewer) -> Any:
    """`query` limited to rows whose group (`column`) the viewer may see."""
    ids = visible_group_ids(viewer)
    return query if ids is None else query.where(col(column).in_(ids))


def may_see(viewer: Viewer, group: Group, member: bool) -> bool:
    """Whether `viewer` may open this group's page (`member`: they are in the group now)."""
    if viewer.sees_all_groups:
        return True
    if viewer.role == "sales":
        return group.assigned_sales_id == viewer.user_id
    return member


def with_group(model: Any, group_column: Any) -> Any:
    """select(model) with the group's display name and the customer's name (outer joins)."""
    return (
        select(
            model,
            func.coalesce(Group.name, Customer.name, group_column).label("group_name"),
            col(Customer.name).label("customer"),
        )
        .join(Group, col(Group.group_id) == group_column, isouter=True)
        .join(Customer, col(Customer.id) == Group.customer_id, isouter=True)
    )


async def listing(db: AsyncSession, query: Any, limit: int = LIST_LIMIT) -> Listing:
    """The first `limit` rows of `query` and the count of all its rows."""
    rows = list((await db.exec(query.limit(limit))).all())
    if len(rows) < limit:
        return Listing(rows, len(rows))
    counted = select(func.count()).select_from(query.order_by(None).subquery())
    return Listing(rows, int((await db.exec(counted)).one()))


async def staff_by_id(db: AsyncSession) -> dict[str, Staff]:
    """Every staff member (left ones too, for old records), loaded once per page."""
    return {s.zalo_user_id: s for s in (await db.exec(select(Staff))).all()}


# --- case-insensitive search that behaves the same on SQLite and PostgreSQL -----------------

_GLOB_SPECIAL = frozenset("*?[]")


def _glob(text: str) -> str:
    """A SQLite GLOB pattern matching `text` anywhere, in any letter case (Unicode too)."""
    out = []
    for char in text:
        low, up = char.lower(), char.upper()
        if len(low) == 1 and len(up) == 1 and low != up:
            out.append(f"[{low}{up}]")
        elif char in _GLOB_SPECIAL:
            out.append(f"[{char}]")
        else:
            out.append(char)
    return "*" + "".join(out) + "*"


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def printable(raw: str | None) -> str:
    """`raw` without control characters or lone surrogates (PostgreSQL refuses NUL)."""
    return "".join(c for c in raw or "" if unicodedata.category(c) not in ("Cc", "Cs"))


def search_text(raw: str | None) -> str:
    """The search words as typed, normalised (NFC, trimmed, at most 100 characters)."""
    return unicodedata.normalize("NFC", printable(raw).strip())[:100]


def plain_id(value: str) -> bool:
    """Whether `value` can be a stored Zalo id (a group's or a person's)."""
    return 0 < len(value) <= 64 and printable(value) == value


def contains(db: AsyncSession, column: Any, text: str) -> ColumnElement[bool]:
    """`column` contains `text`, ignoring letter case. SQLite's LIKE folds ASCII only, so it
    gets a GLOB with a [xX] class per letter; PostgreSQL's ILIKE folds Unicode itself."""
    assert db.bind is not None
    if dialect_of(db) == "sqlite":
        return col(column).op("GLOB")(_glob(text))
    return col(column).ilike(_like(text), escape="\\")


async def group_names(db: AsyncSession, group_ids: set[str]) -> dict[str, str]:
    """Display names of these groups (their name, else their customer's), in one query."""
    query = (
        select(Group.group_id, func.coalesce(Group.name, Customer.name, Group.group_id))
        .join(Customer, col(Customer.id) == Group.customer_id, isouter=True)
        .where(col(Group.group_id).in_(group_ids))
    )
    return {gid: name for gid, name in (await db.exec(query)).all()}
