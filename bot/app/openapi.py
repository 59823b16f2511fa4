"""The OpenAPI 3.0 document of /api, served at GET /api/openapi.json (bearer ADMIN_TOKEN): the
group picture here, each capability's routes from its own openapi.py (bot/app/registry.py,
API_DOCS). tests/app/test_openapi.py runs schemathesis against the live app with this document.
"""

from __future__ import annotations

from bot.app import registry
from bot.core.apidoc import (
    ANY_ID,
    STAMP,
    STAMP_OR_NULL,
    ApiDoc,
    Schema,
    error,
    json_body,
    obj,
    op,
    path_param,
    ref,
)

DOC = ApiDoc(
    schemas={
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
                            "status": {
                                "type": "string",
                                "enum": ["pending", "approved", "rejected"],
                            },
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
    },
    paths={
        "/api/openapi.json": {
            "get": op(
                "This document.",
                {"200": json_body({"type": "object"}, "The OpenAPI 3.0 document.")},
            )
        },
        "/api/groups/{group_id}": {
            "get": op(
                "A group's customer, sales, members, stage, payments, incidents and SLA state.",
                {"200": json_body(ref("Group"), "The group."), "404": error("No such group.")},
                parameters=[path_param("group_id", {"type": "string"}, "The Zalo group id.")],
            )
        },
    },
)


def document() -> Schema:
    """The whole OpenAPI 3.0 document."""
    parts = (DOC, *registry.API_DOCS)
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Zalo sales-care bot API",
            "version": "1",
            "description": "For ERPs, shops and dashboards. Every call needs "
            "`Authorization: Bearer <ADMIN_TOKEN>`.",
        },
        "security": [{"bearer": []}],
        "paths": {path: item for part in parts for path, item in part.paths.items()},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {name: s for part in parts for name, s in part.schemas.items()},
        },
    }
