"""How the dashboard pages show stored values: display words, names, mentions, details."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web
from markupsafe import Markup, escape

from bot.core.render import MENTION_MARKER, labels
from bot.web.core import language, render
from bot.web.words import words
from storage.models import Staff

MENTION = re.compile(MENTION_MARKER)
DETAIL_LIMIT = 240


def labeler(request: web.Request) -> Callable[[str, str | None], str]:
    """label(section, code): the display word of a stored code (labels.toml), else the code."""
    words = labels(language(request))

    def label(section: str, code: str | None) -> str:
        if code is None:
            return ""
        found = words.get(section, {}).get(code)
        return found if isinstance(found, str) else code

    return label


def namer(staff: Mapping[str, Staff]) -> Callable[[str | None], str]:
    """who(user_id): the staff member's name, 'Bot' for the bot, else the id itself."""

    def who(user_id: str | None) -> str:
        if not user_id:
            return ""
        if user_id in ("bot", "oa"):
            return "Bot"
        person = staff.get(user_id)
        return person.name if person else user_id

    return who


def with_mentions(text: str | None, who: Callable[[str | None], str]) -> Markup:
    """The bot's text, escaped, with each Zalo mention marker `[@id]` shown as '@Name'."""
    out, last = [], 0
    for match in MENTION.finditer(text or ""):
        out.append(escape((text or "")[last : match.start()]))
        out.append(Markup('<span class="mention">@{}</span>').format(who(match.group(1))))
        last = match.end()
    out.append(escape((text or "")[last:]))
    return Markup("").join(out)


def compact(detail: Mapping[str, Any] | None) -> str:
    """An audit detail on one short line: 'key=value, …', cut at DETAIL_LIMIT characters."""
    parts = []
    for key, value in (detail or {}).items():
        if value is None or value == []:
            continue
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        parts.append(f"{key}={shown}")
    line = ", ".join(parts)
    return line if len(line) <= DETAIL_LIMIT else line[: DETAIL_LIMIT - 1] + "…"


def not_found(request: web.Request) -> web.Response:
    """The 404 page: a record that does not exist or that the viewer may not see."""
    return render(request, "_not_found.html", status=404, title=words("display_not_found"))


def page_number(request: web.Request) -> int:
    """?page=N as a number from 1 (anything else is page 1)."""
    raw = request.query.get("page", "1")
    return int(raw) if raw.isascii() and raw.isdigit() and 0 < len(raw) < 7 else 1
