"""What every dashboard page shares: who is looking (Viewer), the session cookie, rendering.

A session is a signed cookie (HMAC-SHA256 with SESSION_SECRET, or when it is empty with a key
the service made once and keeps in the database) holding the staff id and an expiry; it is
HttpOnly and SameSite=Lax. Each request looks the staff member up again, so a deactivated
account or a changed role takes effect at once. Forms carry a CSRF token derived from the
session. Pages are jinja2 templates in bot/web/templates (autoescaped), Vietnamese first:
`t("Tổng quan", "Overview")` picks by the viewer's language (LOCALE, or ?lang=).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import jinja2
from aiohttp import web

from bot.app.keys import RUNTIME
from bot.core.render import vnd
from bot.web.words import words
from storage import repo
from storage.models import Staff

if TYPE_CHECKING:
    from bot.app.runtime import Runtime

log = logging.getLogger(__name__)

COOKIE = "zb_session"
LANG_COOKIE = "zb_lang"
HERE = Path(__file__).resolve().parent
SEE_ALL_GROUPS = frozenset({"sales_head", "admin", "accountant", "chief_accountant"})
HEADS = frozenset({"sales_head", "admin"})
ROLE_LABELS = {
    "sales": words("core_sales"),
    "sales_head": words("core_sales_head"),
    "accountant": words("core_accountant"),
    "chief_accountant": words("core_chief_accountant"),
    "warehouse": words("core_warehouse"),
    "shipping": words("core_shipping"),
    "admin": words("core_admin"),
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Viewer:
    """The signed-in staff member looking at a page."""

    user_id: str
    name: str
    role: str

    @property
    def sees_all_groups(self) -> bool:
        """Heads, accountants and admins see every group; sales only their own."""
        return self.role in SEE_ALL_GROUPS

    @property
    def is_head(self) -> bool:
        return self.role in HEADS

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


VIEWER: web.RequestKey[Viewer | None] = web.RequestKey("viewer", Viewer | None)  # type: ignore[arg-type]


# --- the session cookie ------------------------------------------------------------------------


def _key(runtime: Runtime) -> bytes:
    """SESSION_SECRET's, else the key made once and kept in the database (Runtime.load loads
    it), so every process and every restart accepts the same cookies."""
    secret = runtime.settings.session_secret
    if secret:
        return hashlib.sha256(secret.encode()).digest()
    if runtime.session_key is None:
        raise RuntimeError("the session key is loaded by Runtime.load()")
    return runtime.session_key


def _sign(key: bytes, payload: bytes) -> str:
    return base64.urlsafe_b64encode(hmac.new(key, payload, hashlib.sha256).digest()).decode()


def make_session_cookie(runtime: Runtime, user_id: str, now: datetime, version: int = 0) -> str:
    """A signed cookie for `user_id` until SESSION_TTL from `now`, under their session version
    (Staff.session_version: signing out moves it on and ends the cookie)."""
    expires = now + runtime.settings.duration("session_ttl")
    payload = json.dumps({"u": user_id, "e": int(expires.timestamp()), "v": version}).encode()
    body = base64.urlsafe_b64encode(payload).decode()
    return f"{body}.{_sign(_key(runtime), payload)}"


def read_session_cookie(
    runtime: Runtime, value: str | None, now: datetime
) -> tuple[str, int] | None:
    """The staff id and session version in a valid, unexpired cookie; None for anything else."""
    if not value or "." not in value:
        return None
    body, signature = value.rsplit(".", 1)
    try:
        payload = base64.urlsafe_b64decode(body.encode())
    except ValueError:
        return None
    if not hmac.compare_digest(signature, _sign(_key(runtime), payload)):
        return None  # before parsing: only our own JSON is ever parsed
    try:
        data = json.loads(payload)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), str):
        return None
    expires, version = data.get("e", 0), data.get("v", 0)
    if not isinstance(expires, int) or not isinstance(version, int) or expires <= now.timestamp():
        return None
    return data["u"], version


def https_only(request: web.Request) -> bool:
    """Cookies get the Secure flag when the dashboard is served over https (PUBLIC_URL)."""
    return request.app[RUNTIME].settings.base_url.startswith("https://")


def start_session(request: web.Request, response: web.StreamResponse, staff: Staff) -> None:
    """Sign `staff` in on this response (under their current session version)."""
    runtime = request.app[RUNTIME]
    ttl = runtime.settings.duration("session_ttl")
    cookie = make_session_cookie(
        runtime, staff.zalo_user_id, runtime.clock.now(), staff.session_version
    )
    response.set_cookie(
        COOKIE,
        cookie,
        max_age=int(ttl.total_seconds()),
        httponly=True,
        samesite="Lax",
        secure=https_only(request),
        path="/",
    )


def end_session(response: web.StreamResponse) -> None:
    response.del_cookie(COOKIE, path="/")


def csrf_token(request: web.Request) -> str:
    """A token bound to the session cookie: forms post it back, other sites cannot know it."""
    runtime = request.app[RUNTIME]
    cookie = request.cookies.get(COOKIE, "")
    return _sign(_key(runtime), b"csrf:" + cookie.encode())[:32]


def check_csrf(request: web.Request, form: Any) -> None:
    given = str(form.get("csrf", ""))
    if not hmac.compare_digest(given, csrf_token(request)):
        raise web.HTTPForbidden(text="CSRF token missing or wrong: reload the page and try again")


async def current_viewer(request: web.Request) -> Viewer | None:
    """The active staff member signed in on this request, if any."""
    if VIEWER in request:
        return request[VIEWER]
    runtime = request.app[RUNTIME]
    signed = read_session_cookie(runtime, request.cookies.get(COOKIE), runtime.clock.now())
    viewer = None
    if signed:
        user_id, version = signed
        async with runtime.read_sessions() as db:
            staff = await repo.get_staff(db, user_id=user_id)
        if staff is not None and staff.active and staff.session_version == version:
            viewer = Viewer(staff.zalo_user_id, staff.name, staff.role)
    request[VIEWER] = viewer
    return viewer


def forbidden(request: web.Request) -> web.Response:
    """The 403 page: the viewer's role does not cover what they asked for."""
    return render(request, "forbidden.html", status=403, title=words("core_not_allowed"))


