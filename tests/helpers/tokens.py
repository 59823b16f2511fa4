"""Zalo's OAuth endpoint faked: a refresh granted or refused."""

from __future__ import annotations

import httpx

OAUTH = "https://oauth.test"


TOKEN_URL = f"{OAUTH}/v4/oa/access_token"


def granted(expires_in: object = "90000") -> httpx.Response:
    body = {"access_token": "new-a", "refresh_token": "new-r", "expires_in": expires_in}
    return httpx.Response(200, json=body)


def refused() -> httpx.Response:
    body = {
        "error": -14020,
        "error_name": "Invalid refresh token",
        "error_description": "Refresh token has been used or expired",
    }
    return httpx.Response(200, json=body)
