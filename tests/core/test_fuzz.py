"""Fuzzing (hypothesis): the webhook's parser and view, the command router, amounts and dates.

Each property says what any input may produce; anything else (a stray exception, a 500) is a
bug. Example counts are kept small for CI: the suite runs twice, on SQLite and on PostgreSQL.
Hypothesis keeps no example database here (`database=None`); its other caches in .hypothesis/
are git-ignored. Under CI (CI set) the examples are derandomised, so a run is repeatable.
"""

from __future__ import annotations

import json
import os
import string
from datetime import date
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import select

import bot.app.registry  # noqa: F401  (registers the commands)
from bot.core.commands import REGISTRY, UsageError, lookup, split_command, suggest
from bot.core.render import vnd
from bot.core.textparse import (
    MAX_AMOUNT,
    ParseError,
    find_amount,
    parse_amount,
    parse_date,
    parse_time,
    parse_when,
)
from bot.zalo.events import (
    EventError,
    ZaloEvent,
    dedupe_key,
    load_body,
    parse_event,
    verify_signature,
)
from storage.models import CommandRun, InboxEvent
from tests.conftest import START
from tests.support import ACCOUNTANT, CUSTOMER, GROUP, HEAD, SALES, Bot

IN_CI = bool(os.environ.get("CI"))  # CI replays the same examples; a developer's run explores
PURE = settings(max_examples=120, deadline=None, database=None, derandomize=IN_CI)
# The app fixtures live for the whole test, shared by its examples: that is the intent here.
VIEW = settings(
    max_examples=40,
    deadline=None,
    database=None,
    derandomize=IN_CI,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# ---------------------------------------------------------------- strategies

# Text as JSON can carry it: NUL, control characters and lone surrogates included.
odd_text = st.text(
    st.characters() | st.sampled_from(["\x00", "\ud800", "\udfff", "\n", "\u200b"]), max_size=30
)
json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | odd_text
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=12,
)
ids = st.one_of(
    st.text(max_size=300),
    odd_text,
    st.integers(),
    st.none(),
    st.just(""),
    st.sampled_from([SALES, GROUP]),
)
event_names = st.one_of(
    st.sampled_from(
        [
            "user_send_group_text",
            "user_send_group_image",
            "oa_send_group_text",
            "user_send_text",
            "oa_send_text",
            "user_join_group",
            "user_out_group",
            "create_group",
            "follow",
            "unfollow",
            "user_seen_message",
        ]
    ),
    st.text(max_size=120),
    odd_text,
)
timestamps = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.integers(min_value=0, max_value=10**25),
    st.text(alphabet=string.digits, min_size=1, max_size=40),
    st.sampled_from([str(int(START.timestamp() * 1000)), "٣٤٥", "1e3", "", " 12"]),
    json_values,
)


@st.composite
def zalo_shaped(draw: st.DrawFn) -> dict[str, Any]:
    """Bodies that look like Zalo's, with any field missing, mistyped or strange."""
    body: dict[str, Any] = {}
    if draw(st.booleans()):
        body["event_name"] = draw(event_names)
    if draw(st.booleans()):
        body["timestamp"] = draw(timestamps)
    for key in ("sender", "recipient", "follower", "user", "group"):
        if draw(st.booleans()):
            body[key] = draw(st.fixed_dictionaries({"id": ids}) | json_values)
    for key in ("group_id", "member_user_ids", "user_ids", "members"):
        if draw(st.integers(0, 3)) == 0:
            body[key] = draw(json_values | st.lists(ids, max_size=3))
    if draw(st.booleans()):
        message = draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "msg_id": ids,
                    "text": st.text(max_size=200) | odd_text | json_values,
                    "quote_msg_id": ids,
                    "attachments": st.lists(
                        st.fixed_dictionaries(
                            {}, optional={"type": json_values, "payload": json_values}
                        )
                        | json_values,
                        max_size=3,
                    )
                    | json_values,
                },
            )
        )
        body["message"] = message if draw(st.integers(0, 5)) else draw(json_values)
    return body


def as_json(value: Any) -> bytes:
    """UTF-8 JSON; with a lone surrogate, which UTF-8 cannot hold, ASCII JSON with escapes."""
    try:
        return json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value).encode("ascii")


