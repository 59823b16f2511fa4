"""Signing in to the dashboard: a one-time link from /dangnhap, or a username and password.

* GET /login/{token} only shows a button: Zalo and other chat apps fetch links for previews.
  POST uses the token with one conditional UPDATE, so two clicks or two processes cannot both
  use it.
* POST /login checks the scrypt hash. 5 failures for one username, or from one address, within
  15 minutes close that door (429) until the oldest of them is 15 minutes old. Counted in the
  database, so several processes share the count; on the injected clock.
* Neither sign-in form has a session yet, so core.check_csrf (bound to the session) cannot
  apply. They use a double-submit cookie instead: the GET puts one random value in a
  SameSite=Lax cookie and in the form, the POST must bring both, equal. Another site can make a
  browser POST here but can neither read nor send that cookie, so it cannot sign a victim into
  the attacker's account (login CSRF).
* POST /logout checks the session's CSRF token and drops the cookie.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import math
import re
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import delete
from sqlmodel import col, select

from bot.app.keys import RUNTIME
from bot.core.clientip import client_address
from bot.core.logsafe import loggable
from bot.features.staff.login import token_hash
from bot.features.staff.passwords import burn_time, verify_password
from bot.web.core import (
    check_csrf,
    current_viewer,
    end_session,
    https_only,
    render,
    runtime_of,
    start_session,
)
from bot.web.words import words
from storage import repo
from storage.db import SessionFactory
from storage.models import SignInFailure, Staff

log = logging.getLogger(__name__)

Key = tuple[str, str]  # (kind, key): ("user", a username) or ("addr", an address)

FORM_COOKIE = "zb_form"
_NONCE = re.compile(r"[A-Za-z0-9_-]{32}")
WRONG = words("auth_wrong_username_or_password")
TOO_MANY = words("auth_too_many_failed_sign_ins_please")
STALE_FORM = words("auth_the_form_expired_or_your_browser")


class Throttle:
    """Sign-in attempts per key (an address, a username) in a sliding window.

    Kept in the database (sign_in_failures), so N processes allow no more attempts than one.
    An attempt is recorded (committed) first and decided after, by counting what every
    process has recorded: of any number of concurrent attempts only the first `limit` to
    commit can find themselves within the limit (counting then deciding let 150 concurrent
    tries check 133 passwords). The address is counted first, and a refused address records
    nothing against the username, whose limit is higher (USER_LIMIT_FACTOR times): one
    stranger's address cannot lock a username out. A successful sign-in takes its attempt back.
    """

    USER_LIMIT_FACTOR = 2

    def __init__(
        self,
        sessions: SessionFactory,
        read_sessions: SessionFactory,
        limit: int = 5,
        window: timedelta = timedelta(minutes=15),
    ) -> None:
        self.sessions, self.read_sessions = sessions, read_sessions
        self.limit = limit
        self.window = window

    async def attempt(
        self, keys: Iterable[Key], now: datetime
    ) -> tuple[list[int], timedelta | None]:
        """Record one attempt against each key in turn, stopping at the first key over the
        limit: (the recorded rows, how long until that key may try again, else None)."""
        recorded: list[int] = []
        for kind, key in keys:
            recorded.append(await self._record(kind, key, now))
            limit = self.limit * (self.USER_LIMIT_FACTOR if kind == "user" else 1)
            if (wait := await self._wait(kind, key, now, limit)) is not None:
                return recorded, wait
        return recorded, None

    async def _record(self, kind: str, key: str, now: datetime) -> int:
        async with self.sessions() as db:
            old = delete(SignInFailure).where(col(SignInFailure.at) <= now - self.window)
            await db.exec(old)
            row = SignInFailure(kind=kind, key=key, at=now)
            db.add(row)
            await db.commit()
            assert row.id is not None
            return row.id

    async def _wait(self, kind: str, key: str, now: datetime, limit: int) -> timedelta | None:
        """How long until `key` is back within the limit; None when this attempt is within."""
        async with self.sessions() as db:  # the primary: every committed attempt, ours too
            recent = (
                select(SignInFailure.at)
                .where(
                    SignInFailure.kind == kind,
                    SignInFailure.key == key,
                    col(SignInFailure.at) > now - self.window,
                )
                .order_by(col(SignInFailure.at).desc())
                .limit(limit + 1)
            )
            times = list((await db.exec(recent)).all())
        if len(times) <= limit:
            return None
        return max(times[limit - 1] + self.window - now, timedelta(seconds=1))

    async def forgive(self, recorded: list[int], key: Key) -> None:
        """A successful sign-in: its own attempts and the username's failures are dropped."""
        kind, value = key
        async with self.sessions() as db:
            mine = delete(SignInFailure).where(
                col(SignInFailure.id).in_(recorded)
                | ((col(SignInFailure.kind) == kind) & (col(SignInFailure.key) == value))
            )
            await db.exec(mine)
            await db.commit()


