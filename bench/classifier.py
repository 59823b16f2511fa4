"""The request classifier on its corpus: how many requests start a clock, how many messages
that need no reply do not, and how long a verdict takes.

    .venv/bin/python bench/classifier.py [--database DATABASE_URL]

With --database, the heads' corrections in that database (/khongcan, /cantraloi: table
sla_corrections) are replayed as extra cases, labelled as the heads said.

The corpus is tests/corpus/customer_messages.tsv (each message also typed without diacritics);
the goal (issue #18): at least 97 % of requests start a clock and at least 90 % of the
no-reply messages do not. The figures go into the README ("Which messages start the clock").
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.features.sla.requests import classify  # noqa: E402
from tests.features.sla.test_requests import corpus  # noqa: E402


def corrections(url: str) -> list[tuple[bool, str]]:
    """(needs a reply, text) of every correction a head made in the database at `url`."""
    from sqlalchemy import create_engine, text

    from storage.db import sync_url

    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT needs_reply, text FROM sla_corrections WHERE text IS NOT NULL")
            )
            return [(bool(wanted), str(said)) for wanted, said in rows]
    finally:
        engine.dispose()


def main() -> None:
    cases = corpus()
    if "--database" in sys.argv:
        extra = corrections(sys.argv[sys.argv.index("--database") + 1])
        print(f"replaying {len(extra)} corrections from the database")
        cases += extra
    requests = [text for wanted, text in cases if wanted]
    others = [text for wanted, text in cases if not wanted]
    decide = classify.__wrapped__  # past the memo: each call does the work
    started = time.perf_counter()
    rounds = 20
    for _ in range(rounds):
        verdicts = [(wanted, decide(text).needs_reply) for wanted, text in cases]
    per_message = (time.perf_counter() - started) / (rounds * len(cases))
    caught = sum(1 for wanted, needs in verdicts if wanted and needs)
    quiet = sum(1 for wanted, needs in verdicts if not wanted and not needs)
    print(f"corpus: {len(requests)} requests, {len(others)} messages needing no reply")
    print(f"requests that start a clock:        {caught / len(requests):6.1%}  (goal ≥ 97 %)")
    print(f"no-reply messages that start none:  {quiet / len(others):6.1%}  (goal ≥ 90 %)")
    print(f"time per message:                   {per_message * 1e6:6.1f} µs")


if __name__ == "__main__":
    main()
