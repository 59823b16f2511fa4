"""Events set aside as failed (see bot/core/inbox.py): listing them, and retrying one after a fix.

    python -m bot inbox list          the failed events, newest first
    python -m bot inbox retry <id>    put one back in line; the running service processes it

The dashboard's overview shows the same list to admins, with a retry button.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

from bot.core.failed_events import failed_events, retry


async def _run(database_url: str, args: argparse.Namespace) -> int:
    from storage.db import make_engine, make_sessions

    engine = make_engine(database_url)
    try:
        async with make_sessions(engine)() as db:
            if args.action == "retry":
                ok = await retry(db, inbox_id=args.id, now=datetime.now(UTC), actor_id="cli")
                await db.commit()
                print(f"event {args.id}: " + ("back in line" if ok else "not a failed event"))
                return 0 if ok else 1
            for row in await failed_events(db):
                print(f"{row.id}\t{row.received_at:%Y-%m-%d %H:%M}\t{row.event_name}\t{row.error}")
            return 0
    finally:
        await engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    from dotenv import load_dotenv

    from config.settings import load_settings

    parser = argparse.ArgumentParser(prog="python -m bot inbox", description=__doc__)
    actions = parser.add_subparsers(dest="action", required=True)
    actions.add_parser("list", help="the failed events")
    again = actions.add_parser("retry", help="process a failed event again")
    again.add_argument("id", type=int, help="the event's number (inbox id)")
    args = parser.parse_args(argv)
    load_dotenv()
    return asyncio.run(_run(load_settings().database_url, args))
