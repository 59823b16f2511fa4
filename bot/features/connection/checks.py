"""The connection doctor: what is wrong between this service and the Zalo OA, and how to fix it.

The checklist is in Vietnamese (English with LOCALE=en); `python -m bot doctor`
(bot/tools/doctor.py) prints it.

Checks, in order: the settings present and consistent; PUBLIC_URL on https; the access token
valid (one harmless read call, never a refresh: the pair would rotate under the service) and
its expiry; a refresh possible; GMF access (the OA's groups); each known group still holding
the OA and its package's end; ZALO_ALERT_GROUP_ID set and the OA in it; staff who follow the OA
and can get 1:1 messages; the webhook's last valid event, rejected signatures and the hint.
Each line is ✓ or ✗ with the fix. Exit 0 when every required check passes, 1 otherwise. It
applies the database migrations first, so it works on a fresh database. The admins' page
"Kết nối Zalo" (/dashboard/zalo) runs the same checks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlmodel import col, select

from bot.core.membership import state_from
from bot.core.render import labels
from bot.zalo import quarantine
from bot.zalo.errors import ZaloAPIError, ZaloError
from config.settings import Settings
from storage.models import Group, Staff

if TYPE_CHECKING:
    from bot.app.runtime import Runtime


REQUIRED = ("settings", "public_url", "token", "refresh", "gmf")


ORDER = (
    "settings", "public_url", "token", "refresh", "gmf", "groups", "alert_group", "staff_dm",
    "webhook",
)  # fmt: skip


MAX_STAFF_LOOKUPS = 100  # user/detail calls: one per active staff member, at most this many


@dataclass(frozen=True)
class Check:
    """One line of the checklist: its key (doctor.toml), whether it passed, what it found."""

    key: str
    ok: bool
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def required(self) -> bool:
        return self.key in REQUIRED


@dataclass(frozen=True)
class Line:
    """A check as the reader sees it."""

    key: str
    ok: bool
    required: bool
    text: str
    fix: str | None


def _error(exc: Exception) -> str:
    if isinstance(exc, ZaloAPIError):
        return f"{exc.code} {exc.message}"
    return str(exc)[:200]


class Doctor:
    """Runs the checks against a built Runtime (its settings, database, Zalo client)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.settings: Settings = runtime.settings
        self.checks: dict[str, Check] = {}

    async def run(self) -> list[Check]:
        self._note(self._settings())
        self._note(self._public_url())
        if self.runtime.zalo is None:  # local mode: nothing to ask Zalo
            for key in ("token", "refresh", "gmf"):
                self._note(Check(key, False, {"error": "local mode"}))
        else:
            self._note(await self._token())
            self._note(self._refresh())
            self._note(await self._gmf())
            self._note(await self._groups())
            self._note(await self._alert_group())
            self._note(await self._staff_dm())
        self._note(await self._webhook())
        return [self.checks[key] for key in ORDER if key in self.checks]

    def _note(self, check: Check) -> None:
        self.checks[check.key] = check

    def _settings(self) -> Check:
        s = self.settings
        wanted = {
            "ZALO_APP_ID": s.zalo_app_id,
            "ZALO_APP_SECRET": s.zalo_app_secret,
            "ZALO_OA_SECRET_KEY": s.zalo_oa_secret_key,
            "ZALO_ACCESS_TOKEN / ZALO_REFRESH_TOKEN": s.zalo_access_token or s.zalo_refresh_token,
            "ZALO_OA_ID": s.zalo_oa_id,
        }
        missing = [name for name, value in wanted.items() if not value]
        same = bool(s.zalo_app_secret) and s.zalo_app_secret == s.zalo_oa_secret_key
        problems = missing + (["ZALO_APP_SECRET = ZALO_OA_SECRET_KEY"] if same else [])
        return Check("settings", not problems, {"missing": ", ".join(problems)})

    def _public_url(self) -> Check:
        url = self.settings.public_url
        return Check("public_url", url.startswith("https://"), {"url": url or "(trống/empty)"})

    async def _token(self) -> Check:
        assert self.runtime.zalo is not None and self.runtime.tokens is not None
        state = self.runtime.tokens.state()
        expires = state.get("expires_at") or "?"
        try:
            info = await self.runtime.zalo.probe("GET", "/v2.0/oa/getoa")
        except ZaloError as exc:
            return Check("token", False, {"error": _error(exc), "expires_at": expires})
        oa_id = str(info.get("oa_id") or "")
        self.oa_name = str(info.get("name") or oa_id)
        if self.settings.zalo_oa_id and oa_id and oa_id != self.settings.zalo_oa_id:
            self._note(Check("settings", False, {"missing": f"ZALO_OA_ID ≠ {oa_id}"}))
        return Check("token", True, {"oa": self.oa_name, "expires_at": expires})

    def _refresh(self) -> Check:
        tokens = self.runtime.tokens
        has_refresh = tokens is not None and tokens.can_refresh()
        return Check("refresh", has_refresh and bool(self.settings.zalo_app_secret), {})

    async def _gmf(self) -> Check:
        assert self.runtime.zalo is not None
        try:
            data = await self.runtime.zalo.probe(
                "GET", "/v3.0/oa/group/getgroupsofoa", {"offset": 0, "count": 50}
            )
        except ZaloError as exc:
            return Check("gmf", False, {"error": _error(exc)})
        groups: list[Any] = data["groups"] if isinstance(data.get("groups"), list) else []
        self.oa_groups = {str(g.get("group_id")) for g in groups if isinstance(g, dict)}
        return Check("gmf", True, {"count": data.get("total", len(groups))})

    async def _group_problem(self, group_id: str, now: datetime) -> str | None:
        assert self.runtime.zalo is not None
        try:
            info = await self.runtime.zalo.probe(
                "GET", "/v3.0/oa/group/getgroup", {"group_id": group_id}
            )
        except ZaloError as exc:
            return f"{group_id}: {_error(exc)}"
        state = state_from([], info)
        problem = state.problem(now)
        if problem is None:
            return None
        end = state.valid_through.date().isoformat() if state.valid_through else "?"
        return f"{state.name or group_id}: {problem} ({end})"

    async def _groups(self) -> Check:
        now = self.runtime.clock.now()
        async with self.runtime.sessions() as db:
            ids = list((await db.exec(select(Group.group_id).order_by(col(Group.group_id)))).all())
        ids = [g for g in ids if g != self.settings.zalo_alert_group_id][:200]
        problems = [p for g in ids if (p := await self._group_problem(g, now)) is not None]
        return Check("groups", not problems, {"count": len(ids), "problems": "; ".join(problems)})

    async def _alert_group(self) -> Check:
        group_id = self.settings.zalo_alert_group_id
        if not group_id:
            return Check("alert_group", False, {"error": "ZALO_ALERT_GROUP_ID"})
        problem = await self._group_problem(group_id, self.runtime.clock.now())
        return Check("alert_group", problem is None, {"error": problem or ""})

    async def _staff_dm(self) -> Check:
        assert self.runtime.zalo is not None
        async with self.runtime.sessions() as db:
            staff = (await db.exec(select(Staff).where(col(Staff.active).is_(True)))).all()
        cannot: list[str] = []
        for person in list(staff)[:MAX_STAFF_LOOKUPS]:
            if person.dm_blocked_code is not None:
                cannot.append(f"{person.name} ({person.dm_blocked_code})")
                continue
            try:
                detail = await self.runtime.zalo.probe(
                    "GET",
                    "/v3.0/oa/user/detail",
                    {"data": json.dumps({"user_id": person.zalo_user_id})},
                )
            except ZaloError as exc:
                cannot.append(f"{person.name} ({_error(exc)})")
                continue
            if detail.get("user_is_follower") is False:
                cannot.append(f"{person.name} (-213)")
        return Check("staff_dm", not cannot, {"count": len(staff), "people": "; ".join(cannot)})

    async def _webhook(self) -> Check:
        async with self.runtime.sessions() as db:
            held = await quarantine.status(db, self.runtime.clock.now())
            last = await quarantine.last_valid_event_at(db)
        facts = {
            "last": last.isoformat() if last else "-",
            "rejected": held["rejected_signature_24h"],
            "hint": held["signature_hint"] or "",
        }
        return Check("webhook", last is not None and not held["signature_hint"], facts)


def lines(checks: list[Check], locale: str) -> list[Line]:
    """The checks in the reader's language: what was found, and the fix of each failed one."""
    words = labels(locale)["doctor"]
    found: list[Line] = []
    for check in checks:
        entry = words[check.key]
        text = (entry["ok"] if check.ok else entry["bad"]).format(**check.facts)
        fix = None if check.ok else entry["fix"].format(**check.facts)
        found.append(Line(check.key, check.ok, check.required, text, fix))
    return found


def report(found: list[Line], locale: str) -> str:
    """The checklist as text, for the console."""
    words = labels(locale)["doctor"]
    out = [words["title"]]
    for line in found:
        mark = "✓" if line.ok else "✗"
        need = "" if line.ok or not line.required else f" [{words['required']}]"
        out.append(f"{mark} {line.text}{need}")
        if line.fix:
            out.append(f"    → {line.fix}")
    passed = all(line.ok for line in found if line.required)
    out.append(words["all_good"] if passed else words["not_yet"])
    return "\n".join(out)


async def examine(runtime: Runtime) -> list[Line]:
    """Run every check; the lines in the service's language."""
    return lines(await Doctor(runtime).run(), runtime.settings.locale)
