"""The slash-command router: text -> (spec, typed args), with permissions per role. Pure.

A handler module declares its command with `@command(...)` on its handle function and gives a
`parse` function that turns the raw argument string into typed args or raises UsageError.
English names have Vietnamese aliases; both are matched without diacritics and case, so
/ghichu, /GhiChu and /ghi_chú all reach /log.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

from bot.core.reasons import Refusal
from bot.core.text import fold

if TYPE_CHECKING:
    from bot.core.context import Context
    from bot.core.intents import Intent

Handler = Callable[["Context", Any], Awaitable[list["Intent"]]]
Parser = Callable[[str], Any]

ALL_STAFF = frozenset(
    {"sales", "sales_head", "accountant", "chief_accountant", "warehouse", "shipping", "admin"}
)
HEADS = frozenset({"sales_head", "admin"})


class UsageError(Refusal):
    """The arguments do not fit; the reason says what is wrong (shown with the usage line)."""

    @classmethod
    def of(cls, refusal: Refusal) -> UsageError:
        """The same reason, refusing a command's arguments (a bad amount, date, duration…)."""
        return cls(refusal.code, **refusal.params)


@dataclass(frozen=True)
class CommandSpec:
    name: str
    aliases: tuple[str, ...]
    roles: frozenset[str]
    parse: Parser
    handle: Handler
    group_only: bool = True

    def allows(self, role: str | None) -> bool:
        return role in self.roles


@dataclass(frozen=True)
class Invocation:
    """A slash-command as typed: the word after '/', and the rest of the line."""

    word: str
    args: str


REGISTRY: dict[str, CommandSpec] = {}
_BY_KEY: dict[str, CommandSpec] = {}


def _key(word: str) -> str:
    return fold(word).replace("_", "").replace("-", "").replace(" ", "")


def command(
    name: str,
    *,
    aliases: tuple[str, ...] = (),
    roles: frozenset[str] = ALL_STAFF,
    parse: Parser | None = None,
    group_only: bool = True,
) -> Callable[[Handler], Handler]:
    """Register the decorated handler as /name (and its aliases)."""

    def register(handle: Handler) -> Handler:
        spec = CommandSpec(name, aliases, roles, parse or _no_args, handle, group_only)
        for word in (name, *aliases):
            if _key(word) in _BY_KEY:
                raise ValueError(f"command word /{word} registered twice")
            _BY_KEY[_key(word)] = spec
        REGISTRY[name] = spec
        return handle

    return register


MAX_RECORD = 2**31 - 1  # the largest row number the tables hold


def record_number(token: str, refusal: str) -> int:
    """'#12' or '12' -> 12, the number of a request or an incident; else UsageError with the
    reason code `refusal` (the token given as {token})."""
    digits = token.lstrip("#")
    if not digits.isdecimal() or len(digits) > 10 or not 0 < int(digits) <= MAX_RECORD:
        raise UsageError(refusal, token=token)
    return int(digits)


def within(value: str, limit: int, what: str) -> str:
    """`value` when it has at most `limit` characters; UsageError naming `what` else."""
    if len(value) > limit:
        raise UsageError("too_long", what_label=what, limit=limit)
    return value


def _no_args(raw: str) -> None:
    if raw.strip():
        raise UsageError("no_args")


def split_command(text: str | None) -> Invocation | None:
    """'/Ghi_chú call ok' -> Invocation('Ghi_chú', 'call ok'); None when not a command."""
    match = re.match(r"/(\S+)(.*)", (text or "").strip(), re.DOTALL)
    if match is None:
        return None
    return Invocation(word=match.group(1), args=match.group(2).strip())


def arrange(modules: Sequence[ModuleType]) -> None:
    """Put the registered commands in the order of their modules (the registry's order), which
    is the order /help lists them in, whatever order the modules were imported in."""
    rank = {module.__name__: i for i, module in enumerate(modules)}
    specs = sorted(REGISTRY.values(), key=lambda spec: rank.get(spec.handle.__module__, len(rank)))
    REGISTRY.clear()
    REGISTRY.update((spec.name, spec) for spec in specs)


def lookup(word: str) -> CommandSpec | None:
    return _BY_KEY.get(_key(word))


def suggest(word: str) -> str | None:
    """The registered command name closest to a mistyped word, if any is close."""
    matches = difflib.get_close_matches(_key(word), list(_BY_KEY), n=1, cutoff=0.6)
    return _BY_KEY[matches[0]].name if matches else None


def commands_for(role: str | None) -> list[CommandSpec]:
    """The commands `role` may run, in registration order."""
    return [spec for spec in REGISTRY.values() if spec.allows(role)]
