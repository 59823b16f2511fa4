"""The staff capability's routes in the /api document: care assignments."""

from __future__ import annotations

from bot.core.apidoc import (
    BAD,
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
from bot.features.care.api import MAX_ROW_ID

DOC = ApiDoc(
    schemas={
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
    },
    paths={
        "/api/care/assignments": {
            "get": op(
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
            "post": op(
                "Assign a staff member a product group or a customer (exactly one of them).",
                {"201": json_body(ref("Assignment"), "The new assignment."), **BAD},
                requestBody={
                    "required": True,
                    "content": {"application/json": {"schema": ref("NewAssignment")}},
                },
            ),
        },
        "/api/care/assignments/{assignment_id}": {
            "delete": op(
                "Remove an assignment.",
                {
                    "200": json_body(obj({"ok": {"type": "boolean"}}, ("ok",)), "Removed."),
                    "404": error("No such assignment."),
                },
                parameters=[
                    path_param("assignment_id", {"type": "string"}, "The assignment's id.")
                ],
            )
        },
    },
)
