"""The Zalo token pair in the database: one `zalo_tokens` row per name ("oa").

`exclusive()` is the refresh lock every process on the database shares. On PostgreSQL it is a
transaction-scoped advisory lock (`pg_advisory_xact_lock` on a fixed key per token name), held on
its own connection: it is released when the block ends, and by the server if the process dies.
SQLite runs one process per file, so there it is an asyncio lock shared by every store of this
process on that file.
"""

from __future__ import annotations

import asyncio
import weakref
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from bot.core.clock import Clock
from bot.zalo.tokens import TokenPair
from storage.db import SessionFactory
from storage.models import ZaloToken

# One asyncio lock per SQLite file per event loop (a lock belongs to the loop it first waits on).
_PROCESS_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def advisory_key(name: str) -> int:
    """The fixed PostgreSQL advisory lock key of token `name` (fits a bigint)."""
    return zlib.crc32(f"zalo_tokens:{name}".encode())


def _process_lock(database: str) -> asyncio.Lock:
    locks = _PROCESS_LOCKS.setdefault(asyncio.get_running_loop(), {})
    return locks.setdefault(database, asyncio.Lock())


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

    @asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        """Hold the refresh lock shared by every process on this database for the block."""
        engine = self._sessions.kw["bind"]
        if engine.dialect.name != "postgresql":
            async with _process_lock(_file_key(engine.url.database)):
                yield
            return
        async with self._sessions() as db:
            lock = text("SELECT pg_advisory_xact_lock(:key)").bindparams(
                key=advisory_key(self._name)
            )
            await db.exec(lock)  # type: ignore[call-overload]
            yield
            await db.commit()  # ends the transaction: releases the lock

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


def _file_key(database: str | None) -> str:
    if not database or database == ":memory:":
        return database or ""
    return str(Path(database).resolve())
