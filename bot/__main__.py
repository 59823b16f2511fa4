"""`python -m bot <command> [arguments]`: the programs that come with the service.

    python -m bot doctor                      is the Zalo connection right? (exit 0 / 1)
    python -m bot demo [--days …]             a month of demo activity in the database
    python -m bot say "/huongdan"             send a signed test event to the local service
    python -m bot passwd <user_id> …          a dashboard username and password
    python -m bot inbox list | retry <id>     events set aside as failed
    python -m bot quarantine status | recheck webhook events whose signature failed

Each is a module of bot/tools/ with a `main(argv)`; `-h` after the command shows its options.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

TOOLS = ("doctor", "demo", "say", "passwd", "inbox", "quarantine")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in TOOLS:
        print(__doc__, file=sys.stderr)
        return 2
    tool = importlib.import_module(f"bot.tools.{args[0]}")
    sys.argv = [f"python -m bot {args[0]}", *args[1:]]
    result = tool.main(args[1:])
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    raise SystemExit(main())
