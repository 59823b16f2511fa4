"""Staff directory (/dashboard/directory): admins manage people and passwords, sales heads look.

* Every change is a POST form carrying the session's CSRF token, audited with the admin as the
  actor, then a redirect back with ?done=<what> so a refresh does not repeat it. A mistake in
  a form is shown on the page (400 or 404), never a 500.
* Changes made here are manual edits, like /nhanvien in the chat: they are saved with source
  'chat', which repo.sync_staff_file leaves alone, so reloading the staff file does not undo
  them (a new source value would need sync_staff_file to learn it).
* An admin cannot deactivate themself or drop their own admin role: nobody locks the door
  from inside.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.features.staff.passwords import (
    PasswordError,
    check_new_password,
    hash_password,
    normalize_username,
)
from bot.web.core import Viewer, check_csrf, page, render, runtime_of
from bot.web.words import words
from storage import repo
from storage.models import ROLES, Staff

PATH = "/dashboard/directory"
VIEWERS = ("admin", "sales_head")
MANAGERS = ("admin",)
MANUAL = "chat"  # what sync_staff_file treats as "changed by a person, keep it"
DONE = {
    "added": words("directory_staff_member_added"),
    "saved": words("directory_changes_saved"),
    "deactivated": words("directory_staff_member_deactivated_their_dashboard_session"),
    "reactivated": words("directory_staff_member_reactivated"),
    "password_set": words("directory_password_set"),
    "password_removed": words("directory_password_removed"),
}


class FormError(ValueError):
    """A form that cannot be applied: (Vietnamese, English) text and the page's status."""

    def __init__(self, vi: str, en: str, status: int = 400) -> None:
        super().__init__(vi)
        self.text = (vi, en)
        self.status = status


@dataclass(frozen=True)
class Change:
    """One admin action: who, the form, the staff id in the path, the time."""

    viewer: Viewer
    form: Any
    user_id: str
    now: datetime


Action = Callable[[AsyncSession, Change], Awaitable[str]]


# --- reading the forms --------------------------------------------------------------------------


def _zalo_id(form: Any) -> str:
    value = str(form.get("zalo_user_id", "")).strip()
    if not value.isdecimal() or len(value) > 64:
        raise FormError(
            *words("directory_the_zalo_id_must_be_digits"),
        )
    return value


def _name(form: Any) -> str:
    value = " ".join(str(form.get("name", "")).split())
    if not value or len(value) > 200:
        raise FormError(*words("directory_a_name_is_needed_up_to"))
    return value


def _role(form: Any) -> str:
    value = str(form.get("role", ""))
    if value not in ROLES:
        raise FormError(*words("directory_unknown_role"))
    return value


def _credentials(form: Any) -> tuple[str, str]:
    try:
        username = normalize_username(str(form.get("username", "")))
    except PasswordError as exc:
        raise FormError(exc.text("vi"), exc.text("en")) from None
    password = str(form.get("password", ""))
    try:
        check_new_password(password)
    except PasswordError as exc:
        raise FormError(exc.text("vi"), exc.text("en")) from None
    return username, password


async def _existing(db: AsyncSession, change: Change) -> Staff:
    staff = await repo.get_staff(db, user_id=change.user_id)
    if staff is None:
        raise FormError(*words("directory_no_staff_member", user_id=change.user_id), 404)
    return staff


async def _audit(
    db: AsyncSession, change: Change, action: str, *, user_id: str = "", **detail: Any
) -> None:
    await repo.audit(
        db,
        at=change.now,
        actor_id=change.viewer.user_id,
        action=action,
        user_id=user_id or change.user_id,
        via="dashboard",
        **detail,
    )


# --- the actions --------------------------------------------------------------------------------


async def _add(db: AsyncSession, change: Change) -> str:
    user_id, name, role = _zalo_id(change.form), _name(change.form), _role(change.form)
    current = await repo.get_staff(db, user_id=user_id)
    if current is not None and current.active:
        raise FormError(
            *words("directory_already_in_directory", user_id=user_id, name=current.name)
        )
    await repo.put_staff(db, user_id=user_id, name=name, role=role, source=MANUAL, now=change.now)
    await _audit(db, change, "staff.add", user_id=user_id, name=name, role=role)
    return "added"


async def _edit(db: AsyncSession, change: Change) -> str:
    staff = await _existing(db, change)
    name, role = _name(change.form), _role(change.form)
    if not staff.active:
        raise FormError(
            *words("directory_this_staff_member_is_deactivated_reactivate"),
        )
    if change.user_id == change.viewer.user_id and role != "admin":
        raise FormError(*words("directory_you_cannot_drop_your_own_admin"))
    before = {"name": staff.name, "role": staff.role}
    await repo.put_staff(
        db, user_id=change.user_id, name=name, role=role, source=MANUAL, now=change.now
    )
    await _audit(db, change, "staff.edit", name=name, role=role, before=before)
    return "saved"


