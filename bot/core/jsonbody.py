"""JSON request bodies for /api, the dashboard and the simulator: bad input is a 400, never a 500.

`json.loads` raises RecursionError on deeply nested input ("[[[[…"), which escaped as a 500
from every JSON route. `parse_json` turns that, bad UTF-8, bad JSON and anything nested deeper
than MAX_DEPTH into one BadJSON; the routes answer it with 400. (The webhook keeps its own
rules: bot/zalo/events.py load_body.)
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

MAX_DEPTH = 20  # levels of arrays and objects; the deepest body any route takes has 3


class BadJSON(ValueError):
    """The body is not JSON the routes take; the message says why."""


def parse_json(raw: bytes | str) -> Any:
    """The JSON value in `raw`; BadJSON when it is not JSON or nested too deeply."""
    try:
        value = json.loads(raw)
    except RecursionError:
        raise BadJSON("the body is nested too deeply") from None
    except ValueError:  # bad JSON or UTF-8, or a number too long to convert
        raise BadJSON("the body must be JSON") from None
    if _depth(value) > MAX_DEPTH:
        raise BadJSON("the body is nested too deeply")
    return value


def _depth(value: Any) -> int:
    """How deeply arrays and objects nest in `value` (iteratively: no recursion limit)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            if level > MAX_DEPTH:
                break
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)
    return deepest


async def read_json(request: web.Request) -> Any:
    """The request's JSON body; BadJSON as parse_json."""
    return parse_json(await request.read())
