"""Helpers the rules share: who holds a role, who is in a group, where alerts go."""

from __future__ import annotations

from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.intents import Intent, Invite, SendGroup, SendUser
from config.settings import Settings
from storage import repo
from storage.models import Group


async def ids_with_role(db: AsyncSession, *roles: str) -> list[str]:
    """Zalo ids of active staff holding any of `roles`."""
    people: list[str] = []
    for role in roles:
        people += [s.zalo_user_id for s in await repo.list_staff(db, role=role)]
    return people


async def role_and_missing(
    db: AsyncSession, role: str, *, group_id: str
) -> tuple[list[str], list[str]]:
    """`ids_with_role(db, role)` and those of them not in the group (invite_missing's
    `missing`), in one query."""
    rows = await repo.role_in_group(db, role=role, group_id=group_id)
    return [user_id for user_id, _ in rows], [user_id for user_id, inside in rows if not inside]


async def present(db: AsyncSession, *, group_id: str) -> set[str]:
    """Who is in the group now, as far as the bot has seen."""
    return {m.user_id for m in await repo.group_members(db, group_id=group_id)}


async def any_row(db: AsyncSession, query: Any) -> bool:
    """Whether `query` finds a row (it is asked for one at most): a sweep's `due` probe."""
    return (await db.exec(query.limit(1))).first() is not None


async def group_label(db: AsyncSession, group_id: str, group: Group | None = None) -> str:
    """How staff know a group: its customer's name, else its Zalo name, else its id. Pass
    `group` when it is loaded already."""
    group = group or await repo.get_group(db, group_id=group_id)
    customer = await repo.get_customer(db, customer_id=group.customer_id) if group else None
    return (customer.name if customer else None) or (group.name if group else None) or group_id


def is_customer_group(settings: Settings, group_id: str | None) -> bool:
    """Every group but the internal alert group is a customer's group."""
    return bool(group_id) and group_id != settings.zalo_alert_group_id


def alert_heads(
    settings: Settings, heads: list[str], template: str, context: dict[str, Any]
) -> list[Intent]:
    """An alert for the heads: into ZALO_ALERT_GROUP_ID when set, else 1:1 to each head.

    Never into the customer's group.
    """
    if settings.zalo_alert_group_id:
        return [SendGroup(settings.zalo_alert_group_id, template, {**context, "heads": heads})]
    return [SendUser(head, template, {**context, "heads": heads}) for head in heads]


async def invite_missing(
    db: AsyncSession,
    *,
    group_id: str,
    user_ids: list[str],
    reason: str,
    notify: str | None,
    also_notify: tuple[str, ...] = (),
) -> tuple[list[str], list[Intent]]:
    """Invite whoever of `user_ids` is not in the group yet; returns them and the intent."""
    inside = await present(db, group_id=group_id)
    missing = [u for u in dict.fromkeys(user_ids) if u not in inside]
    if not missing:
        return [], []
    return missing, [Invite(group_id, tuple(missing), reason, notify, also_notify)]
