"""Every text the bot sends comes from a template in bot/templates/<locale>/<name>.j2.

Mentions are the only markup Zalo reads in a group text (`[@user_id]`). Templates insert them
with the `mention` filter; every other value is escaped on output, so a customer's name or a
note can never mention anybody, let alone the whole group.
"""

from __future__ import annotations

import tomllib
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"  # bot/templates
LOCALES = ("vi", "en")


class Mention(str):
    """A Zalo mention marker produced by the `mention` filter: rendered as is."""


# What `mention` writes, as a regular expression whose group is the user id (ids fit 64
# characters): the dashboard and the simulator turn each one back into '@Name'.
MENTION_MARKER = r"\[@([^\]\s]{1,64})\]"


def mention(user_id: str | None) -> Mention | str:
    return Mention(f"[@{user_id}]") if user_id else ""


def escape_mentions(text: str) -> str:
    """Break every '[@' so user-supplied text cannot mention anyone."""
    return text.replace("[@", "[ @")


MAX_QUOTE = 300  # characters of one value a message shows: a 20,000-character /ghichu note
# is stored whole, but its confirmation quotes the start of it, never 100 messages of it


def quote(text: str, limit: int = MAX_QUOTE) -> str:
    """`text` cut to `limit` characters, with "…" when it was longer."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _finalize(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, Mention):
        return value
    return escape_mentions(quote(str(value)))


def vnd(amount: int | None) -> str:
    """50000000 -> '50.000.000 ₫'."""
    return "" if amount is None else f"{amount:,}".replace(",", ".") + " ₫"


class Renderer:
    """Renders message templates in a locale, with times shown in the company's time zone."""

    def __init__(self, tz: ZoneInfo, default_locale: str = "vi") -> None:
        self.tz = tz
        self.default_locale = default_locale
        self._envs = {loc: self._env(loc) for loc in LOCALES}

    def _env(self, locale: str) -> Environment:
        env = Environment(
            loader=FileSystemLoader([TEMPLATES / locale, TEMPLATES / "shared"]),
            undefined=StrictUndefined,
            finalize=_finalize,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        env.filters.update(mention=mention, vnd=vnd, dt=self.format_datetime, d=self.format_date)
        env.globals.update(labels=labels(locale), mention=mention)
        return env

    def render(self, template: str, locale: str | None = None, /, **context: Any) -> str:
        """The text of `template` (its name without .j2) in `locale`."""
        env = self._envs[locale or self.default_locale]
        return env.get_template(f"{template}.j2").render(**context).strip()

    def format_datetime(self, value: datetime | None) -> str:
        return "" if value is None else value.astimezone(self.tz).strftime("%H:%M %d/%m/%Y")

    @staticmethod
    def format_date(value: date | None) -> str:
        return "" if value is None else value.strftime("%d/%m/%Y")

    def template_names(self) -> list[str]:
        return sorted(p.stem for p in (TEMPLATES / "vi").glob("*.j2"))


@cache
def labels(locale: str) -> dict[str, Any]:
    """Display words from every templates/<locale>/*.toml (labels.toml, then one per feature)."""
    merged: dict[str, Any] = {}
    for path in sorted((TEMPLATES / locale).glob("*.toml"), key=lambda p: p.name != "labels.toml"):
        with open(path, "rb") as fh:
            _merge(merged, tomllib.load(fh))
    return merged


def _merge(into: dict[str, Any], new: dict[str, Any]) -> None:
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value
