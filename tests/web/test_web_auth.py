"""Dashboard sign-in: /dangnhap links, passwords, throttling, logout, and what a session is."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import io
import json
import logging
import re

import pytest
from sqlmodel import col, select

from bot.features.staff import passwords
from bot.tools import passwd
from bot.web import core
from bot.web.auth import safe_next
from storage import repo
from storage.models import AppSecret, AuditEntry, LoginToken, SignInFailure
from tests.conftest import ROOT
from tests.helpers.web import form_token, give_password
from tests.support import ADMIN, CUSTOMER, GROUP, HEAD, SALES

WRONG = "Sai tên đăng nhập hoặc mật khẩu."
EXPIRED = (
    "Link đăng nhập đã hết hạn hoặc đã được dùng. Gõ /dangnhap trong nhóm Zalo hoặc chat với OA "
    "để nhận link mới."
)


async def rows(bot, model):
    async with bot.runtime.sessions() as db:
        return list((await db.exec(select(model).order_by(col(model.id)))).all())


async def audits(bot, action):
    return [a for a in await rows(bot, AuditEntry) if a.action == action]


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


async def link_path(bot, sender=ADMIN) -> str:
    """Ask for a link in the group; the path of the link the bot sent 1:1."""
    await bot.say("/dangnhap", sender=sender)
    [row] = await bot.outbox(purpose="login_link", target_id=sender)
    url = re.search(r"(http://\S+/login/\S+)", row.text).group(1)
    assert url.startswith(bot.settings.base_url + "/login/")
    return url.removeprefix(bot.settings.base_url)


async def press_button(bot, path, **form):
    page = await bot.client.get(path)
    assert page.status == 200
    html = await page.text()
    assert 'id="link-login"' in html
    data = {"form_token": form_token(html), "next": "", **form}
    if "next=" in path:
        data["next"] = re.search(r'name="next" value="([^"]*)"', html).group(1)
    return await bot.client.post(path.split("?")[0], data=data, allow_redirects=False)


async def sign_in_by_link(bot, sender=ADMIN):
    response = await press_button(bot, await link_path(bot, sender))
    assert response.status == 303
    return response


async def try_password(bot, username, password, next_=""):
    page = await bot.client.get("/login")
    data = {"form_token": form_token(await page.text()), "next": next_}
    data.update(username=username, password=password)
    return await bot.client.post("/login", data=data, allow_redirects=False)


async def can_see_directory(bot, **kw) -> bool:
    response = await bot.client.get("/dashboard/directory", allow_redirects=False, **kw)
    assert response.status in (200, 302)
    return response.status == 200


# --- /dangnhap ----------------------------------------------------------------------------------


async def test_in_a_group_the_link_goes_one_to_one_and_the_group_only_hears_it_was_sent(bot):
    await bot.say("/dangnhap", sender=SALES)
    [private] = await bot.outbox(target_kind="user")
    [public] = await bot.outbox(target_kind="group")
    assert private.target_id == SALES and private.purpose == "login_link"
    assert "/login/" in private.text and "15 phút" in private.text and "một lần" in private.text
    assert public.target_id == GROUP and public.purpose == "login_link_sent"
    assert "/login/" not in public.text and "tin nhắn riêng" in public.text


async def test_only_the_hash_of_the_token_is_stored_with_its_expiry(bot):
    path = await link_path(bot, SALES)
    token = path.removeprefix("/login/")
    [row] = await rows(bot, LoginToken)
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest() != token
    assert row.user_id == SALES and row.used_at is None
    assert row.expires_at - row.created_at == bot.settings.duration("login_link_ttl")
    assert len(token) >= 43  # secrets.token_urlsafe(32)


async def test_in_a_private_chat_with_the_oa_the_link_is_the_answer(bot):
    await bot.dm("/dangnhap", sender=HEAD)
    [row] = await bot.outbox()
    assert (row.target_kind, row.target_id, row.purpose) == ("user", HEAD, "login_link")


async def test_the_customer_side_gets_no_link(bot):
    await bot.say("/dangnhap", sender=CUSTOMER)
    await bot.dm("/login", sender=CUSTOMER)
    assert await rows(bot, LoginToken) == []
    assert not any("/login/" in text for text in await bot.texts())


async def test_a_deactivated_staff_member_gets_no_link(bot):
    async with bot.runtime.sessions() as db:
        await repo.deactivate_staff(db, user_id=SALES, source="chat", now=bot.clock.now())
        await db.commit()
    await bot.say("/dangnhap", sender=SALES)
    assert await rows(bot, LoginToken) == []


# --- the link -----------------------------------------------------------------------------------


async def test_opening_the_link_shows_a_button_and_does_not_use_it(bot):
    path = await link_path(bot)
    for _ in range(2):  # a chat app's preview, then the person
        page = await bot.client.get(path)
        html = await page.text()
        assert page.status == 200 and 'id="link-login"' in html and "Đăng nhập" in html
    [row] = await rows(bot, LoginToken)
    assert row.used_at is None


async def test_the_button_signs_in_audits_and_goes_to_the_dashboard(bot):
    assert not await can_see_directory(bot)
    response = await sign_in_by_link(bot)
    assert response.headers["Location"] == "/dashboard"
    assert core.COOKIE in response.cookies and response.cookies[core.COOKIE]["httponly"]
    assert await can_see_directory(bot)
    [entry] = await audits(bot, "dashboard_login")
    assert entry.actor_id == ADMIN and entry.detail["method"] == "link"
    [row] = await rows(bot, LoginToken)
    assert row.used_at == bot.clock.now()
    assert row.token_hash not in json.dumps(entry.detail)


async def test_the_link_honours_a_safe_next_page(bot):
    path = await link_path(bot)
    response = await press_button(bot, f"{path}?next=/dashboard/directory")
    assert response.headers["Location"] == "/dashboard/directory"


async def test_a_link_works_once(bot):
    path = await link_path(bot)
    token = form_token(await (await bot.client.get(path)).text())
    await press_button(bot, path)
    again = await bot.client.post(path, data={"form_token": token}, allow_redirects=False)
    page = await bot.client.get(path)
    assert again.status == 410 and page.status == 410
    assert EXPIRED in await page.text()


async def test_two_clicks_at_once_sign_in_once(bot):
    path = await link_path(bot)
    html = await (await bot.client.get(path)).text()
    data = {"form_token": form_token(html), "next": ""}
    first, second = await asyncio.gather(
        bot.client.post(path, data=data, allow_redirects=False),
        bot.client.post(path, data=data, allow_redirects=False),
    )
    assert sorted([first.status, second.status]) == [303, 410]
    assert len(await audits(bot, "dashboard_login")) == 1


async def test_the_conditional_update_gives_the_token_to_one_caller_only(bot):
    path = await link_path(bot)
    digest = hashlib.sha256(path.removeprefix("/login/").encode()).hexdigest()
    async with bot.runtime.sessions() as db:
        first = await repo.use_login_token(db, token_hash=digest, now=bot.clock.now())
        second = await repo.use_login_token(db, token_hash=digest, now=bot.clock.now())
    assert (first, second) == (ADMIN, None)


async def test_an_expired_link_is_refused(bot):
    path = await link_path(bot)
    html = await (await bot.client.get(path)).text()
    bot.clock.advance(bot.settings.duration("login_link_ttl"))
    response = await bot.client.post(
        path, data={"form_token": form_token(html)}, allow_redirects=False
    )
    assert response.status == 410 and EXPIRED in await response.text()
    assert (await bot.client.get(path)).status == 410
    assert not await can_see_directory(bot)


async def test_an_unknown_token_is_refused(bot):
    assert (await bot.client.get("/login/not-a-token")).status == 410
    response = await bot.client.post("/login/not-a-token", data={}, allow_redirects=False)
    assert response.status in (403, 410)


async def test_posting_without_the_form_cookie_is_refused_and_keeps_the_link(bot):
    path = await link_path(bot)
    response = await bot.client.post(path, data={"form_token": "x" * 32}, allow_redirects=False)
    assert response.status == 403 and 'class="error"' in await response.text()
    [row] = await rows(bot, LoginToken)
    assert row.used_at is None


async def test_a_deactivated_staff_member_cannot_use_their_link(bot):
    path = await link_path(bot, HEAD)
    async with bot.runtime.sessions() as db:
        await repo.deactivate_staff(db, user_id=HEAD, source="chat", now=bot.clock.now())
        await db.commit()
    page = await bot.client.get(path)
    assert page.status == 410 and "không còn hoạt động" in await page.text()


# --- passwords ----------------------------------------------------------------------------------


async def test_the_login_form_has_its_hooks_and_the_local_mode_hint(bot):
    html = await (await bot.client.get("/login")).text()
    for hook in ('id="login-form"', 'name="username"', 'name="password"', 'type="submit"'):
        assert hook in html
    assert "/dangnhap" in html and "/sim" in html


async def test_the_right_password_signs_in(bot):
    await give_password(bot, ADMIN)
    response = await try_password(bot, "QuanTri ", "mat-khau-dai")
    assert response.status == 303 and response.headers["Location"] == "/dashboard"
    assert await can_see_directory(bot)
    [entry] = await audits(bot, "dashboard_login")
    assert entry.actor_id == ADMIN and entry.detail["method"] == "password"


@pytest.mark.parametrize(("username", "password"), [("quantri", "sai-mat-khau"), ("ai-do", "x")])
async def test_a_wrong_password_or_unknown_user_gets_the_same_generic_error(
    bot, username, password
):
    await give_password(bot, ADMIN)
    response = await try_password(bot, username, password)
    html = await response.text()
    assert response.status == 400 and f'<p class="error" role="alert">{WRONG}</p>' in html
    assert not await can_see_directory(bot)


async def test_five_failures_for_a_username_close_the_door_for_fifteen_minutes(bot):
    await give_password(bot, ADMIN)
    for _ in range(5):
        assert (await try_password(bot, "quantri", "sai-mat-khau")).status == 400
    bot.clock.advance(minutes=14)
    blocked = await try_password(bot, "quantri", "mat-khau-dai")
    assert blocked.status == 429 and int(blocked.headers["Retry-After"]) == 60
    assert 'class="error"' in await blocked.text()
    bot.clock.advance(minutes=1)
    assert (await try_password(bot, "quantri", "mat-khau-dai")).status == 303


async def test_five_failures_from_one_address_close_the_door_for_every_username(bot):
    await give_password(bot, ADMIN)
    for number in range(5):
        await try_password(bot, f"nguoi-{number}", "sai-mat-khau")
    assert (await try_password(bot, "quantri", "mat-khau-dai")).status == 429


async def test_two_processes_on_one_database_count_the_same_failures(make_bot, settings):
    one = await make_bot(settings)
    other = await make_bot(settings)
    await give_password(one, ADMIN)
    for bot in (one, other, one, other, one):
        assert (await try_password(bot, "quantri", "sai-mat-khau")).status == 400
    assert (await try_password(other, "quantri", "mat-khau-dai")).status == 429
    assert (await try_password(one, "quantri", "mat-khau-dai")).status == 429
    one.clock.advance(minutes=15)
    assert (await try_password(other, "quantri", "mat-khau-dai")).status == 303


async def test_failures_that_left_the_window_are_deleted_a_sign_in_clears_its_name(bot):
    await give_password(bot, ADMIN)
    await try_password(bot, "quantri", "sai-mat-khau")
    bot.clock.advance(minutes=15)
    await try_password(bot, "ai-do", "sai-mat-khau")
    left = await rows_of(bot, SignInFailure)
    assert sorted((r.kind, r.key) for r in left) == [("addr", "127.0.0.1"), ("user", "ai-do")]
    await try_password(bot, "quantri", "sai-mat-khau")
    assert (await try_password(bot, "quantri", "mat-khau-dai")).status == 303  # clears its name
    left = await rows_of(bot, SignInFailure)
    assert sorted(r.key for r in left) == ["127.0.0.1", "127.0.0.1", "ai-do"]


async def test_a_deactivated_staff_member_cannot_sign_in_with_a_password(bot):
    await give_password(bot, ADMIN)
    async with bot.runtime.sessions() as db:
        await repo.deactivate_staff(db, user_id=ADMIN, source="chat", now=bot.clock.now())
        await db.commit()
    response = await try_password(bot, "quantri", "mat-khau-dai")
    assert response.status == 400 and WRONG in await response.text()


async def test_a_password_post_without_the_form_cookie_is_refused(bot):
    await give_password(bot, ADMIN)
    response = await bot.client.post(
        "/login",
        data={"username": "quantri", "password": "mat-khau-dai", "form_token": "x" * 32},
        allow_redirects=False,
    )
    assert response.status == 403 and not await can_see_directory(bot)


@pytest.mark.parametrize(
    ("given", "target"),
    [
        ("/dashboard/directory?lang=en", "/dashboard/directory?lang=en"),
        ("//evil.example/x", "/dashboard"),
        ("/\\evil.example", "/dashboard"),
        ("https://evil.example/", "/dashboard"),
        ("/\t/evil.example", "/dashboard"),
        ("javascript:alert(1)", "/dashboard"),
        ("", "/dashboard"),
        (None, "/dashboard"),
    ],
)
def test_only_same_site_paths_are_followed_after_sign_in(given, target):
    assert safe_next(given) == target


async def test_an_unsafe_next_is_ignored_on_sign_in(bot):
    await give_password(bot, ADMIN)
    response = await try_password(bot, "quantri", "mat-khau-dai", next_="//evil.example")
    assert response.headers["Location"] == "/dashboard"


def test_password_hashes_are_salted_scrypt_and_never_the_password():
    first, second = passwords.hash_password("mat-khau-dai"), passwords.hash_password("mat-khau-dai")
    assert first != second and "mat-khau-dai" not in first
    assert re.fullmatch(r"scrypt\$16384\$8\$1\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}", first)
    assert passwords.verify_password("mat-khau-dai", first)
    assert not passwords.verify_password("mat-khau-sai", first)
    for stored in (None, "", "plain", "scrypt$1$2$3$x$y", "scrypt$1048576$8$1$AAAA$AAAA"):
        assert not passwords.verify_password("mat-khau-dai", stored)


# --- sessions and logout ------------------------------------------------------------------------


async def test_logout_needs_the_csrf_token_and_then_ends_the_session(bot):
    await sign_in_by_link(bot)
    html = await (await bot.client.get("/dashboard/directory")).text()
    refused = await bot.client.post("/logout", data={}, allow_redirects=False)
    assert refused.status == 403 and await can_see_directory(bot)
    response = await bot.client.post("/logout", data={"csrf": csrf_of(html)}, allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/login"
    assert not await can_see_directory(bot)


async def test_logging_out_revokes_the_cookie_itself_not_only_the_browsers_copy(bot):
    """A copy of the cookie (a stolen one, another browser) stops working at sign-out
    (issue #15: the session was not stored server-side, so signing out only deleted it)."""
    await sign_in_by_link(bot)
    cookie = bot.client.session.cookie_jar.filter_cookies(bot.client.make_url("/"))[core.COOKIE]
    copy = {"Cookie": f"{core.COOKIE}={cookie.value}"}
    html = await (await bot.client.get("/dashboard/directory")).text()
    await bot.client.post("/logout", data={"csrf": csrf_of(html)}, allow_redirects=False)
    assert not await can_see_directory(bot, headers=copy)
    await bot.say("/dangnhap", sender=ADMIN)  # signing in again works, with a new cookie
    rows = await bot.outbox(purpose="login_link", target_id=ADMIN)
    url = re.search(r"(http://\S+/login/\S+)", rows[-1].text).group(1)
    again = await press_button(bot, url.removeprefix(bot.settings.base_url))
    assert again.status == 303 and await can_see_directory(bot)
    bot.client.session.cookie_jar.clear()
    assert not await can_see_directory(bot, headers=copy)


async def test_reactivating_a_staff_member_does_not_bring_their_old_cookie_back(bot):
    await sign_in_by_link(bot, HEAD)
    cookie = bot.client.session.cookie_jar.filter_cookies(bot.client.make_url("/"))[core.COOKIE]
    old = {"Cookie": f"{core.COOKIE}={cookie.value}"}
    async with bot.runtime.sessions() as db:
        await repo.deactivate_staff(db, user_id=HEAD, source="chat", now=bot.clock.now())
        await db.commit()
        staff = await repo.get_staff(db, user_id=HEAD)
        assert staff is not None
        staff.active = True
        db.add(staff)
        await db.commit()
    assert not await can_see_directory(bot, headers=old)


async def test_a_deactivated_staff_members_session_stops_working(bot):
    await sign_in_by_link(bot, HEAD)
    assert await can_see_directory(bot)
    async with bot.runtime.sessions() as db:
        await repo.deactivate_staff(db, user_id=HEAD, source="chat", now=bot.clock.now())
        await db.commit()
    response = await bot.client.get("/dashboard/directory", allow_redirects=False)
    assert response.status == 302 and response.headers["Location"].startswith("/login?next=")


async def test_a_session_ends_after_session_ttl(bot):
    await sign_in_by_link(bot)
    bot.clock.advance(bot.settings.duration("session_ttl"))
    assert not await can_see_directory(bot)


def _signed_with(secret: str, user_id: str, expires: int) -> str:
    """A cookie in the right shape, signed with a key the service does not use."""
    payload = json.dumps({"u": user_id, "e": expires}).encode()
    key = hashlib.sha256(secret.encode()).digest()
    signature = base64.urlsafe_b64encode(hmac.new(key, payload, hashlib.sha256).digest())
    return f"{base64.urlsafe_b64encode(payload).decode()}.{signature.decode()}"


def _tampered(runtime, now):
    body, signature = core.make_session_cookie(runtime, SALES, now).rsplit(".", 1)
    admin_body = core.make_session_cookie(runtime, ADMIN, now).rsplit(".", 1)[0]
    forged = _signed_with("a-guessed-secret", ADMIN, int(now.timestamp()) + 3600)
    return [f"{admin_body}.{signature}", f"{body}.{signature[:-4]}AAA=", forged, "garbage", "a.b"]


async def test_a_forged_or_tampered_session_cookie_is_refused(bot):
    now = bot.clock.now()
    good = core.make_session_cookie(bot.runtime, ADMIN, now)
    assert await can_see_directory(bot, headers={"Cookie": f"{core.COOKIE}={good}"})
    for value in _tampered(bot.runtime, now):
        assert not await can_see_directory(bot, headers={"Cookie": f"{core.COOKIE}={value}"})


async def test_without_session_secret_every_process_signs_with_the_key_kept_in_the_database(
    make_bot, settings, caplog
):
    caplog.set_level(logging.INFO)
    assert settings.session_secret == ""
    one = await make_bot(settings)
    other = await make_bot(settings)  # a second process, or the first after a restart
    await give_password(one, ADMIN)
    response = await try_password(one, "quantri", "mat-khau-dai")
    assert response.status == 303
    cookie = response.cookies[core.COOKIE].value
    assert await can_see_directory(other, headers={"Cookie": f"{core.COOKIE}={cookie}"})
    async with one.runtime.sessions() as db:
        [stored] = (await db.exec(select(AppSecret))).all()
    assert bytes.fromhex(stored.value) == one.runtime.session_key == other.runtime.session_key
    assert stored.value not in caplog.text


async def test_session_secret_when_set_signs_the_sessions(make_bot, settings):
    bot = await make_bot(settings.replace(session_secret="a-long-shared-secret"))
    expires = int(bot.clock.now().timestamp()) + 3600
    cookie = _signed_with("a-long-shared-secret", ADMIN, expires)
    assert await can_see_directory(bot, headers={"Cookie": f"{core.COOKIE}={cookie}"})
    assert bot.runtime.session_key is None
    assert await rows_of(bot, AppSecret) == []


async def rows_of(bot, model):
    async with bot.runtime.sessions() as db:
        return list((await db.exec(select(model))).all())


# --- the passwd command -------------------------------------------------------------------------


def _env(bot):
    return {"DATABASE_URL": bot.settings.database_url, "STAFF_FILE": str(ROOT / "config/staff.csv")}


async def test_the_passwd_command_sets_a_password_that_then_works(bot):
    code = await asyncio.to_thread(
        passwd.main,
        [ADMIN, "--username", "Admin", "--stdin"],
        env=_env(bot),
        stdin=io.StringIO("mot-mat-khau-dai\n"),
    )
    assert code == 0
    [entry] = await audits(bot, "staff.password_set")
    assert entry.detail["user_id"] == ADMIN and "mot-mat-khau-dai" not in json.dumps(entry.detail)
    assert (await try_password(bot, "admin", "mot-mat-khau-dai")).status == 303


@pytest.mark.parametrize(
    ("args", "password"),
    [
        ([ADMIN, "--username", "admin"], "ngan"),  # too short
        (["9999", "--username", "admin"], "mot-mat-khau-dai"),  # not staff
        ([ADMIN, "--username", "x"], "mot-mat-khau-dai"),  # username too short
    ],
)
async def test_the_passwd_command_refuses_what_cannot_work(bot, args, password):
    code = await asyncio.to_thread(
        passwd.main, [*args, "--stdin"], env=_env(bot), stdin=io.StringIO(password + "\n")
    )
    assert code == 2
    assert await audits(bot, "staff.password_set") == []
