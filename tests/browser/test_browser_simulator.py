"""The simulator in a real browser: a whole customer conversation, then the SLA clock."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.browser.conftest import NO_PLAYWRIGHT
from tests.support import ACCOUNTANT, CUSTOMER, HEAD, SALES

expect = pytest.importorskip("playwright.async_api", reason=NO_PLAYWRIGHT).expect

if TYPE_CHECKING:
    from playwright.async_api import Locator, Page


async def open_simulator(page: Page, live_server: Any) -> None:
    await page.goto("/sim")
    await expect(page.locator("#sim-clock-time")).to_contain_text("23/11/2026 09:00")


async def say(page: Page, who: str, text: str, *, shown: str | None = None) -> None:
    """Pick `who` and type `text`; returns once it is in the feed as one's own message
    (showing `shown`, by default the text itself)."""
    await page.select_option("#sim-identity", who)
    await page.fill("#sim-text", text)
    await page.click("#sim-send")
    await expect(page.locator("#sim-text")).to_have_value("")
    mine = page.locator('#sim-feed .sim-msg.mine[data-direction="in"]', has_text=shown or text)
    await expect(mine.last).to_be_visible()


def bot_message(page: Page, text: str) -> Locator:
    return page.locator('#sim-feed .sim-msg[data-direction="out"]', has_text=text)


async def test_a_customer_question_an_answer_and_a_payment_approved_by_reply(
    page: Page, live_server: Any, screenshot: Any
) -> None:
    await open_simulator(page, live_server)
    await expect(page.locator("#sla-status")).to_contain_text("Không có khách đang chờ")

    await say(page, CUSTOMER, "Shop ơi báo giá giúp anh 500 thùng nước suối")
    waiting = page.locator("#sla-status .sim-sla")
    await expect(waiting).to_contain_text("Khách hàng")
    await expect(waiting).to_contain_text("09:15")

    await say(page, SALES, "Dạ em gửi anh báo giá ạ: 48.000đ/thùng")
    await expect(page.locator("#sla-status")).to_contain_text("Không có khách đang chờ")

    await say(page, SALES, "/thanhtoan 24tr chuyenkhoan coc 50%")
    request = bot_message(page, "Đề nghị duyệt thanh toán")
    await expect(request.locator(".sim-mention", has_text="@Phạm Thị Dung")).to_be_visible()
    await expect(page.locator('#sim-payments [data-payment-status="pending"]')).to_contain_text(
        "chờ duyệt"
    )

    await page.select_option("#sim-identity", ACCOUNTANT)
    await request.locator(".sim-reply").click()
    await expect(page.locator("#sim-quote")).to_contain_text("Đề nghị duyệt")
    await say(page, ACCOUNTANT, "duyệt")
    approved = page.locator('#sim-payments [data-payment-status="approved"]')
    await expect(approved).to_contain_text("đã duyệt")
    await expect(approved).to_contain_text("24.000.000 ₫")
    await expect(bot_message(page, "Đã duyệt thanh toán")).to_be_visible()
    await expect(page.locator("#sim-quote")).to_be_hidden()

    await screenshot(page, "simulator")
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.locator("#sim-feed").evaluate("feed => feed.scrollTop = feed.scrollHeight")
    await screenshot(page, "simulator-mobile", full_page=False)


async def test_an_unanswered_customer_brings_the_breach_alert_when_time_jumps(
    page: Page, live_server: Any
) -> None:
    await open_simulator(page, live_server)
    await say(page, CUSTOMER, "Cho em hỏi giá lô 500 thùng")
    await expect(page.locator("#sla-status")).to_contain_text("còn 15 phút")

    await page.click('button[data-advance="15"]')
    await expect(page.locator("#sim-clock-time")).to_contain_text("09:15")
    await page.click('button[data-advance="15"]')
    await expect(page.locator("#sim-clock-time")).to_contain_text("09:30")
    await expect(page.locator("#sim-clock-offset")).to_contain_text("+")

    alert = page.locator('#sim-feed .sim-msg[data-private="true"]', has_text="Quá hạn phản hồi")
    await expect(alert.first).to_be_visible()
    await expect(alert.first).to_contain_text("Lê Văn Cường")
    await expect(page.locator("#sla-status")).to_contain_text("quá hạn")

    await page.select_option("#sim-identity", HEAD)
    await expect(
        page.locator("#sim-dm .sim-msg", has_text="Quá hạn phản hồi").first
    ).to_be_visible()


async def test_message_text_is_shown_as_text_never_as_html(page: Page, live_server: Any) -> None:
    await open_simulator(page, live_server)
    typed = '<img src=x onerror="document.title=1"> [@1000000000000000001] <b>x</b>'
    await say(page, CUSTOMER, typed, shown="<b>x</b>")
    feed = page.locator("#sim-feed")
    await expect(feed.locator(".sim-msg.mine .sim-mention")).to_have_text("@Nguyễn Văn An")
    await expect(feed).to_contain_text('<img src=x onerror="document.title=1">')
    await expect(feed.locator("img, b")).to_have_count(0)
