"""The staff directory page: admins manage people and passwords, heads look, others are refused."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlmodel import col, select

from bot.features.staff import passwords
from storage import repo
from storage.models import AuditEntry, Staff
from tests.helpers.web import sign_in
from tests.support import ADMIN, HEAD, SALES, SALES2, WAREHOUSE

PAGE = "/dashboard/directory"
NEW = "1000000000000000099"


async def staff(bot, user_id) -> Staff:
    async with bot.runtime.sessions() as db:
        return await repo.get_staff(db, user_id=user_id)


async def audits(bot, action):
    async with bot.runtime.sessions() as db:
        entries = (await db.exec(select(AuditEntry).order_by(col(AuditEntry.id)))).all()
    return [a for a in entries if a.action == action]


async def csrf(bot) -> str:
    html = await (await bot.client.get(PAGE)).text()
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


async def act(bot, path, **form):
    """POST an admin form with the page's CSRF token; the response, not followed."""
    data = {"csrf": await csrf(bot), **form}
    return await bot.client.post(f"{PAGE}/{path}", data=data, allow_redirects=False)


@pytest.fixture
async def admin(bot):
    sign_in(bot, ADMIN)
    return bot


# --- who may see what ---------------------------------------------------------------------------


async def test_the_admin_sees_every_staff_member_with_the_forms(admin):
    response = await admin.client.get(PAGE)
    html = await response.text()
    assert response.status == 200 and '<table id="directory">' in html
    for user_id in (SALES, HEAD, ADMIN, WAREHOUSE):
        assert f'<tr data-user="{user_id}"' in html
    assert 'id="add-staff"' in html and 'class="set-password"' in html
    assert "Nguyễn Văn An" in html and "Kinh doanh" in html and "Tệp nhân viên" in html


async def test_a_sales_head_sees_the_list_without_any_form(bot):
    sign_in(bot, HEAD)
    html = await (await bot.client.get(PAGE)).text()
    assert f'<tr data-user="{SALES}"' in html
    assert 'action="/dashboard/directory' not in html and 'id="add-staff"' not in html


async def test_a_sales_head_cannot_post_changes(bot):
    sign_in(bot, HEAD)
    html = await (await bot.client.get(PAGE)).text()
    token = re.search(r'name="csrf" value="([^"]+)"', html).group(1)  # the logout form's
    response = await bot.client.post(
        f"{PAGE}/{SALES}/deactivate", data={"csrf": token}, allow_redirects=False
    )
    assert response.status == 403 and (await staff(bot, SALES)).active


@pytest.mark.parametrize("user_id", [SALES, WAREHOUSE])
async def test_other_roles_get_403(bot, user_id):
    sign_in(bot, user_id)
    response = await bot.client.get(PAGE)
    assert response.status == 403


async def test_a_signed_out_visitor_goes_to_the_login_form(bot):
    response = await bot.client.get(PAGE, allow_redirects=False)
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login" and parse_qs(location.query) == {"next": [PAGE]}
    form = await (await bot.client.get(response.headers["Location"])).text()
    assert f'name="next" value="{PAGE}"' in form


async def test_a_post_without_the_csrf_token_is_refused(admin):
    response = await admin.client.post(
        f"{PAGE}/{SALES}/deactivate", data={"csrf": "wrong"}, allow_redirects=False
    )
    assert response.status == 403 and (await staff(admin, SALES)).active
    assert await audits(admin, "staff.removed") == []


async def test_the_page_speaks_english_when_asked(admin):
    html = await (await admin.client.get(f"{PAGE}?lang=en")).text()
    assert "Staff directory" in html and "Add a staff member" in html


# --- admin actions ------------------------------------------------------------------------------


async def test_the_admin_adds_a_staff_member(admin):
    response = await act(admin, "add", zalo_user_id=NEW, name="  Ngô  Thị Lan ", role="warehouse")
    assert response.status == 303 and response.headers["Location"] == f"{PAGE}?done=added"
    added = await staff(admin, NEW)
    assert (added.name, added.role, added.active, added.source) == (
        "Ngô Thị Lan",
        "warehouse",
        True,
        "chat",
    )
    [entry] = await audits(admin, "staff.add")
    assert entry.actor_id == ADMIN and entry.detail["user_id"] == NEW
    html = await (await admin.client.get(response.headers["Location"])).text()
    assert '<p class="notice" role="status">Đã thêm nhân viên.</p>' in html
    assert f'<tr data-user="{NEW}"' in html


async def test_the_admin_changes_a_name_and_role_and_the_staff_file_does_not_undo_it(admin):
    response = await act(admin, f"{SALES2}/edit", name="Trần Thị Bình B", role="accountant")
    assert response.headers["Location"] == f"{PAGE}?done=saved"
    await admin.runtime.load_staff_file()
    changed = await staff(admin, SALES2)
    assert (changed.name, changed.role) == ("Trần Thị Bình B", "accountant")
    [entry] = await audits(admin, "staff.edit")
    assert entry.detail["before"] == {"name": "Trần Thị Bình", "role": "sales"}


