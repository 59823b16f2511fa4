"""End to end: the real `python webhook.py` in a subprocess, Zalo played by tests/fake_zalo.py.

Events go in signed over HTTP; the assertions are on what reaches the fake Zalo API (or, in
local mode, the process's stdout). Every wait is bounded polling for an event, never a fixed
sleep, with generous limits for a loaded CI machine.
"""

from __future__ import annotations

import contextlib
import itertools
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from bot.zalo.payloads import group_message, signed
from config.settings import LOCAL_APP_ID, LOCAL_OA_SECRET_KEY
from storage.db import sync_url
from tests.fake_zalo import FakeZalo, Recorded
from tests.helpers.service import (
    ADMIN_TOKEN,
    APP_ID,
    APP_SECRET,
    ENV_ACCESS,
    ENV_REFRESH,
    OA_SECRET,
    REPLY_TIMEOUT,
    START_TIMEOUT,
    STOP_TIMEOUT,
    eventually,
    free_port,
    service_env,
)
from tests.support import ROOT, SALES

SALES_NAME = "Nguyễn Văn An"

LEASE_TIMEOUT = 15.0 + REPLY_TIMEOUT  # bot/core/outbox.py LEASE, then the usual wait

_msg_ids = itertools.count(1)


def new_msg_id(tag: str) -> str:
    return f"e2e-{tag}-{next(_msg_ids)}-{time.time_ns()}"


def whoami(group_id: str, msg_id: str, *, app_id: str = APP_ID) -> dict[str, Any]:
    """The sales member An types /whoami in `group_id`."""
    return group_message(
        group_id=group_id,
        sender_id=SALES,
        text="/whoami",
        at=datetime.now(UTC),
        app_id=app_id,
        msg_id=msg_id,
    )


# The databases of the services started here: a group send carries no quote id (Zalo's group
# API documents none), so the reply to an event is found through the bot's own record of it,
# its outbox row (quote_msg_id = the event's msg_id, zalo_message_id = what the fake answered).
DATABASES: set[str] = set()


def quoting(messages: list[Recorded], msg_id: str) -> list[Recorded]:
    """The sends among `messages` that answer the event `msg_id`."""
    answered: set[str] = set()
    for url in DATABASES:
        engine = create_engine(sync_url(url))
        try:
            with engine.connect() as connection:
                rows = connection.execute(
                    text("SELECT zalo_message_id FROM outbox WHERE quote_msg_id = :m"),
                    {"m": msg_id},
                )
                answered |= {row[0] for row in rows if row[0]}
        finally:
            engine.dispose()
    return [m for m in messages if _sent_id(m) in answered]


def _sent_id(message: Recorded) -> str | None:
    data = message.answer.get("data") if isinstance(message.answer, dict) else None
    return str(data.get("message_id")) if isinstance(data, dict) else None


def live_env(tmp: Path, fake: FakeZalo, access_token: str = ENV_ACCESS) -> dict[str, str]:
    """Live mode against the fake."""
    return service_env(
        tmp,
        free_port(),
        ZALO_APP_ID=APP_ID,
        ZALO_APP_SECRET=APP_SECRET,
        ZALO_OA_SECRET_KEY=OA_SECRET,
        ZALO_ACCESS_TOKEN=access_token,
        ZALO_REFRESH_TOKEN=ENV_REFRESH,
        ZALO_API_BASE=fake.url,
        ZALO_OAUTH_BASE=fake.url,
    )


