"""The one outbound Zalo OA client: one method per endpoint, one error tree.

Shapes follow shared/reference/zalo-api.md §4: the token goes in an `access_token` header, every
HTTP 200 body carries `error` (0 = success), ids stay strings. An expired token (-216/-220) is
refreshed once and the call retried once. The client never splits text: the outbox does.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import httpx

from bot.zalo.errors import (
    ZaloAPIError,
    ZaloAuthError,
    ZaloHTTPError,
    api_error,
    error_code,
    parse_body,
)

if TYPE_CHECKING:
    from bot.zalo.tokens import TokenManager

log = logging.getLogger(__name__)

MAX_TEXT = 2000
MEMBERS_PAGE = 50


def _check_text(text: str) -> None:
    if not text:
        raise ValueError("text is empty")
    if len(text) > MAX_TEXT:
        raise ValueError(f"text is {len(text)} characters; Zalo takes at most {MAX_TEXT}")


def _string_ids(member: dict[str, Any]) -> dict[str, Any]:
    return {
        k: str(v) if k in ("user_id", "oa_id") and v is not None else v for k, v in member.items()
    }


class ZaloClient:
    """Zalo OA OpenAPI over an injected httpx.AsyncClient (which it never creates or closes)."""

    def __init__(self, http: httpx.AsyncClient, api_base: str, tokens: TokenManager) -> None:
        self._http = http
        self._api_base = api_base.rstrip("/")
        self._tokens = tokens

    async def send_group_text(
        self, group_id: str, text: str, quote_msg_id: str | None = None
    ) -> str:
        """Send `text` to a GMF group; returns Zalo's message_id.

        Never with `quote_message_id`: Zalo's group message API does not document it, and a
        refusal would cost a second call per quoted reply. `quote_msg_id` is accepted and
        dropped (the outbox keeps it, for the record)."""
        del quote_msg_id
        recipient = {"group_id": str(group_id)}
        return await self._send("/v3.0/oa/group/message", recipient, text, None)

    async def send_user_text(self, user_id: str, text: str, quote_msg_id: str | None = None) -> str:
        """Send a consultation (CS) message to one user; returns Zalo's message_id."""
        recipient = {"user_id": str(user_id)}
        return await self._send("/v3.0/oa/message/cs", recipient, text, quote_msg_id)

    async def invite(self, group_id: str, user_ids: list[str]) -> dict[str, Any]:
        """Invite users into a GMF group; returns the response data."""
        body = {"group_id": str(group_id), "member_user_ids": [str(u) for u in user_ids]}
        return await self._call("POST", "/v3.0/oa/group/invite", json=body)

    async def get_group(self, group_id: str) -> dict[str, Any]:
        """Group info (group_info, asset_info, group_setting) as Zalo returns it."""
        params = {"group_id": str(group_id)}
        return await self._call("GET", "/v3.0/oa/group/getgroup", params=params)

    async def probe(
        self, method: str, path: str, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """One call with the stored access token as it is: no refresh (the connection doctor
        asks whether the token works, and must not rotate the pair under the service)."""
        pair = await self._tokens.load()
        if pair is None or not pair.access_token:
            raise ZaloAuthError(-216, "no access token stored or configured")
        return await self._request(method, path, pair.access_token, json=None, params=params)

    async def list_members(self, group_id: str) -> list[dict[str, Any]]:
        """Every member of a group, following offset/count pages until `total` or an empty page."""
        members: list[dict[str, Any]] = []
        while True:
            params = {"group_id": str(group_id), "offset": len(members), "count": MEMBERS_PAGE}
            data = await self._call("GET", "/v3.0/oa/group/listmember", params=params)
            page = data.get("members") or []
            members.extend(_string_ids(m) for m in page)
            total = data.get("total")
            if not page or (total is None and len(page) < MEMBERS_PAGE):
                return members
            if total is not None and len(members) >= int(total):
                return members

    async def _send(
        self, path: str, recipient: dict[str, str], text: str, quote: str | None
    ) -> str:
        _check_text(text)
        try:
            return await self._send_once(path, recipient, text, quote)
        except ZaloAPIError as exc:
            # Zalo rejects unknown or too-old quote ids; Chatwoot resends without the quote.
            if quote is None or isinstance(exc, ZaloAuthError) or exc.retryable:
                raise
            log.warning("Zalo refused %s with a quote (code %s); resending without", path, exc.code)
            return await self._send_once(path, recipient, text, None)

    async def _send_once(
        self, path: str, recipient: dict[str, str], text: str, quote: str | None
    ) -> str:
        message: dict[str, str] = {"text": text}
        if quote is not None:
            message["quote_message_id"] = str(quote)
        data = await self._call("POST", path, json={"recipient": recipient, "message": message})
        message_id = data.get("message_id")
        if message_id is None:
            # Sent (error 0) but no id: raising would make the outbox send it twice.
            log.warning("Zalo accepted %s but returned no message_id", path)
            return ""
        return str(message_id)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        token = await self._tokens.access_token()
        try:
            return await self._request(method, path, token, json=json, params=params)
        except ZaloAuthError as exc:
            log.info("Zalo refused the access token on %s (code %s); refreshing", path, exc.code)
            fresh = await self._tokens.refresh(stale=token)
            return await self._request(method, path, fresh, json=json, params=params)

    async def _request(
        self,
        method: str,
        path: str,
        token: str,
        *,
        json: dict[str, Any] | None,
        params: dict[str, Any] | None,
    ) -> dict[str, Any]:
        try:
            response = await self._http.request(
                method,
                self._api_base + path,
                json=json,
                params=params,
                headers={"access_token": token},
            )
        except httpx.RequestError as exc:
            raise ZaloHTTPError(None, f"{method} {path}: {type(exc).__name__}") from exc
        body = parse_body(response)
        code = error_code(body)
        if code != 0:
            raise api_error(code, str(body.get("message") or "unknown error"))
        data = body.get("data")
        return data if isinstance(data, dict) else {}
