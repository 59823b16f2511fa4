"""The connection doctor (issue #16, section 6): `python -m bot doctor` and /dashboard/zalo.

A checklist with ✓/✗ and the fix of each ✗, in Vietnamese (English with LOCALE=en); exit 0
when every required check passes, 1 otherwise; it works on a fresh database.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.features.connection.checks import Doctor, examine, lines, report
from tests.conftest import ON_POSTGRESQL
from tests.fake_zalo import FakeZalo
from tests.helpers.service import service_env
from tests.helpers.web import sign_in
from tests.support import ADMIN, GROUP, HEAD, ROOT, SALES, Bot


@pytest.fixture
async def zbot(make_bot: Any, live_settings: Any, fake: FakeZalo) -> Bot:
    settings = live_settings.replace(
        zalo_api_base=fake.url,
        zalo_oauth_base=fake.url,
        zalo_oa_id="388613280879808645",
        public_url="https://bot.example.vn",
        zalo_alert_group_id="alerts-1",
    )
    bot = await make_bot(settings)
    fake.members["alerts-1"] = {HEAD, ADMIN}
    return bot


async def _ready(bot: Bot, fake: FakeZalo) -> None:
    """A group the bot knows, and a first correctly signed event in."""
    fake.members[GROUP] = {HEAD}
    await bot.say("xin chào", sender=SALES)


async def test_everything_in_order_passes(zbot: Bot, fake: FakeZalo) -> None:
    await _ready(zbot, fake)
    found = await examine(zbot.runtime)
    assert {line.key: line.ok for line in found} == {
        "settings": True,
        "public_url": True,
        "token": True,
        "refresh": True,
        "gmf": True,
        "groups": True,
        "alert_group": True,
        "staff_dm": True,
        "webhook": True,
    }
    text = report(found, "vi")
    assert "✗" not in text and "Mọi mục bắt buộc đều đạt" in text


async def test_a_dead_token_fails_with_its_fix(zbot: Bot, fake: FakeZalo) -> None:
    fake.revoke_tokens()
    found = {line.key: line for line in await examine(zbot.runtime)}
    assert not found["token"].ok and found["token"].required
    assert "-216" in found["token"].text and "ZALO_REFRESH_TOKEN" in (found["token"].fix or "")
    assert fake.refreshes() == []  # the doctor never rotates the pair under the service


async def test_what_is_wrong_is_named_in_english_too(
    zbot: Bot, fake: FakeZalo, make_bot: Any
) -> None:
    fake.not_following.add(SALES)
    fake.group_info[GROUP] = {"status": "disabled"}
    await _ready(zbot, fake)
    checks = await Doctor(zbot.runtime).run()
    found = {line.key: line for line in lines(checks, "vi")}
    assert not found["staff_dm"].ok and "Nguyễn Văn An" in found["staff_dm"].text
    assert not found["groups"].ok and "disabled" in found["groups"].text
    english = report(lines(checks, "en"), "en")
    assert "Cannot get the OA's private messages yet" in english and "→" in english


async def test_local_mode_is_not_ready_for_a_real_oa(bot: Bot) -> None:
    found = {line.key: line for line in await examine(bot.runtime)}
    assert not found["settings"].ok and "ZALO_APP_ID" in found["settings"].text
    assert not found["token"].ok


async def test_admins_see_the_same_checks_on_the_dashboard(zbot: Bot, fake: FakeZalo) -> None:
    await _ready(zbot, fake)
    sign_in(zbot, HEAD)
    assert (await zbot.client.get("/dashboard/zalo", allow_redirects=False)).status == 403
    sign_in(zbot, ADMIN)
    html = await (await zbot.client.get("/dashboard/zalo")).text()
    assert 'data-check="token" data-ok="yes"' in html and "Kết nối Zalo" in html


@pytest.mark.skipif(ON_POSTGRESQL, reason="the command line on a fresh SQLite file")
def test_the_command_line_exit_codes_on_a_fresh_database(tmp_path: Path) -> None:
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    env = service_env(tmp_path, 8080, DATABASE_URL=fresh)
    env["LOCALE"] = "en"
    result = subprocess.run(
        [sys.executable, "-m", "bot", "doctor"],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr  # local mode: required settings are missing
    assert "✗ Zalo settings missing or wrong" in result.stdout
    assert (tmp_path / "fresh.db").exists()  # the migrations were applied


def test_the_command_line_passes_against_a_good_oa(tmp_path: Path) -> None:
    from tests.helpers.service import APP_ID, APP_SECRET, ENV_ACCESS, ENV_REFRESH, OA_SECRET

    with FakeZalo(valid_tokens={ENV_ACCESS}, app_secret=APP_SECRET).serving() as fake:
        fake.members["alerts-9"] = {HEAD}
        env = service_env(
            tmp_path,
            8080,
            ZALO_APP_ID=APP_ID,
            ZALO_APP_SECRET=APP_SECRET,
            ZALO_OA_SECRET_KEY=OA_SECRET,
            ZALO_ACCESS_TOKEN=ENV_ACCESS,
            ZALO_REFRESH_TOKEN=ENV_REFRESH,
            ZALO_OA_ID="388613280879808645",
            ZALO_API_BASE=fake.url,
            ZALO_OAUTH_BASE=fake.url,
            ZALO_ALERT_GROUP_ID="alerts-9",
            PUBLIC_URL="https://bot.example.vn",
        )
        result = subprocess.run(
            [sys.executable, "-m", "bot.doctor"],
            cwd=ROOT,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "✓ Access token dùng được" in result.stdout