@dataclass
class Service:
    """One `python webhook.py` process; output goes to numbered files under `logs`."""

    env: dict[str, str]
    logs: Path
    proc: subprocess.Popen[bytes] | None = None
    runs: int = 0
    stdout_path: Path = field(init=False, default=Path())
    stderr_path: Path = field(init=False, default=Path())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.env['PORT']}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> Service:
        """Start the process and wait until GET /healthz says the database is ok."""
        assert not self.running, "already running"
        DATABASES.add(self.env["DATABASE_URL"])
        self.runs += 1
        self.stdout_path = self.logs / f"stdout-{self.runs}.log"
        self.stderr_path = self.logs / f"stderr-{self.runs}.log"
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "webhook.py"], cwd=ROOT, env=self.env, stdout=out, stderr=err
            )
        eventually(self._ready, f"{self.url}/healthz", timeout=START_TIMEOUT)
        return self

    def _ready(self) -> bool:
        if not self.running:
            raise AssertionError(f"the service exited during start:\n{self.stderr()}")
        try:
            response = httpx.get(f"{self.url}/healthz", timeout=2.0)
        except httpx.HTTPError:
            return False
        return response.status_code == 200 and response.json().get("database") == "ok"

    def stop(self) -> int:
        """SIGTERM and wait; a process that does not stop is killed. Returns the exit code."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STOP_TIMEOUT)
                raise AssertionError(
                    f"the service did not exit within {STOP_TIMEOUT:.0f} s of SIGTERM:\n"
                    + self.stderr()[-3000:]
                ) from None
        return int(self.proc.returncode)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=STOP_TIMEOUT)

    def post(self, body: dict[str, Any], *, app_id: str, secret: str) -> httpx.Response:
        """POST `body` to the webhook, signed with `app_id` and `secret`."""
        raw, headers = signed(body, app_id=app_id, secret=secret)
        return httpx.post(f"{self.url}/zalo/webhook", content=raw, headers=headers, timeout=30.0)

    def post_live(self, body: dict[str, Any]) -> httpx.Response:
        return self.post(body, app_id=APP_ID, secret=OA_SECRET)

    def health(self) -> dict[str, Any]:
        return dict(httpx.get(f"{self.url}/healthz", timeout=10.0).json())

    def _query(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        """Read the service's SQLite file directly (WAL mode allows it while it runs)."""
        path = self.env["DATABASE_URL"].removeprefix("sqlite:///")
        with contextlib.closing(sqlite3.connect(path, timeout=30)) as db:
            return [tuple(row) for row in db.execute(sql, args)]

    def outbox(self) -> list[tuple[Any, ...]]:
        """(status, target_id, quote_msg_id) of every outbox row."""
        return self._query("SELECT status, target_id, quote_msg_id FROM outbox ORDER BY id")

    def wait_idle(self) -> None:
        """Wait until no event is pending and no outbox row is being sent or is due."""
        busy = (
            "SELECT (SELECT count(*) FROM inbox_events WHERE status = 'pending')"
            " + (SELECT count(*) FROM outbox WHERE status = 'sending'"
            " OR (status = 'pending' AND next_attempt_at <= ?))"
        )

        def idle() -> bool:
            now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
            return self._query(busy, now)[0][0] == 0

        eventually(idle, "an idle service")

    def stdout(self) -> str:
        return self.stdout_path.read_text(encoding="utf-8", errors="replace")

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], Service]]:
    """A factory of Service objects; every process still alive is stopped at teardown."""
    made: list[Service] = []

    def factory(env: dict[str, str]) -> Service:
        logs = tmp_path / f"service-{len(made) + 1}"
        logs.mkdir()
        made.append(Service(env, logs))
        return made[-1]

    yield factory
    for service in made:
        _terminate(service)


def _terminate(service: Service) -> None:
    """Stop a leftover process; one that ignores SIGTERM is killed (tests that care assert it)."""
    if service.running:
        with contextlib.suppress(AssertionError):
            service.stop()


@pytest.fixture
def fake(served_fake: FakeZalo) -> FakeZalo:
    """This module's fake Zalo is the served one (tests/conftest.py)."""
    return served_fake


@dataclass
class Live:
    fake: FakeZalo
    service: Service


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """One live-mode service and its fake, shared by the tests that need nothing special."""
    tmp = tmp_path_factory.mktemp("e2e-live")
    with FakeZalo(valid_tokens={ENV_ACCESS}, app_secret=APP_SECRET).serving() as server:
        service = Service(live_env(tmp, server), tmp)
        try:
            yield Live(server, service.start())
        finally:
            _terminate(service)


