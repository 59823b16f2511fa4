"""`python -m bot doctor`: the connection checklist (bot/features/connection/checks.py) on the
console, after applying the migrations; exit 0 when every required check passes, 1 otherwise."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence

from bot.features.connection.checks import examine, report


async def _main() -> int:
    from dotenv import load_dotenv

    from bot.app.runtime import build_runtime
    from bot.core.clock import SystemClock
    from config.settings import load_settings
    from storage.db import upgrade

    load_dotenv()
    settings = load_settings()
    await asyncio.to_thread(upgrade, settings.database_url)  # a fresh database works too
    runtime = build_runtime(settings, clock=SystemClock(), http=None)
    try:
        if runtime.tokens:
            await runtime.tokens.load()
        found = await examine(runtime)
    finally:
        await runtime.http.aclose()
        await runtime.engine.dispose()
    print(report(found, settings.locale))
    return 0 if all(line.ok for line in found if line.required) else 1


def main(argv: Sequence[str] | None = None) -> int:
    del argv
    return asyncio.run(_main())


if __name__ == "__main__":
    sys.exit(main())
