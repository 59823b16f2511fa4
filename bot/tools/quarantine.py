"""Webhook events whose signature failed (bot/zalo/quarantine.py), from the command line.

python -m bot quarantine status    what is kept, and the hint
python -m bot quarantine recheck   check every kept event with the current key
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Sequence
from datetime import UTC, datetime

from bot.zalo.quarantine import recheck, status
from config.settings import Settings


async def _run(database_url: str, settings: Settings, action: str) -> int:
    from storage.db import make_engine, make_sessions

    engine = make_engine(database_url)
    try:
        sessions = make_sessions(engine)
        now = datetime.now(UTC)
        if action == "recheck":
            done = await recheck(sessions, settings, now)
            print(
                f"{done.verified} now verify and were let in, {done.still_failing} still fail, "
                f"{done.expired} expired"
            )
            return 0
        async with sessions() as db:
            print(json.dumps(await status(db, now), ensure_ascii=False, indent=2))
        return 0
    finally:
        await engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    from dotenv import load_dotenv

    from config.settings import load_settings

    parser = argparse.ArgumentParser(prog="python -m bot quarantine", description=__doc__)
    parser.add_argument("action", choices=["status", "recheck"])
    args = parser.parse_args(argv)
    load_dotenv()
    settings = load_settings()
    return asyncio.run(_run(settings.database_url, settings, args.action))


if __name__ == "__main__":
    raise SystemExit(main())
