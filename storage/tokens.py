"""The Zalo token pair in the database: one `zalo_tokens` row per name ("oa")."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from bot.clock import Clock
from bot.tokens import TokenPair
from storage.db import SessionFactory
from storage.models import ZaloToken


class DbTokenStore:
    """A TokenStore on the ZaloToken table; `save` upserts and commits before returning."""

    def __init__(
        self, sessions: SessionFactory, clock: Clock | None = None, name: str = "oa"
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._name = name

    async def load(self) -> TokenPair | None:
        """The stored pair, or None when nothing was saved yet."""
        async with self._sessions() as db:
            row = (await db.exec(select(ZaloToken).where(ZaloToken.name == self._name))).first()
        if row is None:
            return None
        return TokenPair(row.access_token, row.refresh_token, row.expires_at)

    async def save(self, pair: TokenPair) -> None:
        """Insert or update the row and commit."""
        try:
            await self._upsert(pair)
        except IntegrityError:
            # Another process inserted the first row at the same moment: update it instead.
            await self._upsert(pair)

    async def _upsert(self, pair: TokenPair) -> None:
        async with self._sessions() as db:
            row = (await db.exec(select(ZaloToken).where(ZaloToken.name == self._name))).first()
            if row is None:
                row = ZaloToken(name=self._name, access_token="", refresh_token="")
            row.access_token = pair.access_token
            row.refresh_token = pair.refresh_token
            row.expires_at = pair.expires_at
            row.updated_at = self._now()
            db.add(row)
            await db.commit()

    def _now(self) -> datetime:
        return self._clock.now() if self._clock is not None else datetime.now(UTC)
