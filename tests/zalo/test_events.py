"""Parsing Zalo webhook bodies: every family, routed by prefix; signature maths."""

from __future__ import annotations

import hashlib

import pytest

from bot.zalo.events import (
    EventError,
    Kind,
    classify,
    expected_signature,
    parse_event,
    verify_signature,
)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("user_send_group_text", Kind.GROUP_MESSAGE),
        ("user_send_group_image", Kind.GROUP_MESSAGE),
        ("user_send_group_sticker", Kind.GROUP_MESSAGE),
        ("user_send_group_location", Kind.GROUP_MESSAGE),
        ("oa_send_group_text", Kind.OA_GROUP_ECHO),
        ("oa_send_group_file", Kind.OA_GROUP_ECHO),
        ("user_send_text", Kind.USER_MESSAGE),
        ("user_send_image", Kind.USER_MESSAGE),
        ("anonymous_send_text", Kind.USER_MESSAGE),
        ("oa_send_text", Kind.OA_ECHO),
        ("create_group", Kind.GROUP_CREATED),
        ("user_join_group", Kind.MEMBER_JOINED),
        ("accept_request_join_group", Kind.MEMBER_JOINED),
        ("react_request_join_group_accept", Kind.MEMBER_JOINED),
        ("user_out_group", Kind.MEMBER_LEFT),
        ("user_leave_group", Kind.MEMBER_LEFT),
        ("disperse_group", Kind.GROUP_REMOVED),
        ("delete_group", Kind.GROUP_REMOVED),
        ("user_request_join_group", Kind.GROUP_OTHER),
        ("react_request_join_group", Kind.GROUP_OTHER),
        ("reject_request_join_group", Kind.GROUP_OTHER),
        ("add_group_admin", Kind.GROUP_OTHER),
        ("update_group_info", Kind.GROUP_OTHER),
        ("follow", Kind.FOLLOW),
        ("unfollow", Kind.UNFOLLOW),
        ("user_seen_message", Kind.OTHER),
        ("something_new_from_zalo", Kind.OTHER),
    ],
)
def test_event_names_are_routed_by_family(name, kind):
    assert classify(name) is kind


def test_group_message_fields():
    event = parse_event(
        {
            "event_name": "user_send_group_text",
            "app_id": "1",
            "oa_id": "9",
            "sender": {"id": "6142494823000000001"},
            "recipient": {"id": "f414c8f76fa586fbdfb4"},
            "message": {
                "text": "Chào",
                "msg_id": "cb31dff1c39642cc1b83",
                "quote_msg_id": "q1",
                "attachments": [{"type": "image", "payload": {"url": "u"}}],
            },
            "timestamp": "1699003881354",
        }
    )
    assert (event.group_id, event.sender_id, event.msg_id) == (
        "f414c8f76fa586fbdfb4",
        "6142494823000000001",
        "cb31dff1c39642cc1b83",
    )
    assert event.quote_msg_id == "q1" and event.attachments[0].type == "image"
    assert event.at.year == 2023 and event.timestamp == "1699003881354"


def test_follow_uses_the_follower():
    event = parse_event(
        {
            "oa_id": "388613280879808645",
            "follower": {"id": "24684588352919792"},
            "event_name": "follow",
            "app_id": "1",
            "timestamp": "154397978274",
        }
    )
    assert event.kind is Kind.FOLLOW and event.sender_id == "24684588352919792"


@pytest.mark.parametrize(
    ("body", "missing"),
    [
        ({"timestamp": "1"}, "event_name"),
        ({"event_name": "user_send_group_text"}, "timestamp"),
        (
            {
                "event_name": "user_send_group_text",
                "timestamp": "1",
                "sender": {"id": "u"},
                "recipient": {"id": "g"},
                "message": {},
            },
            "msg_id",
        ),
        (
            {
                "event_name": "user_send_group_text",
                "timestamp": "1",
                "recipient": {"id": "g"},
                "message": {"msg_id": "m"},
            },
            "sender",
        ),
        (
            {
                "event_name": "user_send_group_text",
                "timestamp": "1",
                "sender": {"id": "u"},
                "message": {"msg_id": "m"},
            },
            "recipient",
        ),
    ],
)
def test_a_missing_field_is_named(body, missing):
    with pytest.raises(EventError, match=missing):
        parse_event(body)


def test_signature_is_plain_sha256_of_app_body_timestamp_secret():
    raw = b'{"a":1}'
    wanted = "mac=" + hashlib.sha256(b"app" + raw + b"123" + b"secret").hexdigest()
    assert expected_signature("app", raw, "123", "secret") == wanted
    assert verify_signature(wanted, "app", raw, "123", "secret")
    assert not verify_signature(wanted, "app", raw, "124", "secret")
    assert not verify_signature(None, "app", raw, "123", "secret")
    assert not verify_signature("", "app", raw, "123", "secret")
