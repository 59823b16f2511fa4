"""Zalo's errors, in their own module so the client and the token manager both use them without
importing each other: one tree (ZaloHTTPError, ZaloAPIError(code), ZaloAuthError) and the
reading of Zalo's JSON answers into it."""

from __future__ import annotations

from typing import Any

import httpx

AUTH_CODES = frozenset({-216, -220})
RETRYABLE_CODES = frozenset({-32, -100})


class ZaloError(Exception):
    """Anything that went wrong talking to Zalo."""

    retryable: bool = False


class ZaloHTTPError(ZaloError):
    """The HTTP exchange failed: network error or timeout (status None), non-2xx, or bad JSON."""

    def __init__(self, status: int | None, message: str, *, retryable: bool | None = None) -> None:
        super().__init__(f"HTTP {status if status is not None else 'error'}: {message}")
        self.status = status
        if retryable is None:
            retryable = status is None or status >= 500 or status == 429
        self.retryable = retryable


class ZaloAPIError(ZaloError):
    """Zalo answered with `error != 0` in the body."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"Zalo error {code}: {message}")
        self.code = code
        self.message = message
        self.retryable = code in RETRYABLE_CODES


class ZaloAuthError(ZaloAPIError):
    """The token is missing, invalid or expired, or the OAuth refresh was refused."""


def is_permanent(exc: BaseException) -> bool:
    """True when retrying `exc` later cannot help (anything that is not a retryable ZaloError)."""
    return not getattr(exc, "retryable", False)


def api_error(code: int, message: str) -> ZaloAPIError:
    """The right ZaloAPIError subclass for a body error code."""
    cls = ZaloAuthError if code in AUTH_CODES else ZaloAPIError
    return cls(code, message)


def parse_body(response: httpx.Response) -> dict[str, Any]:
    """The JSON object of a 2xx response; ZaloHTTPError for non-2xx or a body that is not JSON."""
    if not response.is_success:
        raise ZaloHTTPError(response.status_code, response.reason_phrase or "request failed")
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ZaloHTTPError(response.status_code, "response is not a JSON object", retryable=True)
    return body


def error_code(body: dict[str, Any]) -> int:
    """The body's `error` as an int (0 when absent); a non-numeric value counts as -1."""
    raw = body.get("error", 0)
    try:
        return int(raw or 0)
    except (TypeError, ValueError):
        return -1