def page(
    roles: Iterable[str] | None = None,
) -> Callable[[Callable[[web.Request, Viewer], Awaitable[web.StreamResponse]]], Handler]:
    """Decorate a page handler(request, viewer): signed-out visitors go to /login, others
    outside `roles` get a 403 page."""
    allowed = frozenset(roles) if roles is not None else None

    def wrap(
        handler: Callable[[web.Request, Viewer], Awaitable[web.StreamResponse]],
    ) -> Handler:
        async def view(request: web.Request) -> web.StreamResponse:
            viewer = await current_viewer(request)
            if viewer is None:
                raise web.HTTPFound(f"/login?next={quote(request.path_qs, safe='')}")
            if allowed is not None and viewer.role not in allowed:
                return forbidden(request)
            return await handler(request, viewer)

        view.__name__ = handler.__name__
        view.__doc__ = handler.__doc__
        return view

    return wrap


# --- rendering ---------------------------------------------------------------------------------


def language(request: web.Request) -> str:
    chosen = request.query.get("lang") or request.cookies.get(LANG_COOKIE)
    if chosen in ("vi", "en"):
        return chosen
    return request.app[RUNTIME].settings.locale


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["vnd"] = vnd
    env.filters["urlq"] = lambda value: quote(str(value), safe="")
    return env


ENV = _environment()


def pick(lang: str, vi: str, en: str | None = None) -> str:
    """The Vietnamese text, or the English one when the viewer reads English."""
    return en if lang == "en" and en is not None else vi


def role_label(role: str, lang: str) -> str:
    """A role's display name: 'sales_head' -> 'Trưởng phòng KD' (or 'Sales head')."""
    vi, en = ROLE_LABELS.get(role, (role, role))
    return pick(lang, vi, en)


def render(
    request: web.Request, template: str, *, status: int = 200, **context: Any
) -> web.Response:
    """Render a page; `title` may be a (vi, en) pair like every other text."""
    runtime = request.app[RUNTIME]
    lang = language(request)
    tz = runtime.settings.tz

    def t(vi: str, en: str | None = None) -> str:
        return pick(lang, vi, en)

    def when(moment: datetime | None, fmt: str = "%d/%m %H:%M") -> str:
        return moment.astimezone(tz).strftime(fmt) if moment else ""

    def left(delta: timedelta) -> str:
        """A signed duration in minutes/hours, for 'time left' cells."""
        seconds = int(delta.total_seconds())
        sign = "-" if seconds < 0 else ""
        minutes = abs(seconds) // 60
        return f"{sign}{minutes // 60}h{minutes % 60:02d}" if minutes >= 60 else f"{sign}{minutes}m"

    title = context.pop("title", ("", ""))
    if isinstance(title, tuple):
        title = t(*title)
    viewer = request.get(VIEWER)
    html = ENV.get_template(template).render(
        t=t,
        when=when,
        left=left,
        role_label=lambda role: role_label(role, lang),
        lang=lang,
        title=title,
        viewer=viewer,
        now=runtime.clock.now(),
        local_mode=runtime.settings.local_mode,
        csrf=csrf_token(request) if viewer else "",
        path=request.path,
        **context,
    )
    response = web.Response(text=html, status=status, content_type="text/html")
    if request.query.get("lang") in ("vi", "en"):
        response.set_cookie(LANG_COOKIE, request.query["lang"], max_age=365 * 86400, path="/")
    response.headers["Cache-Control"] = "no-store"
    return response


def runtime_of(request: web.Request) -> Runtime:
    return request.app[RUNTIME]
