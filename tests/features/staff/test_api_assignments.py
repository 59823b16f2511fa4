"""Care assignments through the API, and their effect on who gets the care reminder."""

from __future__ import annotations

from tests.support import SALES2

AUTH = {"Authorization": "Bearer test-admin-token"}
URL = "/api/care/assignments"


async def test_assignments_need_the_admin_token(bot):
    assert (await bot.client.get(URL)).status == 401
    assert (await bot.client.post(URL, json={"staff_id": SALES2})).status == 401


async def test_add_list_and_remove_an_assignment(bot):
    created = await bot.client.post(
        URL, json={"staff_id": SALES2, "product_group": "Lõi lọc"}, headers=AUTH
    )
    assert created.status == 201
    row = await created.json()
    assert (row["staff_id"], row["product_group"], row["customer_id"]) == (SALES2, "Lõi lọc", None)
    listed = await (await bot.client.get(URL, headers=AUTH)).json()
    assert listed["care_mode"] == "by_customer" and listed["assignments"] == [row]
    assert (await bot.client.delete(f"{URL}/{row['id']}", headers=AUTH)).status == 200
    assert (await (await bot.client.get(URL, headers=AUTH)).json())["assignments"] == []
    assert (await bot.client.delete(f"{URL}/{row['id']}", headers=AUTH)).status == 404


async def test_bad_assignments_are_refused_with_a_reason(bot):
    cases = [
        ({"product_group": "x"}, "staff_id"),
        ({"staff_id": SALES2}, "exactly one"),
        ({"staff_id": SALES2, "product_group": "x", "customer_id": 1}, "exactly one"),
        ({"staff_id": "999", "product_group": "x"}, "not active staff"),
        ({"staff_id": SALES2, "customer_id": 12345}, "does not exist"),
        # the types the OpenAPI document gives (issue #15: "1" was stored as text)
        ({"staff_id": SALES2, "customer_id": "1"}, "whole number"),
        ({"staff_id": SALES2, "customer_id": True}, "whole number"),
        ({"staff_id": SALES2, "customer_id": 1.5}, "whole number"),
        ({"staff_id": 5, "product_group": "x"}, "staff_id"),
    ]
    for body, reason in cases:
        response = await bot.client.post(URL, json=body, headers=AUTH)
        assert response.status == 400, body
        assert reason in (await response.json())["message"]
    response = await bot.client.post(URL, data=b"{nope", headers=AUTH)
    assert response.status == 400
    deep = b"[" * 100_000 + b"]" * 100_000
    response = await bot.client.post(URL, data=deep, headers=AUTH)
    assert response.status == 400 and "nested" in (await response.json())["message"]