raw_bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(as_json),
    zalo_shaped().map(as_json),
    st.integers(1, 5000).map(lambda n: b"[" * n),  # deep nesting
    st.integers(4300, 6000).map(lambda n: b'{"timestamp": ' + b"9" * n + b"}"),  # huge int
)

# ---------------------------------------------------------------- webhook parser


@PURE
@given(raw=raw_bodies)
def test_any_body_parses_to_an_event_or_an_event_error(raw: bytes) -> None:
    try:
        event = parse_event(load_body(raw))
    except EventError:
        return
    assert isinstance(event, ZaloEvent)
    assert event.timestamp.isdecimal()
    assert event.at.tzinfo is not None  # a usable moment, not an overflow waiting to happen


@PURE
@given(body=zalo_shaped())
def test_any_zalo_shaped_body_parses_or_names_what_is_wrong(body: dict[str, Any]) -> None:
    try:
        event = parse_event(body)
    except EventError as exc:
        assert str(exc)
        return
    assert event.name == body["event_name"]
    assert all(isinstance(a.payload, dict) for a in event.attachments)


@PURE
@given(body=zalo_shaped(), raw=st.binary(max_size=50))
def test_the_dedupe_key_fits_its_column_and_is_stable(body: dict[str, Any], raw: bytes) -> None:
    key = dedupe_key(body, raw)
    assert 0 < len(key) <= 200 and "\x00" not in key
    assert key == dedupe_key(body, raw)


@PURE
@given(
    header=st.none() | st.text(max_size=80),
    app_id=st.text(max_size=20),
    raw=st.binary(max_size=100),
    timestamp=st.text(max_size=20),
    secret=st.text(max_size=20),
)
def test_a_signature_check_only_ever_says_yes_or_no(
    header: str | None, app_id: str, raw: bytes, timestamp: str, secret: str
) -> None:
    assert verify_signature(header, app_id, raw, timestamp, secret) in (True, False)


# ---------------------------------------------------------------- the webhook view

NEVER = {500, 502, 503, 504}


@st.composite
def posts(draw: st.DrawFn) -> tuple[bytes, bool]:
    """A raw body and whether to sign it (a body that is no JSON object is never signed)."""
    return draw(raw_bodies), draw(st.booleans())


async def _post(bot: Bot, raw: bytes, sign: bool) -> int:
    headers = {"Content-Type": "application/json"}
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        body = None
    if sign and isinstance(body, dict):
        raw, headers = _signed_as_is(bot, raw, body)
    response = await bot.client.post("/zalo/webhook", data=raw, headers=headers)
    return response.status