def reply_to(
    fake: FakeZalo, group_id: str, msg_id: str, timeout: float = REPLY_TIMEOUT
) -> Recorded:
    """Wait for the accepted send to `group_id` that quotes `msg_id`."""
    try:
        found = eventually(
            lambda: quoting(fake.group_messages(group_id, ok=True), msg_id),
            f"the reply to {msg_id} in {group_id}",
            timeout,
        )
    except AssertionError as exc:
        seen = [(c.path, c.status, c.access_token, c.json, c.answer) for c in fake.calls()]
        raise AssertionError(f"{exc}; the fake saw {seen}") from None
    return found[0]


def barrier(service: Service, fake: FakeZalo, group_id: str) -> Recorded:
    """Send one more /whoami to `group_id`; returns its reply once it is in.

    Events are processed in arrival order and a group's messages are delivered in order, so
    once this reply is in, anything queued earlier for that group has been sent too.
    """
    msg_id = new_msg_id("barrier")
    assert service.post_live(whoami(group_id, msg_id)).status_code == 200
    return reply_to(fake, group_id, msg_id)


def about(fake: FakeZalo, group_id: str) -> list[Recorded]:
    """Every call naming `group_id`: sends, invites, lookups."""
    return [
        r
        for r in fake.calls()
        if group_id
        in (
            r.recipient.get("group_id"),
            r.json.get("group_id") if isinstance(r.json, dict) else None,
            r.query.get("group_id"),
        )
    ]


def test_whoami_gets_exactly_one_quoted_reply_through_the_zalo_api(live: Live) -> None:
    group_id, msg_id = "e2e-group-whoami", new_msg_id("whoami")
    response = live.service.post_live(whoami(group_id, msg_id))
    assert response.status_code == 200
    assert response.json() == {"ok": True, "duplicate": False}

    reply = reply_to(live.fake, group_id, msg_id)
    fence = barrier(live.service, live.fake, group_id)

    assert [m for m in live.fake.group_messages(group_id) if m is not fence] == [reply]
    assert reply.method == "POST"
    assert reply.access_token == ENV_ACCESS
    assert reply.recipient == {"group_id": group_id}
    assert SALES_NAME in reply.message["text"]
    assert "quote_message_id" not in reply.message  # Zalo's group API documents no quote
    assert live.fake.refreshes() == []


def test_a_forged_event_is_acknowledged_and_causes_no_call(live: Live) -> None:
    group_id = "e2e-group-forged"
    forged = live.service.post(
        whoami(group_id, new_msg_id("forged")), app_id=APP_ID, secret="not-the-oa-secret"
    )
    assert forged.status_code == 200  # acknowledged (Zalo disables failing webhooks), kept aside

    barrier(live.service, live.fake, "e2e-barrier-for-forged")
    assert about(live.fake, group_id) == []
    unknown = httpx.get(
        f"{live.service.url}/api/groups/{group_id}",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=10.0,
    )
    assert unknown.status_code == 404  # the event never reached the database


def test_the_same_event_delivered_three_times_gets_one_reply(live: Live) -> None:
    group_id, msg_id = "e2e-group-redelivery", new_msg_id("redelivered")
    body = whoami(group_id, msg_id)
    answers = [live.service.post_live(body) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.json()["duplicate"] for a in answers] == [False, True, True]

    reply_to(live.fake, group_id, msg_id)
    barrier(live.service, live.fake, group_id)
    assert len(quoting(live.fake.group_messages(group_id), msg_id)) == 1


