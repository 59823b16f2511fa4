"""GET /api/groups/{group_id}: bearer ADMIN_TOKEN, the group's picture."""

from __future__ import annotations

import pytest

from bot.app import registry
from tests.support import CUSTOMER, GROUP, SALES

AUTH = {"Authorization": "Bearer test-admin-token"}


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer nope"}, {"Authorization": "test-admin-token"}]
)
async def test_without_the_right_token_the_api_refuses(bot, headers):
    await bot.say("chào", sender=CUSTOMER)
    response = await bot.client.get(f"/api/groups/{GROUP}", headers=headers)
    assert response.status == 401


async def test_with_no_admin_token_configured_the_api_refuses_everyone(make_bot, settings):
    bot = await make_bot(settings.replace(admin_token=""))
    response = await bot.client.get(f"/api/groups/{GROUP}", headers={"Authorization": "Bearer "})
    assert response.status == 401


async def test_group_shows_customer_sales_members_and_stage(bot):
    await bot.say("Cho em hỏi giá", sender=CUSTOMER)
    await bot.say("/khachhang Công ty Minh Phát sdt=0901234567 khuvuc=HCM nhom=vip")
    body = await (await bot.client.get(f"/api/groups/{GROUP}", headers=AUTH)).json()
    assert body["group_id"] == GROUP and body["stage"] == "new"
    assert body["customer"]["name"] == "Công ty Minh Phát"
    assert body["customer"]["customer_group"] == "vip"
    assert body["assigned_sales"] == {"zalo_user_id": SALES, "name": "Nguyễn Văn An"}
    roles = {m["zalo_user_id"]: m["role"] for m in body["members"]}
    assert roles == {CUSTOMER: "customer", SALES: "sales"}
    assert body["messages"] >= 2


async def test_unknown_group_is_404(bot):
    response = await bot.client.get("/api/groups/nope", headers=AUTH)
    assert response.status == 404


async def test_later_capabilities_extend_the_group_picture(bot, monkeypatch):
    async def sla(db, group):
        return {"sla": {"open": None}}

    monkeypatch.setattr(registry, "GROUP_SECTIONS", [sla])
    await bot.say("hi", sender=CUSTOMER)
    body = await (await bot.client.get(f"/api/groups/{GROUP}", headers=AUTH)).json()
    assert body["sla"] == {"open": None}