def _signed_as_is(bot: Bot, raw: bytes, body: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """Sign the exact bytes (not a re-serialisation) with the body's own timestamp."""
    from bot.zalo.events import expected_signature

    settings_ = bot.settings
    stamp = str(body.get("timestamp", ""))
    signature = expected_signature(settings_.signing_app_id, raw, stamp, settings_.signing_secret)
    return raw, {"X-ZEvent-Signature": signature, "Content-Type": "application/json"}


@VIEW
@given(post=posts())
async def test_the_webhook_never_answers_a_server_error_in_local_mode(
    bot: Bot, post: tuple[bytes, bool]
) -> None:
    assert await _post(bot, *post) not in NEVER


@VIEW
@given(post=posts())
async def test_the_webhook_never_answers_a_server_error_with_the_replay_window_on(
    live_bot: Bot, post: tuple[bytes, bool]
) -> None:
    assert await _post(live_bot, *post) not in NEVER


@VIEW
@given(body=zalo_shaped())
async def test_a_stored_event_is_processed_or_marked_invalid_never_failed(
    bot: Bot, body: dict[str, Any]
) -> None:
    raw, headers = _signed_as_is(bot, as_json(body), body)
    response = await bot.client.post("/zalo/webhook", data=raw, headers=headers)
    assert response.status not in NEVER
    await bot.runtime.drain()
    async with bot.runtime.sessions() as db:
        rows = (await db.exec(select(InboxEvent.status, InboxEvent.error))).all()
    assert {status for status, _ in rows} <= {"done", "invalid"}, rows


# ---------------------------------------------------------------- commands

command_texts = st.one_of(
    st.text(max_size=120),
    st.builds(
        lambda word, gap, args: f"/{word}{gap}{args}",
        st.sampled_from(sorted({w for s in REGISTRY.values() for w in (s.name, *s.aliases)}))
        | st.text(min_size=1, max_size=12),
        st.sampled_from([" ", "  ", "\n", "\t", "\u00a0"]),
        st.text(max_size=120),
    ),
)


# Numbers of any length with the units commands take: "/sla 99999999999999h" raised an
# OverflowError and "/lichsu <4,400 digits>" a ValueError before every argument had bounds.
number_args = st.builds(
    lambda digits, unit, more: f"{digits}{unit}{more}",
    st.text("0123456789", min_size=1, max_size=5000),
    st.sampled_from(["", "h", "m", "s", "tr", "k", " ngay", "/11", ":30", "d", "%", "x"]),
    st.sampled_from(["", " 1", " ghi chú", " 30/11", " " + "9" * 30]),
)
command_words = st.sampled_from(
    sorted({w for s in REGISTRY.values() for w in (s.name, *s.aliases)})
)


@PURE
@given(name=st.sampled_from(sorted(REGISTRY)), args=number_args)
def test_every_command_parser_bounds_its_numbers(name: str, args: str) -> None:
    try:
        REGISTRY[name].parse(args)
    except UsageError as exc:
        assert str(exc)


@VIEW
@given(word=command_words, args=number_args)
async def test_any_number_typed_to_any_command_gets_an_answer_never_a_failure(
    bot: Bot, word: str, args: str
) -> None:
    await bot.say(f"/{word} {args}", sender=HEAD)
    async with bot.runtime.sessions() as db:
        runs = (await db.exec(select(CommandRun.outcome))).all()
        statuses = set((await db.exec(select(InboxEvent.status))).all())
    assert statuses == {"done"} and "error" not in runs


@PURE
@given(text=st.none() | command_texts)
def test_any_text_is_a_command_or_not_never_a_crash(text: str | None) -> None:
    invocation = split_command(text)
    if invocation is None:
        return
    assert invocation.word and not invocation.word[0].isspace()
    spec = lookup(invocation.word)
    if spec is None:
        suggestion = suggest(invocation.word)
        assert suggestion is None or suggestion in REGISTRY


@PURE
@given(name=st.sampled_from(sorted(REGISTRY)), args=command_texts)
def test_every_command_parser_gives_args_or_a_usage_error(name: str, args: str) -> None:
    try:
        REGISTRY[name].parse(args)
    except UsageError as exc:
        assert str(exc)


@VIEW
@given(text=command_texts, sender=st.sampled_from([SALES, HEAD, CUSTOMER]))
async def test_any_group_message_is_processed_never_failed(
    bot: Bot, text: str, sender: str
) -> None:
    await bot.say(text, sender=sender)
    async with bot.runtime.sessions() as db:
        rows = (await db.exec(select(InboxEvent.status, InboxEvent.error))).all()
    assert {status for status, _ in rows} == {"done"}, rows


# Numbers and text past what the tables hold: a usage reply, never a failed command (on
# PostgreSQL such values used to fail in the database and get "something went wrong").
EDGE_COMMANDS = [
    (ACCOUNTANT, "/duyet 99999999999"),
    (ACCOUNTANT, "/tuchoi 99999999999 sai số"),
    (HEAD, "/xuly 99999999999 xong"),
    (HEAD, "/dangxuly 999999999999"),
    (HEAD, "/thanhtoan 999999999999999999999tr"),
    (HEAD, "/xacnhan 99999999999999999999999tr"),
    (HEAD, "/khachhang " + "x" * 201),
    (HEAD, "/khachhang sdt=" + "1" * 41),
    (HEAD, "/khachhang khuvuc=" + "k" * 101),
    (HEAD, "/nhanvien them " + "9" * 65 + " sales Tên"),
    (HEAD, "/nhanvien them 1000000000000000009 sales " + "t" * 201),
    (HEAD, "/phancong 1000000000000000002 " + "g" * 101),
    (HEAD, "/sla 99999999999999h"),
    (HEAD, "/sla " + "9" * 5000 + "m"),
    (HEAD, "/lichsu " + "4" * 4400),
]


async def test_commands_past_what_the_tables_hold_get_a_usage_reply(bot: Bot) -> None:
    for sender, text in EDGE_COMMANDS:
        await bot.say(text, sender=sender)
    async with bot.runtime.sessions() as db:
        runs = (await db.exec(select(CommandRun.text, CommandRun.outcome))).all()
        statuses = set((await db.exec(select(InboxEvent.status))).all())
    assert statuses == {"done"}
    assert [(text, outcome) for text, outcome in runs if outcome != "usage"] == []


# ---------------------------------------------------------------- amounts


@PURE
@given(text=st.text(max_size=40) | st.from_regex(r"[0-9., ]{1,24}\s?(k|tr|trieu|ty|tỷ|đ|vnd)?"))
def test_an_amount_is_a_positive_whole_number_or_a_parse_error(text: str) -> None:
    try:
        amount = parse_amount(text)
    except ParseError as exc:
        assert str(exc)
        return
    assert isinstance(amount, int) and 0 < amount <= MAX_AMOUNT


@PURE
@given(text=st.text(max_size=60))
def test_finding_an_amount_in_free_text_never_fails(text: str) -> None:
    found = find_amount(text)
    assert found is None or (found[0] > 0 and isinstance(found[1], str))


amounts = st.integers(
    min_value=1000, max_value=MAX_AMOUNT
)  # below 1.000 a bare number is no amount


@PURE
@given(amount=amounts)
def test_the_bots_own_amount_text_reads_back_as_the_same_number(amount: int) -> None:
    assert parse_amount(vnd(amount)) == amount  # what the bot shows can be typed back


@PURE
@given(amount=st.integers(min_value=1000, max_value=MAX_AMOUNT), sep=st.sampled_from([".", ","]))
def test_grouped_digits_read_back(amount: int, sep: str) -> None:
    assert parse_amount(f"{amount:,}".replace(",", sep)) == amount
    assert parse_amount(f"{amount:,}đ".replace(",", sep)) == amount


@PURE
@given(
    whole=st.integers(min_value=1, max_value=999),
    tenths=st.integers(min_value=0, max_value=9),
    unit=st.sampled_from([("k", 10**3), ("tr", 10**6), ("triệu", 10**6), ("tỷ", 10**9)]),
    comma=st.sampled_from([",", "."]),
)
def test_units_and_decimals_read_back(
    whole: int, tenths: int, unit: tuple[str, int], comma: str
) -> None:
    word, scale = unit
    assert parse_amount(f"{whole}{word}") == whole * scale
    if tenths:
        assert (
            parse_amount(f"{whole}{comma}{tenths} {word}") == whole * scale + tenths * scale // 10
        )


# ---------------------------------------------------------------- dates and times

todays = st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31))


