"""The OpenAPI 3.0 document of /api, served at GET /api/openapi.json (bearer ADMIN_TOKEN).

Limits in the schemas are the ones the handlers enforce (and the columns hold): a request inside
them gets a 2xx or a documented 4xx, one outside them a 400, never a 500. tests/test_openapi.py
runs schemathesis against the live app with this document.
"""

from __future__ import annotations

from typing import Any

from bot.features.care.api import (
    CUSTOMER_TEXT,
    FIRST_DAY,
    LAST_DAY,
    MAX_AMOUNT,
    MAX_QUANTITY,
    MAX_ROW_ID,
)
from bot.features.care.orders import MAX_CARE_DAYS, MAX_COUNT, PRODUCT_TEXT
from bot.features.reports.queries import REPORTS

Schema = dict[str, Any]


def text(max_length: int, *, min_length: int = 0, nullable: bool = False) -> Schema:
    """A string of at most `max_length` characters (NUL, which no database keeps, excluded)."""
    schema: Schema = {"type": "string", "maxLength": max_length, "pattern": "^[^\\u0000]*$"}
    if min_length:
        schema["minLength"] = min_length
    if nullable:
        schema["nullable"] = True
    return schema


def whole(minimum: int, maximum: int, *, nullable: bool = False) -> Schema:
    schema: Schema = {"type": "integer", "minimum": minimum, "maximum": maximum}
    if nullable:
        schema["nullable"] = True
    return schema


def obj(properties: dict[str, Schema], required: tuple[str, ...] = ()) -> Schema:
    schema: Schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def json_body(schema: Schema, description: str) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def error(description: str) -> Schema:
    return json_body(ref("Error"), description)


def path_param(name: str, schema: Schema, description: str) -> Schema:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": schema,
    }


STAMP: Schema = {"type": "string", "format": "date-time"}
STAMP_OR_NULL: Schema = {**STAMP, "nullable": True}
DAY_OR_NULL: Schema = {"type": "string", "format": "date", "nullable": True}
ANY_ID: Schema = {"type": "string", "nullable": True}

