"""Every reader of user text runs in time linear in its input (issue #15, the rating freeze).

One customer message of ~130 characters ("5" and " a em" 25 times) froze the whole process for
seconds: a regular expression with overlapping repetition backtracked exponentially. Each reader
that sees user input (ratings, amounts, dates, times, durations, commands and their arguments,
keywords, pleasantries, policy phrases, incident types, approval words) gets adversarial inputs
here: long repetitions of its own vocabulary, up to 10,000 characters, with and without a
failing tail that forces a backtracking engine to try everything. One call over 50 ms fails.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest

import bot.app.registry  # noqa: F401  (registers the commands)
from bot.core.commands import REGISTRY, UsageError, lookup, split_command, suggest
from bot.core.textparse import (
    ParseError,
    find_amount,
    parse_amount,
    parse_date,
    parse_time,
    parse_when,
)
from bot.core.worktime import WorktimeError, parse_duration, parse_working_hours
from bot.features.incidents import rule as incidents
from bot.features.payments import replies as payment_gate_replies
from bot.features.policy import rule as policy_guard
from bot.features.satisfaction import rule as satisfaction
from bot.features.sla import policy as sla
from bot.features.sla import requests

LIMIT_SECONDS = 0.05
LONGEST = 10_000
TODAY = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)

# The readers' own words and signs, as customers and staff type them.
VOCABULARY = [
    *("5", "5 ", " a em", " a", " em", "a em ", "nhe ", "da ", "vang ", "cho ", "diem ", "sao "),
    *("⭐", "*", "/5", "1", "1.", "1,", "1.000", "1tr", "tr", "k ", "ty ", "1tr5", "500k "),
    *("1h", "h", "m", "s", "30m", "1:", ":", "/", "-", "30/11", "thu ", "t2 ", "tuan sau "),
    *("ngay ", "mai ", "9h ", "sang ", "chieu ", "gio ", "ruoi ", "phut "),
    *("cho anh no ", "khong ", "ko ", "k ", "duyet ", "ok ", "dong y ", "tu choi ", "giup "),
    *("gia han ", "giam ", "ck ", "hang ", "hong ", "hỏng ", "vỡ ", "giao cham ", "chua "),
    *("?", ".", "!", "\n", " ", "  ", "#", "#1", "x", "sl", "1x", "x2 ", ",", ";", "%"),
    *("ghi chu ", "mon-fri ", "08:00-12:00", ", ", "; ", "t2-t6 ", "cam on ", "a ", "ạ "),
]
GLUE = [" ", " em", "1", "."]
FAILING_TAILS = ["", "x!"]


def _inputs() -> list[str]:
    found: list[str] = []
    for atom in VOCABULARY:
        for glue in ("", *GLUE):
            unit = atom + glue
            times = max(1, LONGEST // len(unit))
            for tail in FAILING_TAILS:
                found.append("5" + unit * min(times, 40) + tail)  # the probe's size
                found.append(unit * times + tail)
    return found


INPUTS = _inputs()


def _quiet(reader: Callable[[str], Any]) -> Callable[[str], Any]:
    """The reader with its refusals (what bad input is expected to get) swallowed."""

    def call(text: str) -> Any:
        try:
            return reader(text)
        except (ParseError, UsageError, WorktimeError):
            return None

    return call


def _plain(function: Any) -> Any:
    """Past any memo cache: each call must do the work."""
    return getattr(function, "__wrapped__", function)


READERS: dict[str, Callable[[str], Any]] = {
    "read_score": _plain(satisfaction.read_score),
    "find_score": satisfaction.find_score,
    "is_plain_digit": satisfaction.is_plain_digit,
    "parse_amount": _quiet(parse_amount),
    "find_amount": find_amount,
    "parse_date": _quiet(lambda text: parse_date(text, TODAY)),
    "parse_time": _quiet(parse_time),
    "parse_when": _quiet(lambda text: parse_when(text, NOW)),
    "parse_duration": _quiet(_plain(parse_duration)),
    "parse_working_hours": _quiet(parse_working_hours),
    "detect_all": _plain(incidents.detect_all),
    "promises": policy_guard.promises,
    "read_reply": payment_gate_replies.read_reply,
    "is_pleasantry": sla.is_pleasantry,
    "classify": _plain(requests.classify),
    "split_command": split_command,
    "lookup": lookup,
    "suggest": suggest,
    **{f"/{name}": _quiet(spec.parse) for name, spec in REGISTRY.items()},
}


def _timed(reader: Callable[[str], Any], text: str) -> float:
    started = time.perf_counter()
    reader(text)
    return time.perf_counter() - started


def _slowest(reader: Callable[[str], Any]) -> tuple[float, str]:
    """The slowest input and its time. A call over the limit is timed twice more and its
    best time kept: a busy machine's pause is not the reader's (a backtracking one is slow
    every time)."""
    worst, worst_text = 0.0, ""
    for text in INPUTS:
        spent = _timed(reader, text)
        if spent > LIMIT_SECONDS:
            spent = min(spent, _timed(reader, text), _timed(reader, text))
        if spent > worst:
            worst, worst_text = spent, text
    return worst, worst_text


@pytest.mark.parametrize("name", sorted(READERS))
def test_reader_is_linear_on_its_own_vocabulary(name: str) -> None:
    worst, text = _slowest(READERS[name])
    assert worst < LIMIT_SECONDS, f"{name} took {worst * 1000:.0f} ms on {text[:80]!r}…"


def test_the_probes_rating_message_is_read_at_once() -> None:
    probe = "5" + " a em" * 25
    started = time.perf_counter()
    assert satisfaction.read_score.__wrapped__(probe + " x") is None
    assert satisfaction.read_score.__wrapped__("5 a em") == 5
    assert time.perf_counter() - started < LIMIT_SECONDS


def test_a_rating_is_not_read_from_a_long_message() -> None:
    """A rating is a few words: longer text is chat, whatever it starts with."""
    assert satisfaction.read_score("5 sao nhe em") == 5
    assert satisfaction.read_score("5" + " a" * 60) is None


def test_every_command_is_covered() -> None:
    assert {f"/{name}" for name in REGISTRY} <= set(READERS)
