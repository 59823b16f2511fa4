"""The probe's smaller findings (issue #15), each reproduced: they now do no harm.

* sign-in throttle race: 150 concurrent password attempts checked 133 passwords (limit 5);
* log forging and flooding by refused webhook traffic;
* sign-in tokens and secrets in the access log.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import re
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from bot.app.factory import create_app
from bot.app.http import AccessLogger
from bot.core.logsafe import QuietLog, loggable, redact_target
from bot.features.reports.api import safe_cell
from bot.features.staff import passwords
from bot.zalo.payloads import signed
from tests.helpers.web import form_token, give_password
from tests.support import ADMIN, Bot

# ------------------------------------------------------------------ the sign-in throttle


async def _form(bot: Bot) -> str:
    return str(form_token(await (await bot.client.get("/login")).text()))


async def try_password(
    bot: Bot, username: str, password: str, *, token: str = "", headers: Any = None
) -> Any:
    data = {"form_token": token or await _form(bot), "next": ""}
    data.update(username=username, password=password)
    return await bot.client.post("/login", data=data, headers=headers, allow_redirects=False)


async def test_concurrent_password_attempts_check_no_more_passwords_than_the_limit(
    bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    await give_password(bot, ADMIN)
    checked: list[str] = []
    real = passwords.verify_password

    def counted(password: str, stored: str) -> bool:
        checked.append(password)
        return real(password, stored)

    monkeypatch.setattr("bot.web.auth.verify_password", counted)
    token = await _form(bot)
    answers = await asyncio.gather(
        *[try_password(bot, "quantri", f"doan-{n}", token=token) for n in range(150)]
    )
    statuses = [answer.status for answer in answers]
    assert len(checked) <= 5
    assert statuses.count(400) == len(checked) and statuses.count(429) == 150 - len(checked)


async def test_a_strangers_wrong_passwords_stop_at_the_address_limit(
    make_bot: Any, settings: Any
) -> None:
    """The address is counted first: once it is refused, nothing more is counted against the
    username, so the owner (from another address) is not locked out by the stranger's flood."""
    stranger = await make_bot(settings)
    await give_password(stranger, ADMIN)
    for _ in range(4):
        assert (await try_password(stranger, "quantri", "sai")).status == 400
    for _ in range(20):
        assert (await try_password(stranger, "quantri", "sai")).status in (400, 429)
    owner = await make_bot(settings.replace(trusted_proxies="127.0.0.1"))
    forwarded = {"X-Forwarded-For": "203.0.113.9"}
    response = await try_password(owner, "quantri", "mat-khau-dai", headers=forwarded)
    assert response.status == 303


# ------------------------------------------------------------------ log lines


def test_a_logged_field_cannot_start_a_new_line_or_fill_the_disk() -> None:
    forged = "user_send_text\n2026-12-07 01:00:00 INFO webhook: admin signed in" + "x" * 10_000
    shown = loggable(forged)
    assert "\n" not in shown and "\\x0a" in shown
    assert len(shown) <= 81


def test_refused_traffic_logs_one_line_a_minute_per_kind(caplog: pytest.LogCaptureFixture):
    now = [0.0]
    quiet = QuietLog(logging.getLogger("test.quiet"), monotonic=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="test.quiet"):
        for _ in range(100):
            quiet.warning("signature", "rejected %s", "x")
        quiet.warning("replay", "refused %s", "y")
        now[0] = 61.0
        quiet.warning("signature", "rejected %s", "z")
    lines = [record.getMessage() for record in caplog.records]
    assert lines == [
        "rejected x",
        "refused y",
        "rejected z (99 more like it in the last minute, not logged)",
    ]


async def test_a_hundred_forged_events_make_one_short_log_line(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    body = bot.message("khách đã chuyển khoản")
    body["event_name"] = "user_send_text\nFORGED LINE " + "y" * 200_000
    raw, headers = signed(body, app_id="someone", secret="not-the-key")
    with caplog.at_level(logging.WARNING, logger="webhook"):
        for _ in range(100):
            response = await bot.client.post("/zalo/webhook", data=raw, headers=headers)
            assert response.status == 200  # acknowledged and quarantined (issue #16)
    lines = [r.getMessage() for r in caplog.records if r.name == "webhook"]
    assert len(lines) == 1
    assert "\n" not in lines[0] and len(lines[0]) < 300 and "FORGED LINE" in lines[0]


# ------------------------------------------------------------------ the access log


@pytest.mark.parametrize(
    ("target", "shown"),
    [
        ("/login/AbCdEf123", "/login/***"),
        ("/login/AbCdEf123?next=/dashboard", "/login/***?next=/dashboard"),
        ("/sim?key=secret-key&group=g", "/sim?key=***&group=g"),
        ("/api/groups/x?access_token=t0k3n", "/api/groups/x?access_token=***"),
        ("/dashboard?lang=en", "/dashboard?lang=en"),
        ("/login", "/login"),
        ("https://bot.example.vn/login/AbC?x=1", "https://bot.example.vn/login/***?x=1"),
    ],
)
def test_secrets_are_taken_out_of_logged_targets(target: str, shown: str) -> None:
    assert redact_target(target) == shown


async def test_the_access_log_never_holds_a_sign_in_token_or_a_secret(
    aiohttp_client: Any, settings: Any, clock: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="acc")  # before the server: aiohttp asks once
    server = TestServer(create_app(settings, clock=clock, workers=False))
    await server.start_server(access_log_class=AccessLogger, access_log=logging.getLogger("acc"))
    client = await aiohttp_client(server)
    await client.get("/login/very-secret-token-123")
    await client.get(
        "/api/groups/x?access_token=bearer-in-query",
        headers={"Referer": "http://localhost:8080/login/very-secret-token-123"},
    )
    await client.get("/sim?key=console-key-456")
    await client.close()  # the server logs a request once it has finished with it
    text = "\n".join(r.getMessage() for r in caplog.records if r.name == "acc")
    assert "/login/***" in text and "access_token=***" in text
    for secret in ("very-secret-token-123", "bearer-in-query", "console-key-456"):
        assert secret not in text


# ------------------------------------------------------------------ CSV formulas


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://x","bấm")', '\'=HYPERLINK("http://x","bấm")'),
        ("+84 912", "'+84 912"),
        ("-1+2", "'-1+2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tTab", "'\tTab"),
        ("\rCR", "'\rCR"),
        ("Chị Lan", "Chị Lan"),
        (-5, -5),
        (None, ""),
    ],
)
def test_a_cell_a_spreadsheet_would_run_is_shown_as_typed(value: Any, cell: Any) -> None:
    assert safe_cell(value) == cell


