"""A small fake of the Zalo OA OpenAPI and OAuth v4 endpoints, for end-to-end tests.

It records every request, checks the `access_token` header against a set of valid tokens, hands
out unique message ids, rotates single-use refresh tokens, and can be told to fail or to hold
(answer late) the next calls.
Run it in the test's event loop (`await fake.start()`) or on its own thread (`with
fake.serving():`), which suits synchronous tests, a browser test or the simulator.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

GROUP_MESSAGE = "/v3.0/oa/group/message"
USER_MESSAGE = "/v3.0/oa/message/cs"
GROUP_INVITE = "/v3.0/oa/group/invite"
GROUP_MEMBERS = "/v3.0/oa/group/listmember"
GROUP_INFO = "/v3.0/oa/group/getgroup"
OA_INFO = "/v2.0/oa/getoa"
OA_GROUPS = "/v3.0/oa/group/getgroupsofoa"
USER_DETAIL = "/v3.0/oa/user/detail"
FAKE_OA_ID = "388613280879808645"
VALID_THROUGH_MS = "4102444800000"  # 2100-01-01: a GMF package far from its end
OAUTH_TOKEN = "/v4/oa/access_token"
INVALID_TOKEN = {"error": -216, "message": "Access token is invalid"}


@dataclass(frozen=True)
class Recorded:
    """One request the fake received and what it answered."""

    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    query: dict[str, str]
    json: Any
    form: dict[str, str]
    status: int
    answer: Any
    at: float  # time.monotonic()

    @property
    def access_token(self) -> str | None:
        return self.headers.get("access_token")

    @property
    def ok(self) -> bool:
        """HTTP 200 with error 0: Zalo accepted the call."""
        return self.status == 200 and isinstance(self.answer, dict) and not self.answer.get("error")

    @property
    def message(self) -> dict[str, Any]:
        """The `message` object of a send (empty for other calls)."""
        body = self.json if isinstance(self.json, dict) else {}
        return body.get("message") or {}

    @property
    def recipient(self) -> dict[str, Any]:
        body = self.json if isinstance(self.json, dict) else {}
        return body.get("recipient") or {}


@dataclass(frozen=True)
class Failure:
    """A forced answer for the next call to `path`: an HTTP status or a Zalo error code."""

    path: str
    status: int = 200
    error: int | None = None


@dataclass(frozen=True)
class Hold:
    """Answer the next call to `path` only after `seconds` (a slow or hanging Zalo)."""

    path: str
    seconds: float


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str


@dataclass
class FakeZalo:
    """The fake API. `url` is set once started; point ZALO_API_BASE and ZALO_OAUTH_BASE at it."""

    valid_tokens: set[str] = field(default_factory=lambda: {"fake-access-token"})
    app_secret: str | None = None  # when set, OAuth refreshes must carry it as secret_key
    expires_in: str = "90000"
    requests: list[Recorded] = field(default_factory=list)
    issued: list[TokenPair] = field(default_factory=list)
    used_refresh_tokens: set[str] = field(default_factory=set)
    url: str = ""
    # group id -> its members as Zalo knows them (invites add to it); groups' info overrides
    members: dict[str, set[str]] = field(default_factory=dict)
    group_info: dict[str, dict[str, Any]] = field(default_factory=dict)
    not_following: set[str] = field(default_factory=set)  # user/detail: user_is_follower false

    def __post_init__(self) -> None:
        self.valid_tokens = set(self.valid_tokens)
        self._failures: deque[Failure] = deque()
        self._holds: deque[Hold] = deque()
        self._in_flight = 0
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.app = self._build_app()

    # --- configuration -------------------------------------------------------------------

    def fail_next(
        self,
        n: int = 1,
        *,
        error: int | None = None,
        status: int | None = None,
        path: str = GROUP_MESSAGE,
    ) -> None:
        """Make the next `n` calls to `path` answer HTTP `status`, or 200 with `error` (-32)."""
        if error is None and status is None:
            error = -32
        with self._lock:
            self._failures.extend(Failure(path, status or 200, error) for _ in range(n))

    def hold_next(self, n: int = 1, *, seconds: float, path: str = GROUP_MESSAGE) -> None:
        """Make the next `n` calls to `path` wait `seconds` before they are answered."""
        with self._lock:
            self._holds.extend(Hold(path, seconds) for _ in range(n))

    @property
    def in_flight(self) -> int:
        """Requests received and not answered yet (held ones included)."""
        with self._lock:
            return self._in_flight

    def accept_tokens(self, tokens: Iterable[str]) -> None:
        """Add access tokens the API accepts."""
        with self._lock:
            self.valid_tokens.update(tokens)

    def revoke_tokens(self, tokens: Iterable[str] | None = None) -> None:
        """Stop accepting `tokens` (every token when None), as when they expire."""
        with self._lock:
            if tokens is None:
                self.valid_tokens.clear()
            else:
                self.valid_tokens.difference_update(tokens)

    # --- what was received -------------------------------------------------------------

    def calls(self, path: str | None = None) -> list[Recorded]:
        """A snapshot of the recorded requests, optionally only those to `path`."""
        with self._lock:
            return [r for r in self.requests if path is None or r.path == path]

    def group_messages(self, group_id: str | None = None, *, ok: bool = False) -> list[Recorded]:
        """Sends to groups (to one group when given); only accepted ones when `ok`."""
        return [
            r
            for r in self.calls(GROUP_MESSAGE)
            if (group_id is None or r.recipient.get("group_id") == group_id) and (r.ok or not ok)
        ]

    def user_messages(self, user_id: str | None = None, *, ok: bool = False) -> list[Recorded]:
        """CS messages to users (to one user when given); only accepted ones when `ok`."""
        return [
            r
            for r in self.calls(USER_MESSAGE)
            if (user_id is None or r.recipient.get("user_id") == user_id) and (r.ok or not ok)
        ]

    def invites(self) -> list[Recorded]:
        return self.calls(GROUP_INVITE)

    def refreshes(self) -> list[Recorded]:
        """Calls to the OAuth token endpoint."""
        return self.calls(OAUTH_TOKEN)

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on `host` (a free port by default) in the running loop; returns the base URL."""
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound_host, bound_port = self._runner.addresses[0][:2]
        self.url = f"http://{bound_host}:{bound_port}"
        return self.url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @contextmanager
    def serving(self, host: str = "127.0.0.1") -> Iterator[FakeZalo]:
        """Serve from a background thread with its own event loop until the block ends."""
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="fake-zalo", daemon=True)
        thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self.start(host), loop).result(timeout=30)
            yield self
        finally:
            asyncio.run_coroutine_threadsafe(self.close(), loop).result(timeout=30)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=30)
            loop.close()

    # --- the HTTP side ----------------------------------------------------------------------

    def _build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(GROUP_MESSAGE, self._api(self._send_group))
        app.router.add_post(USER_MESSAGE, self._api(self._send_user))
        app.router.add_post(GROUP_INVITE, self._api(self._invite))
        app.router.add_get(GROUP_MEMBERS, self._api(self._list_members))
        app.router.add_get(GROUP_INFO, self._api(self._get_group))
        app.router.add_get(OA_INFO, self._api(self._get_oa))
        app.router.add_get(OA_GROUPS, self._api(self._groups_of_oa))
        app.router.add_get(USER_DETAIL, self._api(self._user_detail))
        app.router.add_post(OAUTH_TOKEN, self._oauth)
        app.router.add_route("*", "/{tail:.*}", self._unknown)
        return app

    def _api(self, answer: Any) -> Any:
        """Wrap an OpenAPI handler: forced failures first, then the access token check."""

        async def handler(request: web.Request) -> web.Response:
            with self._counting():
                json_body, form = await _read_body(request)
                hold = self._take(self._holds, request.path)
                if hold is not None:
                    await asyncio.sleep(hold.seconds)
                failure = self._take(self._failures, request.path)
                if failure is not None:
                    status, body = _failure_answer(failure)
                elif request.headers.get("access_token") not in self._valid_snapshot():
                    status, body = 200, INVALID_TOKEN
                else:
                    given = json_body if isinstance(json_body, dict) else dict(request.query)
                    status, body = 200, answer(given)
                self._record(request, json_body, form, status, body)
            return web.json_response(body, status=status)

        return handler

    def _send_group(self, body: dict[str, Any]) -> dict[str, Any]:
        group_id = (body.get("recipient") or {}).get("group_id")
        return _success({"message_id": self._message_id(), "group_id": group_id})

    def _send_user(self, body: dict[str, Any]) -> dict[str, Any]:
        user_id = (body.get("recipient") or {}).get("user_id")
        return _success({"message_id": self._message_id(), "user_id": user_id})

    def _invite(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            group = self.members.setdefault(str(body.get("group_id")), set())
            group.update(str(u) for u in body.get("member_user_ids") or [])
        return _success({})

    def _list_members(self, query: dict[str, Any]) -> dict[str, Any]:
        """listmember: a page of the group's members (offset, count), with the total."""
        with self._lock:
            everyone = sorted(self.members.get(str(query.get("group_id")), set()))
        offset, count = int(query.get("offset") or 0), int(query.get("count") or 5)
        page = [
            {"user_id": u, "name": f"Member {u[-4:]}"} for u in everyone[offset : offset + count]
        ]
        return _success(
            {"offset": offset, "count": len(page), "total": len(everyone), "members": page}
        )

    def _get_oa(self, _query: dict[str, Any]) -> dict[str, Any]:
        return _success({"oa_id": FAKE_OA_ID, "name": "OA Thử Nghiệm", "is_verified": True})

    def _groups_of_oa(self, query: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            groups = [{"group_id": g, "name": f"Nhóm {g}"} for g in sorted(self.members)]
        return _success({"groups": groups, "total": len(groups)})

    def _user_detail(self, query: dict[str, Any]) -> dict[str, Any]:
        user_id = str(json.loads(query.get("data") or "{}").get("user_id"))
        return _success({"user_id": user_id, "user_is_follower": user_id not in self.not_following})

    def _get_group(self, query: dict[str, Any]) -> dict[str, Any]:
        group_id = str(query.get("group_id"))
        info = {"group_id": group_id, "name": f"Nhóm {group_id}", "status": "enabled"}
        data = {
            "group_info": {**info, **self.group_info.get(group_id, {})},
            "asset_info": {"asset_type": "gmf10", "valid_through": VALID_THROUGH_MS},
        }
        return _success(data)

    async def _oauth(self, request: web.Request) -> web.Response:
        json_body, form = await _read_body(request)
        failure = self._take(self._failures, request.path)
        if failure is not None:
            status, body = _failure_answer(failure)
        else:
            status, body = 200, self._refresh(form, request.headers.get("secret_key"))
        self._record(request, json_body, form, status, body)
        return web.json_response(body, status=status)

    def _refresh(self, form: dict[str, str], secret_key: str | None) -> dict[str, Any]:
        """Rotate the pair: the old refresh token dies, the new access token becomes valid."""
        if self.app_secret is not None and secret_key != self.app_secret:
            return _oauth_error(-14014, "invalid secret_key header")
        if form.get("grant_type") != "refresh_token":
            return _oauth_error(-14001, "grant_type must be refresh_token")
        old = form.get("refresh_token") or ""
        with self._lock:
            if not old or old in self.used_refresh_tokens:
                return _oauth_error(-14020, "refresh token already used or expired")
            n = next(self._ids)
            pair = TokenPair(f"fake-access-{n}-{_hex(8)}", f"fake-refresh-{n}-{_hex(8)}")
            self.used_refresh_tokens.add(old)
            self.valid_tokens.add(pair.access_token)
            self.issued.append(pair)
        return {
            "access_token": pair.access_token,
            "refresh_token": pair.refresh_token,
            "expires_in": self.expires_in,
        }

    async def _unknown(self, request: web.Request) -> web.Response:
        json_body, form = await _read_body(request)
        body = {"error": 404, "message": f"the fake has no {request.method} {request.path}"}
        self._record(request, json_body, form, 404, body)
        return web.json_response(body, status=404)

    def _take(self, queue: deque[Any], path: str) -> Any:
        """Remove and return the first Failure or Hold queued for `path`, if any."""
        with self._lock:
            for item in queue:
                if item.path == path:
                    queue.remove(item)
                    return item
        return None

    @contextmanager
    def _counting(self) -> Iterator[None]:
        with self._lock:
            self._in_flight += 1
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1

    def _valid_snapshot(self) -> set[str]:
        with self._lock:
            return set(self.valid_tokens)

    def _message_id(self) -> str:
        return f"{next(self._ids):04x}{_hex(16)}"

    def _record(
        self, request: web.Request, json_body: Any, form: dict[str, str], status: int, answer: Any
    ) -> None:
        recorded = Recorded(
            method=request.method,
            path=request.path,
            headers={k.lower(): v for k, v in request.headers.items()},
            query=dict(request.query),
            json=json_body,
            form=form,
            status=status,
            answer=answer,
            at=time.monotonic(),
        )
        with self._lock:
            self.requests.append(recorded)


async def _read_body(request: web.Request) -> tuple[Any, dict[str, str]]:
    """The JSON body (None when absent or not JSON) and the form fields (empty when none)."""
    if not request.body_exists:
        return None, {}
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        return None, {k: str(v) for k, v in form.items()}
    try:
        return await request.json(), {}
    except ValueError:
        return None, {}


def _failure_answer(failure: Failure) -> tuple[int, dict[str, Any]]:
    if failure.status != 200:
        return failure.status, {"error": -1, "message": f"forced HTTP {failure.status}"}
    return 200, {"error": failure.error, "message": f"forced error {failure.error}"}


def _success(data: dict[str, Any]) -> dict[str, Any]:
    return {"error": 0, "message": "Success", "data": data}


def _oauth_error(code: int, description: str) -> dict[str, Any]:
    return {"error": code, "error_name": "fake_oauth_error", "error_description": description}


def _hex(n: int) -> str:
    return uuid.uuid4().hex[:n]
