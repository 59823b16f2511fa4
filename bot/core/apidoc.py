"""The building blocks of the /api OpenAPI document: each capability describes its own routes
with these (its openapi.py), and bot/app/openapi.py puts the parts together.

Limits in the schemas are the ones the handlers enforce (and the columns hold): a request inside
them gets a 2xx or a documented 4xx, one outside them a 400, never a 500.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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

UNAUTHORIZED = {"401": error("No or wrong `Authorization: Bearer <ADMIN_TOKEN>`.")}
BAD = {"400": error("The request cannot be used; `message` says why.")}


def op(summary: str, responses: dict[str, Any], **extra: Any) -> Schema:
    return {"summary": summary, "responses": {**responses, **UNAUTHORIZED}, **extra}


@dataclass(frozen=True)
class ApiDoc:
    """A capability's part of the document: its schemas and its paths."""

    schemas: dict[str, Schema] = field(default_factory=dict)
    paths: dict[str, Schema] = field(default_factory=dict)