@PURE
@given(text=st.text(max_size=30), today=todays)
def test_a_date_is_a_date_or_a_parse_error(text: str, today: date) -> None:
    try:
        assert isinstance(parse_date(text, today), date)
    except ParseError as exc:
        assert str(exc)


@PURE
@given(day=st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)), today=todays)
def test_written_dates_read_back(day: date, today: date) -> None:
    assert parse_date(f"{day.day}/{day.month}/{day.year}", today) == day
    assert parse_date(f"{day.day:02d}-{day.month:02d}-{day.year % 100:02d}", today) == day
    assert parse_date(day.isoformat(), today) == day


@PURE
@given(days=st.integers(min_value=0, max_value=999), today=todays)
def test_in_n_days_reads_back(days: int, today: date) -> None:
    assert (parse_date(f"{days} ngày nữa", today) - today).days == days


@PURE
@given(text=st.text(max_size=30))
def test_a_time_is_a_time_or_a_parse_error(text: str) -> None:
    try:
        parse_time(text)
    except ParseError as exc:
        assert str(exc)


@PURE
@given(hour=st.integers(0, 23), minute=st.integers(0, 59))
def test_written_times_read_back(hour: int, minute: int) -> None:
    assert parse_time(f"{hour}h{minute:02d}").strftime("%H:%M") == f"{hour:02d}:{minute:02d}"
    assert parse_time(f"{hour}:{minute:02d}").strftime("%H:%M") == f"{hour:02d}:{minute:02d}"


@PURE
@given(text=st.text(max_size=30), today=todays)
def test_a_date_and_time_is_a_moment_or_a_parse_error(text: str, today: date) -> None:
    from datetime import datetime, time

    now = datetime.combine(today, time(9, 0))
    try:
        parse_when(text, now)
    except ParseError as exc:
        assert str(exc)