async def test_the_admin_deactivates_and_reactivates_a_staff_member(admin):
    response = await act(admin, f"{SALES}/deactivate")
    assert response.headers["Location"] == f"{PAGE}?done=deactivated"
    await admin.runtime.load_staff_file()  # the file still lists them: the admin's word wins
    assert not (await staff(admin, SALES)).active
    html = await (await admin.client.get(PAGE)).text()
    assert f'<tr data-user="{SALES}" data-active="no">' in html
    await act(admin, f"{SALES}/reactivate")
    assert (await staff(admin, SALES)).active
    assert [a.actor_id for a in await audits(admin, "staff.removed")] == [ADMIN]
    assert [a.actor_id for a in await audits(admin, "staff.reactivated")] == [ADMIN]


async def test_a_deactivated_staff_member_loses_the_page_at_once(bot):
    sign_in(bot, HEAD)
    assert (await bot.client.get(PAGE)).status == 200
    sign_in(bot, ADMIN)
    await act(bot, f"{HEAD}/deactivate")
    sign_in(bot, HEAD)
    response = await bot.client.get(PAGE, allow_redirects=False)
    assert response.status == 302


async def test_the_admin_sets_a_password_that_is_stored_hashed_and_works(admin):
    response = await act(admin, f"{SALES}/password", username="An.Nguyen", password="mat-khau-1")
    assert response.headers["Location"] == f"{PAGE}?done=password_set"
    saved = await staff(admin, SALES)
    assert saved.username == "an.nguyen" and saved.password_hash != "mat-khau-1"
    assert saved.password_hash.startswith("scrypt$16384$8$1$")
    assert passwords.verify_password("mat-khau-1", saved.password_hash)
    [entry] = await audits(admin, "staff.password_set")
    assert entry.actor_id == ADMIN and "mat-khau-1" not in json.dumps(entry.detail)
    html = await (await admin.client.get(PAGE)).text()
    row = html[html.index(f'<tr data-user="{SALES}"') :]
    assert '<td class="username">an.nguyen</td>' in row[: row.index("</tr>")]


async def test_the_admin_removes_a_password(admin):
    await act(admin, f"{SALES}/password", username="an", password="mat-khau-1")
    response = await act(admin, f"{SALES}/password/remove")
    assert response.headers["Location"] == f"{PAGE}?done=password_removed"
    removed = await staff(admin, SALES)
    assert (removed.username, removed.password_hash) == (None, None)
    assert len(await audits(admin, "staff.password_removed")) == 1


@pytest.mark.parametrize(
    ("path", "form", "status", "message"),
    [
        ("add", {"zalo_user_id": "abc", "name": "X", "role": "sales"}, 400, "Zalo ID phải là"),
        ("add", {"zalo_user_id": NEW, "name": " ", "role": "sales"}, 400, "Cần nhập tên"),
        ("add", {"zalo_user_id": NEW, "name": "X", "role": "boss"}, 400, "Vai trò không hợp lệ"),
        ("add", {"zalo_user_id": SALES, "name": "X", "role": "sales"}, 400, "đã có trong danh bạ"),
        (f"{SALES}/password", {"username": "an", "password": "ngan"}, 400, "ít nhất 8 ký tự"),
        (f"{SALES}/password", {"username": "a b", "password": "mat-khau-1"}, 400, "2–64 ký tự"),
        (f"{NEW}/edit", {"name": "X", "role": "sales"}, 404, f"Không có nhân viên {NEW}"),
        (f"{ADMIN}/deactivate", {}, 400, "không thể tự vô hiệu hoá"),
        (f"{ADMIN}/edit", {"name": "Q", "role": "sales"}, 400, "không thể tự bỏ vai trò"),
    ],
)
async def test_a_form_mistake_is_shown_on_the_page_and_changes_nothing(
    admin, path, form, status, message
):
    before = await staff(admin, SALES)
    response = await act(admin, path, **form)
    html = await response.text()
    assert response.status == status and 'class="error"' in html and message in html
    assert await staff(admin, SALES) == before and await staff(admin, NEW) is None
    assert (await staff(admin, ADMIN)).role == "admin"


async def test_a_username_belongs_to_one_person(admin):
    await act(admin, f"{SALES}/password", username="an", password="mat-khau-1")
    response = await act(admin, f"{SALES2}/password", username="AN", password="mat-khau-2")
    assert response.status == 400 and "đã thuộc về Nguyễn Văn An" in await response.text()
    assert (await staff(admin, SALES2)).username is None


async def test_a_typed_add_form_is_kept_after_a_mistake(admin):
    response = await act(admin, "add", zalo_user_id=NEW, name="Ngô Thị Lan", role="nope")
    assert 'value="Ngô Thị Lan"' in await response.text()
