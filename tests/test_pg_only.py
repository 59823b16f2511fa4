"""Checks that only mean something on PostgreSQL (TEST_DATABASE_URL=postgresql://...)."""

from __future__ import annotations

import pytest

from storage import repo
from storage.models import ScheduledRun
from tests.conftest import ON_POSTGRESQL, START

pytestmark = pytest.mark.skipif(not ON_POSTGRESQL, reason="TEST_DATABASE_URL is not PostgreSQL")


async def test_each_test_gets_its_own_postgresql_database(sessions, database_url):
    assert database_url.startswith("postgresql://")
    async with sessions() as db:
        assert db.bind.dialect.name == "postgresql"
        assert (await db.exec(ScheduledRun.__table__.select())).all() == []  # type: ignore[call-overload]


async def test_insert_once_tells_whether_it_inserted(sessions):
    # The ORM adds RETURNING on PostgreSQL and reports rowcount -1 for both: insert_once must not
    # rely on it, or a redelivered event would be processed twice.
    claimed = []
    for _ in range(2):
        async with sessions() as db:
            claimed.append(
                await repo.insert_once(
                    db,
                    ScheduledRun,
                    unique=["job", "period"],
                    job="j",
                    period="p",
                    claimed_at=START,
                )
            )
            await db.commit()
    assert claimed == [True, False]