SCHEMAS: dict[str, Schema] = {
    "Error": obj(
        {"error": {"type": "string"}, "message": {"type": "string"}},
        ("error",),
    ),
    "Group": obj(
        {
            "group_id": {"type": "string"},
            "name": {"type": "string", "nullable": True},
            "stage": {"type": "string"},
            "customer": {
                "type": "object",
                "nullable": True,
                "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
            },
            "assigned_sales": {
                "type": "object",
                "nullable": True,
                "properties": {"zalo_user_id": {"type": "string"}, "name": ANY_ID},
            },
            "members": {
                "type": "array",
                "items": obj(
                    {
                        "zalo_user_id": {"type": "string"},
                        "joined_at": STAMP,
                        "role": {"type": "string"},
                        "name": ANY_ID,
                    },
                    ("zalo_user_id", "role"),
                ),
            },
            "messages": {"type": "integer", "minimum": 0},
            "sla": obj(
                {
                    "open": {
                        "type": "object",
                        "nullable": True,
                        "properties": {
                            "opened_at": STAMP,
                            "deadline": STAMP,
                            "owner_id": ANY_ID,
                            "breached": {"type": "boolean"},
                        },
                    },
                    "breaches": {"type": "integer", "minimum": 0},
                    "first_response": ANY_ID,
                    "working_hours": ANY_ID,
                },
                ("open", "breaches"),
            ),
            "payments": {
                "type": "array",
                "items": obj(
                    {
                        "id": {"type": "integer"},
                        "kind": {"type": "string", "enum": ["payment", "credit"]},
                        "amount": {"type": "integer"},
                        "status": {"type": "string", "enum": ["pending", "approved", "rejected"]},
                        "decided_by": ANY_ID,
                        "decided_at": STAMP_OR_NULL,
                        "requested_at": STAMP_OR_NULL,
                    },
                    ("id", "kind", "amount", "status"),
                ),
            },
            "incidents": {
                "type": "array",
                "items": obj(
                    {
                        "id": {"type": "integer"},
                        "type": {"type": "string"},
                        "status": {"type": "string"},
                        "opened_at": STAMP,
                        "deadline": STAMP,
                        "resolved_at": STAMP_OR_NULL,
                    },
                    ("id", "type", "status"),
                ),
            },
        },
        ("group_id", "stage", "customer", "assigned_sales", "members", "messages"),
    ),
    "Product": obj(
        {
            "code": text(PRODUCT_TEXT["code"], min_length=1),
            "name": text(PRODUCT_TEXT["name"], min_length=1),
            "product_group": text(PRODUCT_TEXT["product_group"], nullable=True),
            "care_interval_days": whole(0, MAX_CARE_DAYS, nullable=True),
            "care_min": whole(0, MAX_COUNT, nullable=True),
            "care_max": whole(0, MAX_COUNT, nullable=True),
        },
        ("code", "name"),
    ),
    "ImportCounts": obj(
        {
            "added": {"type": "integer", "minimum": 0},
            "updated": {"type": "integer", "minimum": 0},
            "unchanged": {"type": "integer", "minimum": 0},
        },
        ("added", "updated", "unchanged"),
    ),
    "NewOrder": obj(
        {
            "order_id": {
                "description": "The shop's or ERP's own id; a second order with it gets 409.",
                "anyOf": [text(100, min_length=1), whole(0, 10**18)],
            },
            "purchased_at": {
                "type": "string",
                "description": "ISO date (midnight, company time) or datetime "
                f"(company time when it has no zone), {FIRST_DAY} to {LAST_DAY}.",
                "example": "2026-11-20",
            },
            "items": {
                "type": "array",
                "minItems": 1,
                "maxItems": 200,
                "items": obj(
                    {
                        "product_code": text(60, min_length=1),
                        "quantity": whole(1, MAX_QUANTITY),
                        "amount": whole(0, MAX_AMOUNT, nullable=True),
                    },
                    ("product_code",),
                ),
            },
            "amount": whole(0, MAX_AMOUNT, nullable=True),
            "group_id": text(64, nullable=True),
            "customer_id": whole(1, MAX_ROW_ID, nullable=True),
            "customer": {
                "type": "object",
                "nullable": True,
                "description": "Used when neither customer_id nor the group names the customer: "
                "matched by phone, else created from name.",
                "properties": {
                    key: text(limit, nullable=key != "name") for key, limit in CUSTOMER_TEXT.items()
                },
            },
        },
        ("order_id", "purchased_at", "items"),
    ),
    "Order": obj(
        {
            "order_id": {"type": "string"},
            "id": {"type": "integer"},
            "group_id": ANY_ID,
            "customer_id": {"type": "integer", "nullable": True},
            "purchased_at": STAMP,
            "amount": {"type": "integer", "nullable": True},
            "source": {"type": "string", "enum": ["chat", "api"]},
            "status": {"type": "string"},
            "next_care_date": DAY_OR_NULL,
            "care_closed": {"type": "boolean"},
            "items": {
                "type": "array",
                "items": obj(
                    {
                        "product_code": {"type": "string"},
                        "name": {"type": "string"},
                        "quantity": {"type": "integer"},
                        "amount": {"type": "integer", "nullable": True},
                    },
                    ("product_code", "quantity"),
                ),
            },
            "customer": obj(
                {"id": {"type": "integer"}, "name": {"type": "string"}, "phone": ANY_ID}
            ),
        },
        ("order_id", "id", "purchased_at", "source", "status", "items"),
    ),
    "NewAssignment": obj(
        {
            "staff_id": text(64, min_length=1),
            "product_group": text(100, min_length=1, nullable=True),
            "customer_id": whole(1, MAX_ROW_ID, nullable=True),
        },
        ("staff_id",),
    ),
    "Assignment": obj(
        {
            "id": {"type": "integer"},
            "staff_id": {"type": "string"},
            "product_group": {"type": "string", "nullable": True},
            "customer_id": {"type": "integer", "nullable": True},
        },
        ("id", "staff_id", "product_group", "customer_id"),
    ),
}

UNAUTHORIZED = {"401": error("No or wrong `Authorization: Bearer <ADMIN_TOKEN>`.")}
BAD = {"400": error("The request cannot be used; `message` says why.")}


def _op(summary: str, responses: dict[str, Any], **extra: Any) -> Schema:
    return {"summary": summary, "responses": {**responses, **UNAUTHORIZED}, **extra}


