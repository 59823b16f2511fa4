"""/log: record a call, visit, email or chat with the customer and how it went."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.commands import UsageError, command
from bot.core.context import Context
from bot.core.intents import Intent
from bot.core.text import fold
from storage import repo
from storage.models import Interaction

KINDS = {
    "call": "call",
    "goi": "call",
    "goidien": "call",
    "dienthoai": "call",
    "visit": "visit",
    "gap": "visit",
    "tham": "visit",
    "gapmat": "visit",
    "email": "email",
    "mail": "email",
    "chat": "chat",
    "nhan": "chat",
    "nhantin": "chat",
    "zalo": "chat",
    "tinnhan": "chat",
}
FEEDBACK = {
    "positive": "positive",
    "tichcuc": "positive",
    "tot": "positive",
    "hailong": "positive",
    "neutral": "neutral",
    "binhthuong": "neutral",
    "trungbinh": "neutral",
    "negative": "negative",
    "tieucuc": "negative",
    "khonghailong": "negative",
    "complaint": "complaint",
    "khieunai": "complaint",
    "no_answer": "no_answer",
    "noanswer": "no_answer",
    "khongnghe": "no_answer",
    "khongnghemay": "no_answer",
    "khonglienlac": "no_answer",
}


@dataclass(frozen=True)
class LogArgs:
    kind: str
    feedback: str | None
    note: str


def _word(token: str) -> str:
    return fold(token).replace("_", "").replace("-", "")


def parse_log(raw: str) -> LogArgs:
    tokens = raw.split()
    if not tokens:
        raise UsageError("log_missing")
    kind = KINDS.get(_word(tokens[0]))
    if kind is None:
        raise UsageError("log_bad_kind", kind=tokens[0])
    feedback = FEEDBACK.get(_word(tokens[1])) if len(tokens) > 1 else None
    note = " ".join(tokens[2:] if feedback else tokens[1:]).strip()
    if not note:
        raise UsageError("log_no_note")
    return LogArgs(kind=kind, feedback=feedback, note=note)


@command(
    "log",
    aliases=("ghichu", "nhatky"),
    parse=parse_log,
    roles=frozenset({"sales", "sales_head", "admin", "accountant", "chief_accountant"}),
)
async def log(ctx: Context, args: LogArgs) -> list[Intent]:
    """Store the interaction against the group's customer."""
    assert ctx.group is not None
    await repo.add_interaction(
        ctx.db,
        interaction=Interaction(
            group_id=ctx.group.group_id,
            customer_id=ctx.group.customer_id,
            staff_id=ctx.sender_id,
            kind=args.kind,
            feedback=args.feedback,
            note=args.note,
            at=ctx.now,
        ),
    )
    return [ctx.reply("log_saved", kind=args.kind, feedback=args.feedback, note=args.note)]