THROTTLE = web.AppKey("login_throttle", Throttle)


def safe_next(value: Any) -> str:
    """A same-site path to go to after signing in; /dashboard for anything else."""
    target = str(value or "")
    if (
        target.startswith("/")
        and not target.startswith(("//", "/\\"))
        and "\\" not in target
        and target.isprintable()
    ):
        return target
    return "/dashboard"


def _redirect(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


# --- the double-submit form token ---------------------------------------------------------------


def _form_token(request: web.Request) -> str:
    current = request.cookies.get(FORM_COOKIE, "")
    return current if _NONCE.fullmatch(current) else secrets.token_urlsafe(24)


def _with_form_token(request: web.Request, response: web.Response, token: str) -> web.Response:
    response.set_cookie(
        FORM_COOKIE,
        token,
        httponly=True,
        samesite="Lax",
        secure=https_only(request),
        path="/login",
    )
    return response


def _form_token_ok(request: web.Request, form: Any) -> bool:
    cookie = request.cookies.get(FORM_COOKIE, "")
    given = str(form.get("form_token", ""))
    return bool(_NONCE.fullmatch(cookie)) and hmac.compare_digest(given, cookie)


def _page(
    request: web.Request, template: str, *, status: int = 200, **context: Any
) -> web.Response:
    token = _form_token(request)
    response = render(
        request,
        template,
        status=status,
        title=words("auth_sign_in"),
        form_token=token,
        **context,
    )
    return _with_form_token(request, response, token)


# --- password sign-in ---------------------------------------------------------------------------


async def login_form(request: web.Request) -> web.StreamResponse:
    """The username and password form; a signed-in visitor goes straight on."""
    target = safe_next(request.query.get("next"))
    if await current_viewer(request) is not None:
        return _redirect(target)
    return _page(request, "login.html", next=target, error=None, username="")


async def login_password(request: web.Request) -> web.StreamResponse:
    """Check the password (throttled); sign in and go on, or show the form with one error."""
    runtime = runtime_of(request)
    form = await request.post()
    target = safe_next(form.get("next"))
    username = str(form.get("username", "")).strip().lower()[:64]
    again = {"next": target, "username": username}
    if not _form_token_ok(request, form):
        return _page(request, "login.html", status=403, error=STALE_FORM, **again)
    now = runtime.clock.now()
    address = client_address(request, runtime_of(request).proxies)
    keys = (("addr", address[:200]), ("user", username))  # the address first: see Throttle
    throttle = request.app[THROTTLE]
    recorded, wait = await throttle.attempt(keys, now)
    if wait is not None:
        return _too_many(request, wait, again)
    staff = await _check_password(request, username, str(form.get("password", "")))
    if staff is None:
        log.warning("failed dashboard sign-in for %s from %s", loggable(username), address)
        return _page(request, "login.html", status=400, error=WRONG, **again)
    await throttle.forgive(recorded, keys[1])
    return await _signed_in(request, staff, target, method="password")


def _too_many(request: web.Request, wait: timedelta, again: dict[str, str]) -> web.Response:
    minutes = max(1, math.ceil(wait.total_seconds() / 60))
    error = tuple(text.format(minutes=minutes) for text in TOO_MANY)
    response = _page(request, "login.html", status=429, error=error, **again)
    response.headers["Retry-After"] = str(max(1, math.ceil(wait.total_seconds())))
    return response


async def _check_password(request: web.Request, username: str, password: str) -> Staff | None:
    """The active staff member with this username and password; None otherwise."""
    async with runtime_of(request).sessions() as db:
        staff = await repo.find_staff_by_username(db, username=username) if username else None
    if staff is None or not staff.active or not staff.password_hash:
        await asyncio.to_thread(burn_time, password)
        return None
    if not await asyncio.to_thread(verify_password, password, staff.password_hash):
        return None
    return staff


async def _signed_in(
    request: web.Request, staff: Staff, target: str, *, method: str
) -> web.Response:
    runtime = runtime_of(request)
    async with runtime.sessions() as db:
        await repo.audit(
            db,
            at=runtime.clock.now(),
            actor_id=staff.zalo_user_id,
            action="dashboard_login",
            method=method,
            address=client_address(request, runtime_of(request).proxies),
        )
        await db.commit()
    response = _redirect(target)
    start_session(request, response, staff)
    return response


# --- the one-time link --------------------------------------------------------------------------


async def link_page(request: web.Request) -> web.StreamResponse:
    """A confirmation button; the token is not used here."""
    runtime = runtime_of(request)
    digest = token_hash(request.match_info["token"])
    async with runtime.sessions() as db:
        token = await repo.usable_login_token(db, token_hash=digest, now=runtime.clock.now())
        staff = await repo.get_staff(db, user_id=token.user_id) if token else None
    if token is None or staff is None or not staff.active:
        return _refused(request, inactive=staff is not None)
    target = safe_next(request.query.get("next"))
    return _page(request, "login_link.html", next=target, error=None, name=staff.name, token=token)


async def link_login(request: web.Request) -> web.StreamResponse:
    """Use the token (once) and sign its staff member in."""
    runtime = runtime_of(request)
    form = await request.post()
    target = safe_next(form.get("next"))
    if not _form_token_ok(request, form):
        return _link_again(request, target)
    async with runtime.sessions() as db:
        user_id = await repo.use_login_token(
            db, token_hash=token_hash(request.match_info["token"]), now=runtime.clock.now()
        )
        staff = await repo.get_staff(db, user_id=user_id) if user_id else None
        await db.commit()
    if staff is None or not staff.active:
        return _refused(request, inactive=staff is not None)
    return await _signed_in(request, staff, target, method="link")


def _link_again(request: web.Request, target: str) -> web.Response:
    """The confirmation page again, after a POST without the form cookie."""
    return _page(
        request, "login_link.html", status=403, next=target, error=STALE_FORM, name="", token=None
    )


def _refused(request: web.Request, *, inactive: bool) -> web.Response:
    return render(
        request,
        "login_expired.html",
        status=410,
        title=words("auth_sign_in_link_not_usable"),
        inactive=inactive,
    )


# --- signing out --------------------------------------------------------------------------------


async def logout(request: web.Request) -> web.StreamResponse:
    """End the session (CSRF-checked) and go to the sign-in form. The person's session version
    moves on, so the cookie (and any copy of it, on any browser) stops working."""
    check_csrf(request, await request.post())
    viewer = await current_viewer(request)
    if viewer is not None:
        runtime = runtime_of(request)
        async with runtime.sessions() as db:
            await repo.end_sessions(db, user_id=viewer.user_id)
            await repo.audit(
                db, at=runtime.clock.now(), actor_id=viewer.user_id, action="dashboard_logout"
            )
            await db.commit()
    response = _redirect("/login")
    end_session(response)
    return response


def setup(app: web.Application) -> None:
    """Add this part's routes."""
    runtime = app[RUNTIME]
    app[THROTTLE] = Throttle(runtime.sessions, runtime.read_sessions)
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login_password)
    app.router.add_get("/login/{token}", link_page)
    app.router.add_post("/login/{token}", link_login)
    app.router.add_post("/logout", logout)