async def test_report_csvs_carry_no_live_formula_and_open_as_utf8_in_excel(bot: Bot) -> None:
    from tests.features.care.test_orders import AUTH, order_body, post, seed_catalog

    await seed_catalog(bot)
    customer = {
        "name": '=HYPERLINK("http://evil","Nguyễn")',
        "phone": "0912 345 678",
        "region": "+cmd|' /C calc'!A0",
        "channel": "@SUM(1)",
    }
    body = order_body(customer=customer)
    assert (await post(bot, "/api/orders", body)).status == 201
    for report in ("customers_by_last_purchase", "customers_by_region", "customers_by_channel"):
        response = await bot.client.get(
            f"/api/reports/{report}?from=2026-11-01&to=2026-11-30", headers=AUTH
        )
        raw = await response.read()
        assert raw.startswith(b"\xef\xbb\xbf"), report
        for row in csv.reader(io.StringIO(raw.decode("utf-8-sig"))):
            assert not any(cell.startswith(("=", "+", "@")) for cell in row), (report, row)


# ------------------------------------------------------------------ echoed arguments


@pytest.mark.parametrize(
    "typed",
    [
        "/ghichu goi " + "rất dài " * 2500,
        "/suco hong " + "mô tả " * 4000,
        "/" + "khongcolenhnay" * 1500,
        "/bangiao " + "1000000000000000002 " * 1000,
        "/ghichu " + "[@1000000000000000008] " * 900,
    ],
    ids=["ghichu", "suco", "unknown", "bangiao", "mentions"],
)
async def test_a_long_argument_never_floods_the_group(bot: Bot, typed: str) -> None:
    from bot.core.enqueue import MAX_PIECES
    from bot.core.render import MAX_QUOTE

    await bot.say(typed)
    rows = await bot.outbox()
    by_reply: dict[str, int] = {}
    for row in rows:
        by_reply[row.purpose] = by_reply.get(row.purpose, 0) + 1
        longest_run = max(len(chunk) for chunk in re.split(r"\n", row.text))
        assert longest_run <= MAX_QUOTE + 200, row.purpose  # a quote, not the whole argument
    assert rows and max(by_reply.values()) <= MAX_PIECES
    assert "[@1000000000000000008]" not in "".join(row.text for row in rows)


async def test_a_long_note_is_stored_whole_though_its_reply_quotes_the_start(bot: Bot) -> None:
    from sqlmodel import select

    from storage.models import Interaction

    note = "gọi khách " * 2000
    await bot.say(f"/ghichu goi {note}")
    async with bot.runtime.sessions() as db:
        stored = (await db.exec(select(Interaction.note))).all()
    assert stored == [note.strip()]
    (reply,) = await bot.outbox()
    assert len(reply.text) < 600 and "…" in reply.text


# ------------------------------------------------------------------ a client that hangs up


@pytest.mark.parametrize("path", ["/zalo/webhook", "/login", "/sim/send"])
async def test_a_client_leaving_mid_body_is_no_error_and_no_traceback(
    settings: Any, clock: Any, caplog: pytest.LogCaptureFixture, path: str
) -> None:
    """As `python webhook.py` serves (no handler cancellation: the handler reads on)."""
    from aiohttp import web

    from bot.web.sim_events import SIM_STATE
    from bot.web.simulator import SIM_COOKIE

    app = create_app(settings, clock=clock, workers=False)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    session = app[SIM_STATE].open_session("x")
    kind = "application/x-www-form-urlencoded" if path == "/login" else "application/json"
    try:
        with caplog.at_level(logging.DEBUG):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            head = (
                f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5000\r\n"
                f"Cookie: {SIM_COOKIE}={session}\r\nX-Sim: 1\r\n"
                f'Content-Type: {kind}\r\n\r\n{{"a": '
            )
            writer.write(head.encode())
            await writer.drain()
            writer.close()
            for _ in range(300):  # until the server has seen the hang-up
                if any("left mid-request" in r.getMessage() for r in caplog.records):
                    break
                await asyncio.sleep(0.01)
    finally:
        await runner.cleanup()
    assert any("left mid-request" in r.getMessage() for r in caplog.records)
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert not any(r.exc_info for r in caplog.records)
