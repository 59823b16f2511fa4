"""Dashboard helpers: a session for a staff member, the sign-in form's token, a password."""

from __future__ import annotations

import re
from collections import defaultdict
from html.parser import HTMLParser
from typing import Any

from bot.features.staff import passwords
from bot.web import core
from storage import repo


def sign_in(bot, user_id):
    """Put a valid session cookie for `user_id` in the test client's jar."""
    cookie = core.make_session_cookie(bot.runtime, user_id, bot.clock.now())
    bot.client.session.cookie_jar.update_cookies(
        {core.COOKIE: cookie}, response_url=bot.client.make_url("/")
    )


def form_token(html: str) -> str:
    return re.search(r'name="form_token" value="([^"]+)"', html).group(1)


async def give_password(bot, user_id, username="quantri", password="mat-khau-dai"):
    async with bot.runtime.sessions() as db:
        await repo.set_staff_password(
            db,
            user_id=user_id,
            username=username,
            password_hash=passwords.hash_password(password),
            now=bot.clock.now(),
        )
        await db.commit()


class Html(HTMLParser):
    """Just enough of the page: elements with their attributes and the ids around them."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.stack: list[dict[str, Any]] = []
        self.elements: list[dict[str, Any]] = []
        self.texts: dict[str, list[str]] = defaultdict(list)
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = self._record(tag, attrs)
        if tag not in VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._record(tag, attrs)

    def _record(self, tag: str, attrs: list[tuple[str, str | None]]) -> dict[str, Any]:
        inside = {e["attrs"]["id"] for e in self.stack if e["attrs"].get("id")}
        element = {"tag": tag, "attrs": dict(attrs), "inside": inside}
        self.elements.append(element)
        return element

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i]["tag"] == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        for element in self.stack:
            if element["attrs"].get("id"):
                self.texts[element["attrs"]["id"]].append(data)

    def text(self, element_id: str) -> str:
        return " ".join("".join(self.texts[element_id]).split())

    def values(self, within: str, attr: str) -> list[str]:
        """The `attr` values of the elements inside #within that have it."""
        return [
            e["attrs"][attr] for e in self.elements if within in e["inside"] and attr in e["attrs"]
        ]

    def find(self, within: str, **attrs: str) -> list[dict[str, str | None]]:
        wanted = {k.replace("_", "-"): v for k, v in attrs.items()}
        return [
            e["attrs"]
            for e in self.elements
            if within in e["inside"] and all(e["attrs"].get(k) == v for k, v in wanted.items())
        ]

    def has(self, element_id: str) -> bool:
        return any(e["attrs"].get("id") == element_id for e in self.elements)


VOID = frozenset({"input", "br", "img", "meta", "link", "hr"})