async def _deactivate(db: AsyncSession, change: Change) -> str:
    await _existing(db, change)
    if change.user_id == change.viewer.user_id:
        raise FormError(*words("directory_you_cannot_deactivate_yourself"))
    removed = await repo.deactivate_staff(db, user_id=change.user_id, source=MANUAL, now=change.now)
    await _audit(db, change, "staff.removed", removed=removed)
    return "deactivated"


async def _reactivate(db: AsyncSession, change: Change) -> str:
    staff = await _existing(db, change)
    await repo.put_staff(
        db,
        user_id=staff.zalo_user_id,
        name=staff.name,
        role=staff.role,
        source=MANUAL,
        now=change.now,
    )
    await _audit(db, change, "staff.reactivated", role=staff.role)
    return "reactivated"


async def _set_password(db: AsyncSession, change: Change) -> str:
    await _existing(db, change)
    username, password = _credentials(change.form)
    holder = await repo.find_staff_by_username(db, username=username)
    if holder is not None and holder.zalo_user_id != change.user_id:
        raise FormError(*words("directory_username_taken", username=username, holder=holder.name))
    hashed = await asyncio.to_thread(hash_password, password)
    await repo.set_staff_password(
        db, user_id=change.user_id, username=username, password_hash=hashed, now=change.now
    )
    await _audit(db, change, "staff.password_set", username=username)
    return "password_set"


async def _remove_password(db: AsyncSession, change: Change) -> str:
    await _existing(db, change)
    await repo.set_staff_password(
        db, user_id=change.user_id, username=None, password_hash=None, now=change.now
    )
    await _audit(db, change, "staff.password_removed")
    return "password_removed"


# --- the views ----------------------------------------------------------------------------------


async def _show(
    request: web.Request,
    viewer: Viewer,
    *,
    notice: tuple[str, str] | None = None,
    error: tuple[str, str] | None = None,
    status: int = 200,
    form: Any = None,
) -> web.Response:
    async with runtime_of(request).sessions() as db:
        people = await repo.all_staff(db)
    return render(
        request,
        "directory.html",
        status=status,
        title=words("directory_staff_directory"),
        people=people,
        names={p.zalo_user_id: p.name for p in people},
        roles=ROLES,
        can_manage=viewer.is_admin,
        notice=notice,
        error=error,
        typed={key: str(form.get(key, "")) for key in ("zalo_user_id", "name", "role")}
        if form is not None
        else {},
    )


@page(roles=VIEWERS)
async def directory(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    """Everyone on staff, active or not; admins get the forms."""
    return await _show(request, viewer, notice=DONE.get(request.query.get("done", "")))


async def _apply(request: web.Request, viewer: Viewer, action: Action) -> web.StreamResponse:
    """Check CSRF, run one action in one transaction, redirect with its notice (or show why not)."""
    form = await request.post()
    check_csrf(request, form)
    runtime = runtime_of(request)
    change = Change(viewer, form, request.match_info.get("user_id", ""), runtime.clock.now())
    try:
        async with runtime.sessions() as db:
            done = await action(db, change)
            await db.commit()
    except FormError as exc:
        return await _show(request, viewer, error=exc.text, status=exc.status, form=form)
    except IntegrityError:  # two admins took the same username at the same moment
        error = words("directory_that_username_was_just_taken")
        return await _show(request, viewer, error=error, status=409, form=form)
    return web.Response(status=303, headers={"Location": f"{PATH}?done={done}"})


def _post(action: Action) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    @page(roles=MANAGERS)
    async def view(request: web.Request, viewer: Viewer) -> web.StreamResponse:
        return await _apply(request, viewer, action)

    return view


def setup(app: web.Application) -> None:
    """Add this part's routes."""
    app.router.add_get(PATH, directory)
    app.router.add_post(f"{PATH}/add", _post(_add))
    app.router.add_post(f"{PATH}/{{user_id}}/edit", _post(_edit))
    app.router.add_post(f"{PATH}/{{user_id}}/deactivate", _post(_deactivate))
    app.router.add_post(f"{PATH}/{{user_id}}/reactivate", _post(_reactivate))
    app.router.add_post(f"{PATH}/{{user_id}}/password", _post(_set_password))
    app.router.add_post(f"{PATH}/{{user_id}}/password/remove", _post(_remove_password))
