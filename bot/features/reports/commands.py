"""/report (/baocao) [day|week|month]: the management digest of the period, for the heads.

* `ngay`/`day` (the default) is today, `tuan`/`week` the ISO week (Monday-Sunday), `thang`/
  `month` the calendar month, all in the company's time zone and up to now.
* Works 1:1 and in groups. Asked in a customer's group, the answer goes 1:1 to the head: the
  figures of the whole team never go into a customer's group. In the internal alert group it
  is answered there.
"""

from __future__ import annotations

from bot.core.audience import is_customer_group
from bot.core.commands import HEADS, UsageError, command
from bot.core.context import Context
from bot.core.intents import Intent, SendUser
from bot.core.text import fold
from bot.features.reports import queries as reports

WORDS = {
    "day": "day",
    "ngay": "day",
    "homnay": "day",
    "today": "day",
    "week": "week",
    "tuan": "week",
    "month": "month",
    "thang": "month",
}


def parse_report(raw: str) -> str:
    word = fold(raw).replace(" ", "").replace("_", "")
    if not word:
        return "day"
    if word not in WORDS:
        raise UsageError("report_bad_period", value=raw.strip())
    return WORDS[word]


@command("report", aliases=("baocao",), parse=parse_report, roles=HEADS, group_only=False)
async def report(ctx: Context, period: str) -> list[Intent]:
    """The digest of the period, 1:1 when asked in a customer's group."""
    context = await reports.digest_context(ctx.db, period, ctx.now, ctx.settings.tz)
    if is_customer_group(ctx.settings, ctx.event.group_id):
        return [SendUser(ctx.sender_id, "report_digest", context)]
    return [ctx.reply("report_digest", **context)]
