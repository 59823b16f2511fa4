"""The care capability's routes in the /api document: products and orders."""

from __future__ import annotations

from bot.core.apidoc import (
    ANY_ID,
    BAD,
    DAY_OR_NULL,
    STAMP,
    ApiDoc,
    error,
    json_body,
    obj,
    op,
    path_param,
    ref,
    text,
    whole,
)
from bot.features.care.api import (
    CUSTOMER_TEXT,
    FIRST_DAY,
    LAST_DAY,
    MAX_AMOUNT,
    MAX_QUANTITY,
    MAX_ROW_ID,
)
from bot.features.care.orders import MAX_CARE_DAYS, MAX_COUNT, PRODUCT_TEXT

DOC = ApiDoc(
    schemas={
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
                    "description": "Used when neither customer_id nor the group names the "
                    "customer: matched by phone, else created from name.",
                    "properties": {
                        key: text(limit, nullable=key != "name")
                        for key, limit in CUSTOMER_TEXT.items()
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
    },
    paths={
        "/api/products": {
            "post": op(
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
            "post": op(
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
            "get": op(
                "One order by the shop's or ERP's id.",
                {"200": json_body(ref("Order"), "The order."), "404": error("No such order.")},
                parameters=[
                    path_param("order_id", {"type": "string"}, "The order_id it was sent with.")
                ],
            )
        },
    },
)
