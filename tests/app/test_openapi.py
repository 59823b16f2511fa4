"""GET /api/openapi.json describes every /api route; schemathesis holds the live app to it.

Schemathesis generates requests from the document (valid ones, then invalid ones) against the
real app on a real port and checks that no answer is a 5xx and every answer matches the
documented status codes and schemas. It runs in a worker thread, with blocking HTTP calls,
while the test's event loop serves the app.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from bot.app import openapi
from tests.support import CUSTOMER, SALES2, Bot

AUTH = {"Authorization": "Bearer test-admin-token"}
IN_CI = bool(os.environ.get("CI"))  # CI replays the same examples; a developer's run explores
CATALOG = ["LOC-PP5", "LOC-RO", "MLN-RO10"]  # from config/products.csv, imported at start
CHECKS = [not_a_server_error, response_schema_conformance]
EXAMPLES = {GenerationMode.POSITIVE: 20, GenerationMode.NEGATIVE: 12}
MODES = [mode.value for mode in EXAMPLES]


def api_routes(app: web.Application) -> set[tuple[str, str]]:
    """(method, path) of every /api route the app serves."""
    return {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith("/api/")
        and route.method != "HEAD"
    }


def documented(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method, path) for path, item in document["paths"].items() for method in item}


async def test_the_document_needs_the_admin_token(bot: Bot) -> None:
    assert (await bot.client.get("/api/openapi.json")).status == 401
    wrong = {"Authorization": "Bearer nope"}
    assert (await bot.client.get("/api/openapi.json", headers=wrong)).status == 401


async def test_the_document_describes_every_api_route_and_nothing_else(bot: Bot) -> None:
    response = await bot.client.get("/api/openapi.json", headers=AUTH)
    assert response.status == 200
    served = await response.json()
    assert served == openapi.document()
    assert documented(served) == api_routes(bot.app)


def test_the_document_is_valid_openapi() -> None:
    schema = schemathesis.openapi.from_dict(openapi.document())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} >= {"GET /api/groups/{group_id}", "POST /api/orders"}


def _known(case: schemathesis.Case, code: str) -> schemathesis.Case:
    """Point a generated order at a catalog product and an assignment at real staff, so valid
    requests get past the lookups and reach the database (only where the body is an object)."""
    body = case.body
    if isinstance(body, dict) and isinstance(body.get("items"), list):
        for item in body["items"]:
            if isinstance(item, dict):
                item["product_code"] = code
    if isinstance(body, dict) and case.operation.label == "POST /api/care/assignments":
        body["staff_id"] = SALES2
    return case


def _cases(operation: Any, mode: GenerationMode) -> st.SearchStrategy[schemathesis.Case]:
    generated = operation.as_strategy(generation_mode=mode)
    if mode is not GenerationMode.POSITIVE:
        return generated
    return st.builds(_known, generated, st.sampled_from(CATALOG)) | generated


def _fuzz(base_url: str) -> list[str]:
    """Run every operation in both generation modes; returns the labels that were exercised."""
    schema = schemathesis.openapi.from_url(f"{base_url}/api/openapi.json", headers=AUTH)
    done: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode, examples in EXAMPLES.items():

            @settings(
                max_examples=examples,
                deadline=None,
                database=None,
                derandomize=IN_CI,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=_cases(operation, mode))
            def run(case: schemathesis.Case) -> None:
                case.call_and_validate(base_url=base_url, headers=AUTH, checks=CHECKS)

            run()
            done.append(f"{mode.value} {operation.label}")
    return done


async def test_schemathesis_finds_no_server_error_and_no_answer_off_the_document(
    bot: Bot,
) -> None:
    await bot.say("Cho em hỏi giá", sender=CUSTOMER)  # a group with a member, for context
    await bot.say("/khachhang Công ty Minh Phát sdt=0901234567 nhom=vip")
    base_url = str(bot.client.make_url("")).rstrip("/")
    done = await asyncio.to_thread(_fuzz, base_url)
    served = documented(openapi.document()) - {("get", "/api/openapi.json")}  # loaded, not fuzzed
    assert sorted(done) == sorted(f"{m} {op[0].upper()} {op[1]}" for op in served for m in MODES)


ORDER = {"order_id": "EDGE-1", "purchased_at": "2026-11-20", "items": [{"product_code": "LOC-RO"}]}
NEW = {"customer": {"name": "Khách"}}
# Requests at and past the limits the document states: each is refused or not found, never a
# 500 (PostgreSQL refuses NUL, over-long text and integers past its column types).
EDGES: list[tuple[str, str, Any, int]] = [
    ("post", "/api/products", {"code": "x" * 61, "name": "n"}, 400),
    ("post", "/api/products", {"code": "A\x00", "name": "n"}, 400),
    ("post", "/api/products", {"code": "A", "name": "n", "care_interval_days": 2**40}, 400),
    ("post", "/api/products", {"code": "A", "name": "n", "care_max": 2**31}, 400),
    (
        "post",
        "/api/orders",
        {**ORDER, **NEW, "items": [{"product_code": "LOC-RO", "quantity": 10**7}]},
        400,
    ),
    (
        "post",
        "/api/orders",
        {**ORDER, **NEW, "items": [{"product_code": "LOC-RO", "amount": 2**70}]},
        400,
    ),
    ("post", "/api/orders", {**ORDER, **NEW, "items": [{"product_code": "x\x00"}]}, 400),
    ("post", "/api/orders", {**ORDER, "customer_id": 2**40}, 400),
    ("post", "/api/orders", {**ORDER, "customer": {"name": "x", "phone": "1" * 41}}, 400),
    ("post", "/api/orders", {**ORDER, "customer": {"name": "x\x00"}}, 400),
    ("post", "/api/orders", {**ORDER, "customer": {"name": "x" * 201}}, 400),
    ("post", "/api/orders", {**ORDER, **NEW, "purchased_at": "0001-01-01"}, 400),
    ("post", "/api/orders", {**ORDER, **NEW, "purchased_at": "9999-12-31"}, 400),
    ("post", "/api/orders", {**ORDER, **NEW, "purchased_at": "9999-12-31T23:59:59-12:00"}, 400),
    ("post", "/api/orders", {**ORDER, **NEW, "amount": 2**63}, 400),
    ("post", "/api/orders", {**ORDER, **NEW, "group_id": "g" * 65}, 400),
    ("post", "/api/orders", {**ORDER, **NEW, "order_id": "o\x00"}, 400),
    ("post", "/api/care/assignments", {"staff_id": SALES2, "product_group": 5}, 400),
    ("post", "/api/care/assignments", {"staff_id": SALES2, "product_group": "x" * 101}, 400),
    ("post", "/api/care/assignments", {"staff_id": SALES2, "customer_id": "abc"}, 400),
    ("post", "/api/care/assignments", {"staff_id": SALES2, "customer_id": 2**40}, 400),
    ("post", "/api/care/assignments", {"staff_id": SALES2, "customer_id": True}, 400),
    ("post", "/api/care/assignments", {"staff_id": "1\x00", "product_group": "x"}, 400),
    ("delete", "/api/care/assignments/99999999999999", None, 404),
    ("get", "/api/groups/a%00b", None, 404),
    ("get", "/api/groups/" + "g" * 65, None, 404),
    ("get", "/api/orders/a%00b", None, 404),
    ("get", "/api/reports/sla?from=9999-12-31&to=9999-12-31", None, 400),
    ("get", "/api/reports/sla?to=0001-01-02", None, 400),
    ("get", "/api/reports/sla?from=0001-01-01", None, 400),
]


async def test_a_request_past_a_documented_limit_is_refused_not_a_server_error(
    bot: Bot,
) -> None:
    wrong = []
    for method, path, body, status in EDGES:
        extra = {} if body is None else {"json": body}
        response = await getattr(bot.client, method)(path, headers=AUTH, **extra)
        if response.status != status:
            wrong.append((method, path, body, response.status, await response.text()))
    assert wrong == []


async def test_a_huge_care_interval_times_quantity_stops_at_the_calendars_end(bot: Bot) -> None:
    product = {"code": "LONG", "name": "n", "care_interval_days": 36_500}
    assert (await bot.client.post("/api/products", json=product, headers=AUTH)).status == 200
    order = {**ORDER, **NEW, "items": [{"product_code": "LONG", "quantity": 1_000_000}]}
    response = await bot.client.post("/api/orders", json=order, headers=AUTH)
    assert response.status == 201
    assert (await response.json())["next_care_date"] == "9999-12-31"
