"""The bench's traffic: realistic, pre-signed group-message events written to a file for wrk.

Each group goes round a four-step conversation, so SLA clocks open and close all the time:
a customer question (opens a clock), a follow-up (same clock), a staff answer (closes it) and a
customer "cảm ơn" (a pleasantry: no clock). The groups are at different steps at any moment,
as in life: not all 500 customers asking in the same second and all staff answering in the
next. Every 50th event is a staff command instead (/help or /whoami, answered into the group
through the outbox). Every event has its own msg_id.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.zalo.payloads import group_message, signed  # noqa: E402
from config.settings import LOCAL_APP_ID, LOCAL_OA_SECRET_KEY  # noqa: E402

STAFF = ("1000000000000000001", "1000000000000000002")  # sales in config/staff.csv
COMMANDS = ("/help", "/whoami")
COMMAND_EVERY = 50
GROUPS = 500


def customer_of(group: int) -> str:
    """One customer per group, none of them staff."""
    return f"20000000{group:011d}"


def conversation(i: int, groups: int = GROUPS) -> tuple[int, str, str]:
    """Event number i of the mix: (group number, sender id, text)."""
    group = i % groups
    if i % COMMAND_EVERY == COMMAND_EVERY - 1:
        return group, STAFF[group % 2], COMMANDS[(i // COMMAND_EVERY) % 2]
    step = (i // groups + group) % 4  # groups at different points, not all asking at once
    if step == 0:
        return group, customer_of(group), f"Chào shop, đơn hàng số {i} của mình giao chưa ạ?"
    if step == 1:
        return group, customer_of(group), "Shop kiểm tra giúp mình với, mình cần gấp trong tuần"
    if step == 2:
        return group, STAFF[group % 2], f"Dạ em kiểm tra rồi, đơn {i} giao ngày mai ạ"
    return group, customer_of(group), "cảm ơn shop"


def signed_lines(
    count: int, *, first: int = 0, groups: int = GROUPS, run: str | None = None
) -> Iterator[str]:
    """`count` events as "<signature>\\t<body>" lines, signed with the local-mode values."""
    run = run or uuid.uuid4().hex[:8]
    now = datetime.now(UTC)
    for i in range(first, first + count):
        group, sender, text = conversation(i, groups)
        body = group_message(
            group_id=f"bench-{run}-{group:04d}",
            sender_id=sender,
            text=text,
            at=now,
            app_id=LOCAL_APP_ID,
            msg_id=f"bench{run}{i:08d}",
        )
        raw, headers = signed(body, app_id=LOCAL_APP_ID, secret=LOCAL_OA_SECRET_KEY)
        yield headers["X-ZEvent-Signature"] + "\t" + raw.decode("utf-8")


def write_events(
    paths: list[Path],
    count: int,
    *,
    groups: int = GROUPS,
    first: int = 0,
    run: str | None = None,
) -> None:
    """Write `count` fresh events dealt round-robin over `paths` (one file per wrk instance);
    events of one `run` and consecutive `first` numbers continue the same conversations."""
    files = [path.open("w", encoding="utf-8") for path in paths]
    try:
        lines = signed_lines(count, first=first, groups=groups, run=run)
        for n, line in enumerate(lines):
            files[n % len(files)].write(line + "\n")
    finally:
        for file in files:
            file.close()
