"""Staff: the directory, the staff file's sync, dashboard passwords and sign-in links, who can get
1:1 messages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import (
    update,
)
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import (
    LoginToken,
    Staff,
)


async def get_staff(db: AsyncSession, *, user_id: str) -> Staff | None:
    return await db.get(Staff, user_id)


async def list_staff(db: AsyncSession, *, role: str | None = None) -> list[Staff]:
    query = select(Staff).where(col(Staff.active).is_(True))
    if role:
        query = query.where(Staff.role == role)
    return list((await db.exec(query.order_by(col(Staff.role), col(Staff.name)))).all())


async def find_staff(
    db: AsyncSession, *, ref: str, fold: Callable[[str], str] = str.casefold
) -> Staff | None:
    """A staff member by Zalo user id, or by a unique name compared through `fold` (the bot
    passes bot.core.text.fold, so "tran thi binh" finds "Trần Thị Bình")."""
    found = await db.get(Staff, ref.lstrip("@"))
    if found:
        return found
    wanted = fold(ref.lstrip("@")).strip()
    matches = [s for s in await list_staff(db) if fold(s.name) == wanted]
    return matches[0] if len(matches) == 1 else None


async def put_staff(
    db: AsyncSession, *, user_id: str, name: str, role: str, source: str, now: datetime
) -> Staff:
    staff = await db.get(Staff, user_id) or Staff(zalo_user_id=user_id, name=name, role=role)
    staff.name, staff.role, staff.active, staff.source, staff.updated_at = (
        name,
        role,
        True,
        source,
        now,
    )
    db.add(staff)
    await db.flush()
    return staff


async def deactivate_staff(db: AsyncSession, *, user_id: str, source: str, now: datetime) -> bool:
    staff = await db.get(Staff, user_id)
    if not staff or not staff.active:
        return False
    staff.active, staff.source, staff.updated_at = False, source, now
    staff.session_version += 1  # their dashboard cookies end now, and stay ended if reactivated
    db.add(staff)
    return True


async def end_sessions(db: AsyncSession, *, user_id: str) -> None:
    """Every dashboard cookie issued to `user_id` so far stops working (signing out)."""
    staff = await db.get(Staff, user_id)
    if staff is not None:
        staff.session_version += 1
        db.add(staff)


async def sync_staff_file(
    db: AsyncSession, *, rows: list[dict[str, str]], now: datetime
) -> dict[str, int]:
    """Apply the staff file: add and update its people, deactivate file people it dropped.

    People changed from the chat (source 'chat') keep their chat values.
    """
    existing = {s.zalo_user_id: s for s in (await db.exec(select(Staff))).all()}
    counts = {"added": 0, "updated": 0, "removed": 0}
    in_file = set()
    for row in rows:
        in_file.add(row["zalo_user_id"])
        current = existing.get(row["zalo_user_id"])
        if current is not None and current.source == "chat":
            continue
        if current is None or (current.name, current.role, current.active) != (
            row["name"],
            row["role"],
            True,
        ):
            counts["added" if current is None else "updated"] += 1
            await put_staff(
                db,
                user_id=row["zalo_user_id"],
                name=row["name"],
                role=row["role"],
                source="file",
                now=now,
            )
    for user_id, staff in existing.items():
        if staff.source == "file" and staff.active and user_id not in in_file:
            await deactivate_staff(db, user_id=user_id, source="file", now=now)
            counts["removed"] += 1
    return counts


async def dm_receivers(db: AsyncSession, *, roles: tuple[str, ...]) -> list[str]:
    """Active staff holding any of `roles` whom Zalo has not refused 1:1 messages for good."""
    query = select(Staff.zalo_user_id).where(
        col(Staff.active).is_(True),
        col(Staff.role).in_(roles),
        col(Staff.dm_blocked_code).is_(None),
    )
    return list((await db.exec(query.order_by(col(Staff.zalo_user_id)))).all())


async def all_staff(db: AsyncSession) -> list[Staff]:
    """Every staff row, active first, then by role and name (the directory page)."""
    query = select(Staff).order_by(col(Staff.active).desc(), col(Staff.role), col(Staff.name))
    return list((await db.exec(query)).all())


async def find_staff_by_username(db: AsyncSession, *, username: str) -> Staff | None:
    return (await db.exec(select(Staff).where(Staff.username == username))).first()


async def set_staff_password(
    db: AsyncSession,
    *,
    user_id: str,
    username: str | None,
    password_hash: str | None,
    now: datetime,
) -> Staff | None:
    """Set (or with None, remove) a staff member's username and password hash."""
    staff = await db.get(Staff, user_id)
    if staff is None:
        return None
    staff.username, staff.password_hash, staff.updated_at = username, password_hash, now
    db.add(staff)
    await db.flush()
    return staff


async def add_login_token(
    db: AsyncSession, *, user_id: str, token_hash: str, now: datetime, expires_at: datetime
) -> LoginToken:
    token = LoginToken(
        token_hash=token_hash, user_id=user_id, created_at=now, expires_at=expires_at
    )
    db.add(token)
    await db.flush()
    return token


async def usable_login_token(
    db: AsyncSession, *, token_hash: str, now: datetime
) -> LoginToken | None:
    """The unused, unexpired token with this hash, without using it (link previews GET it)."""
    query = select(LoginToken).where(
        LoginToken.token_hash == token_hash,
        col(LoginToken.used_at).is_(None),
        col(LoginToken.expires_at) > now,
    )
    return (await db.exec(query)).first()


async def use_login_token(db: AsyncSession, *, token_hash: str, now: datetime) -> str | None:
    """Mark the token used and return its staff id; None if unknown, used or expired.

    One conditional UPDATE: of two clicks or two processes, exactly one gets the row.
    """
    statement = (
        update(LoginToken)
        .where(
            col(LoginToken.token_hash) == token_hash,
            col(LoginToken.used_at).is_(None),
            col(LoginToken.expires_at) > now,
        )
        .values(used_at=now)
        .returning(col(LoginToken.user_id))
    )
    connection = await db.connection()
    return (await connection.execute(statement)).scalar_one_or_none()