PATHS: dict[str, Schema] = {
    "/api/openapi.json": {
        "get": _op(
            "This document.",
            {"200": json_body({"type": "object"}, "The OpenAPI 3.0 document.")},
        )
    },
    "/api/groups/{group_id}": {
        "get": _op(
            "A group's customer, sales, members, stage, payments, incidents and SLA state.",
            {"200": json_body(ref("Group"), "The group."), "404": error("No such group.")},
            parameters=[path_param("group_id", {"type": "string"}, "The Zalo group id.")],
        )
    },
    "/api/products": {
        "post": _op(
            "Add or update catalog products by code.",
            {"200": json_body(ref("ImportCounts"), "What changed."), **BAD},
            requestBody={
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "oneOf": [
                                ref("Product"),
                                {"type": "array", "minItems": 1, "items": ref("Product")},
                            ]
                        }
                    }
                },
            },
        )
    },
    "/api/orders": {
        "post": _op(
            "Record an order from a shop or an ERP; the first care date follows the products.",
            {
                "201": json_body(ref("Order"), "The order as stored, with its customer."),
                **BAD,
                "409": error("An order with this order_id exists."),
            },
            requestBody={
                "required": True,
                "content": {"application/json": {"schema": ref("NewOrder")}},
            },
        )
    },
    "/api/orders/{order_id}": {
        "get": _op(
            "One order by the shop's or ERP's id.",
            {"200": json_body(ref("Order"), "The order."), "404": error("No such order.")},
            parameters=[
                path_param("order_id", {"type": "string"}, "The order_id it was sent with.")
            ],
        )
    },
    "/api/care/assignments": {
        "get": _op(
            "Who cares for which product group or customer.",
            {
                "200": json_body(
                    obj(
                        {
                            "care_mode": {
                                "type": "string",
                                "enum": ["by_customer", "by_product", "open"],
                            },
                            "assignments": {"type": "array", "items": ref("Assignment")},
                        },
                        ("care_mode", "assignments"),
                    ),
                    "The care mode and every assignment.",
                )
            },
        ),
        "post": _op(
            "Assign a staff member a product group or a customer (exactly one of them).",
            {"201": json_body(ref("Assignment"), "The new assignment."), **BAD},
            requestBody={
                "required": True,
                "content": {"application/json": {"schema": ref("NewAssignment")}},
            },
        ),
    },
    "/api/care/assignments/{assignment_id}": {
        "delete": _op(
            "Remove an assignment.",
            {
                "200": json_body(obj({"ok": {"type": "boolean"}}, ("ok",)), "Removed."),
                "404": error("No such assignment."),
            },
            parameters=[path_param("assignment_id", {"type": "string"}, "The assignment's id.")],
        )
    },
    "/api/reports": {
        "get": _op(
            "The reports and their columns.",
            {
                "200": json_body(
                    obj(
                        {
                            "reports": {
                                "type": "array",
                                "items": obj(
                                    {
                                        "name": {"type": "string"},
                                        "columns": {"type": "array", "items": {"type": "string"}},
                                    },
                                    ("name", "columns"),
                                ),
                            }
                        },
                        ("reports",),
                    ),
                    "Every report.",
                )
            },
        )
    },
    "/api/reports/{name}": {
        "get": _op(
            "One report over local dates `from`..`to` (both included) as CSV with a header row.",
            {
                "200": {
                    "description": "UTF-8 CSV; without dates, the last 30 days.",
                    "content": {"text/csv": {"schema": {"type": "string"}}},
                },
                **BAD,
                "404": error("No such report."),
            },
            parameters=[
                path_param("name", {"type": "string", "enum": sorted(REPORTS)}, "The report."),
                *(
                    {
                        "name": key,
                        "in": "query",
                        "required": False,
                        "description": f"A local date YYYY-MM-DD, {FIRST_DAY} to {LAST_DAY}.",
                        "schema": {"type": "string", "format": "date"},
                    }
                    for key in ("from", "to")
                ),
            ],
        )
    },
}


def document() -> Schema:
    """The whole OpenAPI 3.0 document."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Zalo sales-care bot API",
            "version": "1",
            "description": "For ERPs, shops and dashboards. Every call needs "
            "`Authorization: Bearer <ADMIN_TOKEN>`.",
        },
        "security": [{"bearer": []}],
        "paths": PATHS,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": SCHEMAS,
        },
    }