def test_an_expired_token_is_refreshed_once_and_the_rotated_pair_survives_a_restart(
    fake: FakeZalo, services: Callable[[dict[str, str]], Service], tmp_path: Path
) -> None:
    fake.revoke_tokens()  # the token from the environment has expired
    service = services(live_env(tmp_path, fake)).start()
    group_id, first = "e2e-group-expired", new_msg_id("expired")
    assert service.post_live(whoami(group_id, first)).status_code == 200

    reply = reply_to(fake, group_id, first)
    [refresh] = fake.refreshes()
    assert refresh.form["grant_type"] == "refresh_token"
    assert refresh.form["refresh_token"] == ENV_REFRESH
    assert refresh.form["app_id"] == APP_ID
    assert refresh.headers["secret_key"] == APP_SECRET
    [rotated] = fake.issued
    calls = fake.calls()
    refused = calls[: calls.index(refresh)]
    assert refused and all(c.access_token == ENV_ACCESS for c in refused)
    assert [c.answer["error"] for c in refused] == [-216] * len(refused)
    assert reply.access_token == rotated.access_token
    service.wait_idle()  # a stop mid-send is test_sigterm_during_a_send_lets_it_finish
    assert service.stop() == 0

    service.start()  # the same environment: its token pair is stale now
    before = len(fake.calls())
    second = new_msg_id("after-restart")
    assert service.post_live(whoami(group_id, second)).status_code == 200
    reply_to(fake, group_id, second)
    after = fake.calls()[before:]
    assert after and all(c.access_token == rotated.access_token and c.ok for c in after)
    assert len(fake.refreshes()) == 1


@pytest.mark.parametrize("kill_when", ["right after the ack", "after the reply was recorded"])
def test_a_sigkill_then_restart_gives_exactly_one_reply(
    kill_when: str,
    fake: FakeZalo,
    services: Callable[[dict[str, str]], Service],
    tmp_path: Path,
) -> None:
    service = services(live_env(tmp_path, fake)).start()
    group_id, msg_id = "e2e-group-killed", new_msg_id("killed")
    assert service.post_live(whoami(group_id, msg_id)).status_code == 200
    if kill_when == "after the reply was recorded":
        reply_to(fake, group_id, msg_id)
        service.wait_idle()  # a kill between Zalo's answer and the commit would resend it
    service.kill()  # no shutdown code runs; the event may or may not have been processed

    service.start()
    # A send cut off mid-flight is taken back at the restart (or after its lease): allow for it.
    reply_to(fake, group_id, msg_id, timeout=LEASE_TIMEOUT)
    barrier(service, fake, group_id)
    assert len(quoting(fake.group_messages(group_id), msg_id)) == 1


def test_local_mode_prints_the_reply_on_stdout(
    services: Callable[[dict[str, str]], Service], tmp_path: Path
) -> None:
    service = services(service_env(tmp_path, free_port())).start()
    assert service.health()["mode"] == "local"
    group_id, msg_id = "e2e-group-local", new_msg_id("local")
    response = service.post(
        whoami(group_id, msg_id, app_id=LOCAL_APP_ID),
        app_id=LOCAL_APP_ID,
        secret=LOCAL_OA_SECRET_KEY,
    )
    assert response.status_code == 200
    eventually(lambda: SALES_NAME in service.stdout(), "the reply on stdout")
    service.wait_idle()
    assert service.stop() == 0

    out = service.stdout()
    assert "LOCAL mode" in out
    assert f"[local] -> group {group_id}:" in out
    assert out.count(SALES_NAME) == 1


def test_sigterm_during_a_send_lets_it_finish(
    fake: FakeZalo, services: Callable[[dict[str, str]], Service], tmp_path: Path
) -> None:
    service = services(live_env(tmp_path, fake)).start()
    group_id, msg_id = "e2e-group-sigterm", new_msg_id("sigterm")
    fake.hold_next(seconds=3.0)  # Zalo is slow to answer this send
    assert service.post_live(whoami(group_id, msg_id)).status_code == 200
    eventually(lambda: fake.in_flight, "the held send to reach the fake")
    assert service.stop() == 0

    assert reply_to(fake, group_id, msg_id).ok  # Zalo delivered it to the group
    assert ("sent", group_id, msg_id) in service.outbox()
