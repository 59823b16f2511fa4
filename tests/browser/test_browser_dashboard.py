"""The dashboard in a real browser: sign-in and refusal, the overview, a group's page."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import pytest

from bot.tools.passwd import set_password
from tests.browser.conftest import NO_PLAYWRIGHT
from tests.browser.test_browser_simulator import bot_message, open_simulator, say
from tests.support import ACCOUNTANT, ADMIN, CUSTOMER, HEAD, SALES

expect = pytest.importorskip("playwright.async_api", reason=NO_PLAYWRIGHT).expect

if TYPE_CHECKING:
    from playwright.async_api import Page

GROUP = "sim-group-1"
QUESTION = "Cho em hỏi giá lô 500 thùng nước suối"


async def sign_in_with_link(page: Page, who: str) -> None:
    """Type /dangnhap to the OA 1:1 in the simulator as `who`, open the link, press the button.

    (In the group it would work too, but a staff message there also answers the customer.)"""
    await page.select_option("#sim-identity", who)
    await page.fill("#sim-dm-text", "/dangnhap")
    await page.click("#sim-dm-send")
    link = page.locator("#sim-dm .sim-link").last
    await expect(link).to_be_visible()
    href = await link.get_attribute("href")
    assert href and "/login/" in href
    await page.goto(urlparse(href).path)  # PUBLIC_URL is unset: the link says localhost:8080
    await expect(page.locator("form#link-login")).to_be_visible()
    await page.click("form#link-login button[type=submit]")
    await expect(page).to_have_url(re.compile(r"/dashboard$"))


async def test_signed_out_visitors_go_to_the_sign_in_page_and_a_wrong_password_is_refused(
    page: Page, live_server: Any, screenshot: Any
) -> None:
    await page.goto("/dashboard")
    await expect(page.locator("form#login-form")).to_be_visible()
    assert "/login" in page.url
    await screenshot(page, "login")

    await page.fill("input[name=username]", "admin")
    await page.fill("input[name=password]", "not-the-password")
    await page.click("form#login-form button[type=submit]")
    await expect(page.locator(".error")).to_contain_text("Sai tên đăng nhập hoặc mật khẩu")
    await page.goto("/dashboard/groups")
    await expect(page.locator("form#login-form")).to_be_visible()


async def test_a_password_set_by_the_admin_signs_in_and_sign_out_ends_the_session(
    page: Page, live_server: Any
) -> None:
    await set_password(live_server.runtime.settings.database_url, ADMIN, "quantri", "mat-khau-dai")
    await page.goto("/login")
    await page.fill("input[name=username]", "quantri")
    await page.fill("input[name=password]", "mat-khau-dai")
    await page.click("form#login-form button[type=submit]")
    await expect(page.locator("#open-clocks")).to_be_visible()
    await expect(page.locator("header .whoami")).to_contain_text("Quản Trị Viên")

    await page.goto("/dashboard/directory")
    await expect(page.locator(f'table#directory tr[data-user="{SALES}"]')).to_contain_text(
        "Nguyễn Văn An"
    )
    await page.click("header form[action='/logout'] button")
    await expect(page.locator("form#login-form")).to_be_visible()
    await page.goto("/dashboard")
    await expect(page.locator("form#login-form")).to_be_visible()


async def test_the_head_signs_in_by_link_and_sees_the_waiting_customer_and_the_approved_payment(
    page: Page, live_server: Any, screenshot: Any
) -> None:
    await open_simulator(page, live_server)
    await say(page, CUSTOMER, "Shop ơi báo giá giúp anh")
    await say(page, SALES, "Dạ em gửi báo giá ngay ạ")
    await say(page, SALES, "/thanhtoan 24tr chuyenkhoan coc 50%")
    request = bot_message(page, "Đề nghị duyệt thanh toán")
    await page.select_option("#sim-identity", ACCOUNTANT)
    await request.locator(".sim-reply").click()
    await say(page, ACCOUNTANT, "duyệt")
    await expect(page.locator('#sim-payments [data-payment-status="approved"]')).to_be_visible()
    await say(page, CUSTOMER, QUESTION)

    await sign_in_with_link(page, HEAD)
    waiting = page.locator(f'#open-clocks tr[data-group="{GROUP}"]')
    await expect(waiting).to_be_visible()
    await expect(waiting).to_contain_text("09:15")

    await page.goto(f"/dashboard/groups/{GROUP}")
    await expect(page.locator("#transcript")).to_contain_text(QUESTION)
    approved = page.locator('#payments tr[data-status="approved"]')
    await expect(approved).to_contain_text("24.000.000")
    await expect(approved).to_contain_text("Phạm Thị Dung")

    await page.fill("form#transcript-search input[name=q]", "500 thùng")
    await page.press("form#transcript-search input[name=q]", "Enter")
    await expect(page.locator("#transcript")).to_contain_text(QUESTION)
    await expect(page.locator("#transcript")).not_to_contain_text("Dạ em gửi báo giá ngay ạ")

    await page.goto(f"/dashboard/staff/{SALES}")
    await expect(page.locator("#chart-compliance svg")).to_be_visible()


async def test_a_sales_does_not_see_the_directory(page: Page, live_server: Any) -> None:
    await open_simulator(page, live_server)
    await sign_in_with_link(page, SALES)
    await page.goto("/dashboard/directory")
    await expect(page.locator("main h1")).to_contain_text("Không có quyền")
