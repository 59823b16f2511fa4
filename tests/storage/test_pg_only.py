"""Checks that only mean something on PostgreSQL (TEST_DATABASE_URL=postgresql://...)."""

from __future__ import annotations

import os

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


def test_processes_starting_together_on_a_new_database_all_migrate_it() -> None:
    """Each `python webhook.py` runs the migrations at start; they queue on an advisory lock."""
    import subprocess
    import sys

    from tests.conftest import ROOT, _pg_admin, _pg_url

    name = f"zb_migrate_{os.getpid()}"
    _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _pg_admin(f'CREATE DATABASE "{name}"')
    script = "import sys; from storage.db import upgrade; upgrade(sys.argv[1])"
    try:
        starts = [
            subprocess.Popen([sys.executable, "-c", script, _pg_url(name)], cwd=ROOT)
            for _ in range(3)
        ]
        assert [process.wait(timeout=120) for process in starts] == [0, 0, 0]
    finally:
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
