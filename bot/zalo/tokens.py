"""The OA token pair: load, refresh early, rotate safely.

Zalo's refresh token is single-use (shared/reference/zalo-api.md §5): every refresh returns a new
pair and kills the old refresh token, so the new pair is saved before anything uses it, and
refreshes are single-flight across processes: under the store's `exclusive()` lock (a PostgreSQL
advisory lock) the stored pair is read again, and when another process has already replaced the
stale token that pair is used and Zalo is not called. Two refreshes with one refresh token would
make one fail and could leave the OA with no valid pair. A stored pair wins over the one from the
environment. Token values never appear in logs, errors or state().
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import httpx

from bot.core.clock import Clock
from bot.zalo.errors import ZaloAuthError, ZaloError, ZaloHTTPError, error_code, parse_body

log = logging.getLogger(__name__)

REFRESH_MARGIN = timedelta(hours=2)
# After a failed refresh, wait this long before trying again early (a forced refresh still runs).
REFRESH_RETRY = timedelta(minutes=5)
NO_TOKEN = -216


@dataclass(frozen=True)
class TokenPair:
    """An access token, the refresh token that replaces it, and when the access token dies."""

    access_token: str
    refresh_token: str
    expires_at: datetime | None  # UTC-aware; None when unknown


class TokenStore(Protocol):
    async def load(self) -> TokenPair | None:
        """The saved pair, or None."""
        ...

    async def save(self, pair: TokenPair) -> None:
        """Persist `pair` durably before returning."""
        ...

    def exclusive(self) -> AbstractAsyncContextManager[None]:
        """A lock held by at most one refresh at a time, across every process on the store."""
        ...


class TokenManager:
    """Hands out a valid access token and refreshes it through Zalo OAuth v4."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        oauth_base: str,
        app_id: str,
        app_secret: str,
        store: TokenStore,
        clock: Clock,
        initial: TokenPair | None = None,
    ) -> None:
        self._http = http
        self._url = oauth_base.rstrip("/") + "/v4/oa/access_token"
        self._app_id = app_id
        self._app_secret = app_secret
        self._store = store
        self._clock = clock
        self._initial = initial
        self._pair: TokenPair | None = None
        self._loaded = False
        self._lock = asyncio.Lock()
        self._last_error: str | None = None
        self._retry_at: datetime | None = None

    async def load(self) -> TokenPair | None:
        """Load the stored pair once, seeding the store from `initial` when it is empty."""
        if not self._loaded:
            async with self._lock:
                if not self._loaded:
                    async with self._store.exclusive():  # never seed over a rotated pair
                        self._pair = await self._load_or_seed()
                    self._loaded = True
        return self._pair

    async def access_token(self) -> str:
        """A usable access token, refreshed first when it expires within REFRESH_MARGIN."""
        pair = await self.load()
        if pair is None or not (pair.access_token or pair.refresh_token):
            raise ZaloAuthError(NO_TOKEN, "no Zalo OA token configured or stored")
        if not pair.access_token:
            return await self.refresh(stale=pair.access_token)
        if self._expiring(pair) and not self._cooling_down():
            return await self._early_refresh(pair)
        return pair.access_token

    async def refresh(self, stale: str | None = None) -> str:
        """Replace the `stale` access token (None forces a call); single-flight, saved first."""
        await self.load()
        async with self._lock, self._store.exclusive():
            stored = await self._store.load()
            if stored is not None:
                self._pair = stored
            pair = self._pair
            if stale is not None and pair is not None and pair.access_token != stale:
                return pair.access_token  # someone (maybe another process) already refreshed
            if pair is None or not pair.refresh_token:
                raise self._failed(ZaloAuthError(NO_TOKEN, "no refresh token to refresh with"))
            new = await self._call_oauth(pair.refresh_token)
            await self._save(new)
            self._pair, self._last_error, self._retry_at = new, None, None
            log.info("Zalo access token refreshed; expires at %s", _iso(new.expires_at))
            return new.access_token

    async def refresh_if_expiring(self) -> bool:
        """Refresh when the token expires within REFRESH_MARGIN (for a periodic job)."""
        pair = await self.load()
        if pair is None or not pair.refresh_token:
            return False
        if pair.access_token and not self._expiring(pair):
            return False
        await self.refresh(stale=pair.access_token)
        return True

    def can_refresh(self) -> bool:
        """Whether a refresh token is at hand (the connection doctor; never refreshes)."""
        pair = self._pair if self._loaded else self._initial
        return bool(pair and pair.refresh_token)

    def state(self) -> dict[str, Any]:
        """Token health for an endpoint: status, expiry, last refresh error; never the tokens."""
        pair = self._pair if self._loaded else self._initial
        return {
            "token": self._status(pair),
            "expires_at": _iso(pair.expires_at) if pair else None,
            "last_refresh_error": self._last_error,
        }

    async def _load_or_seed(self) -> TokenPair | None:
        stored = await self._store.load()
        if stored is not None:
            return stored
        if self._initial is not None and (
            self._initial.access_token or self._initial.refresh_token
        ):
            await self._store.save(self._initial)
            log.info("Stored the Zalo token pair from the environment")
            return self._initial
        return None

    async def _save(self, new: TokenPair) -> None:
        try:
            await self._store.save(new)
        except Exception as exc:
            # The old refresh token is already dead: an operator has to look at this.
            self._last_error = f"refreshed but could not save the new pair: {type(exc).__name__}"
            log.critical("Zalo token refreshed but not saved (%s)", type(exc).__name__)
            raise

    async def _early_refresh(self, pair: TokenPair) -> str:
        try:
            return await self.refresh(stale=pair.access_token)
        except ZaloError:
            if pair.expires_at is not None and pair.expires_at <= self._clock.now():
                raise
            log.warning("Early token refresh failed; using the current token until it expires")
            return pair.access_token

    async def _call_oauth(self, refresh_token: str) -> TokenPair:
        form = {
            "app_id": self._app_id,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
        }
        try:
            response = await self._http.post(
                self._url, data=form, headers={"secret_key": self._app_secret}
            )
        except httpx.RequestError as exc:
            raise self._failed(ZaloHTTPError(None, f"token refresh: {type(exc).__name__}")) from exc
        try:
            body = parse_body(response)
        except ZaloHTTPError as exc:
            raise self._failed(exc) from None
        return self._pair_from(body, refresh_token)

    def _pair_from(self, body: dict[str, Any], old_refresh: str) -> TokenPair:
        code = error_code(body)
        access = body.get("access_token")
        if code != 0 or not isinstance(access, str) or not access:
            reason = (
                body.get("error_description")
                or body.get("error_name")
                or body.get("message")
                or "no access_token in the response"
            )
            raise self._failed(ZaloAuthError(code or NO_TOKEN, str(reason)))
        refresh = body.get("refresh_token")
        return TokenPair(
            access_token=access,
            refresh_token=refresh if isinstance(refresh, str) and refresh else old_refresh,
            expires_at=self._expiry(body.get("expires_in")),
        )

    def _expiry(self, expires_in: Any) -> datetime | None:
        try:
            seconds = int(expires_in)
        except (TypeError, ValueError):
            return None
        return self._clock.now() + timedelta(seconds=seconds)

    def _failed(self, exc: ZaloError) -> ZaloError:
        self._last_error = f"{type(exc).__name__}: {exc}"
        self._retry_at = self._clock.now() + REFRESH_RETRY
        log.error("Zalo token refresh failed: %s", self._last_error)
        return exc

    def _expiring(self, pair: TokenPair) -> bool:
        return pair.expires_at is not None and pair.expires_at - self._clock.now() <= REFRESH_MARGIN

    def _cooling_down(self) -> bool:
        return self._retry_at is not None and self._clock.now() < self._retry_at

    def _status(self, pair: TokenPair | None) -> str:
        if pair is None or not (pair.access_token or pair.refresh_token):
            return "missing"
        if pair.expires_at is None:
            return "unknown_expiry"
        left = pair.expires_at - self._clock.now()
        if left <= timedelta(0):
            return "expired"
        return "expiring" if left <= REFRESH_MARGIN else "valid"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
