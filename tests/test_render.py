"""Templates: every one renders in both languages; user text can never mention anybody."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.render import LOCALES, TEMPLATES, Renderer, escape_mentions, labels, vnd

renderer = Renderer(ZoneInfo("Asia/Ho_Chi_Minh"))


T = datetime(2026, 11, 23, 7, 30, tzinfo=UTC)

SAMPLES = {
    "usage": {"user_id": "1", "command": "log", "typed": "ghichu", "reason": "thiếu"},
    "unknown_command": {"user_id": "1", "typed": "abc", "word": "abc", "suggestion": "log"},
    "denied": {
        "user_id": "1",
        "command": "staff",
        "typed": "nv",
        "roles": ["admin"],
        "role": "sales",
    },
    "group_only": {"command": "customer", "typed": "kh"},
    "command_failed": {"user_id": "1", "command": "log", "typed": "log"},
    "help": {"role": "sales", "commands": [], "detail": None},
    "whoami": {
        "name": "A",
        "role": "sales",
        "zalo_id": "1",
        "group": None,
        "customer": None,
        "sales_name": None,
    },
    "customer_profile": {
        "customer": {"name": "ABC"},
        "profile": {"phone": "09"},
        "created": True,
        "changed": True,
        "sales_name": "A",
    },
    "customer_none": {},
    "customer_taken": {"user_id": "1", "sales_name": "A"},
    "log_saved": {"kind": "call", "feedback": "positive", "note": "n"},
    "history": {"items": [], "names": {}},
    "staff_list": {"staff": []},
    "staff_saved": {"staff_id": "1", "name": "A", "role": "sales"},
    "staff_removed": {"staff_id": "1", "removed": True},
    "staff_reloaded": {"error": None, "added": 1, "updated": 0, "removed": 0},
    "invite_failed": {
        "target_kind": "invite",
        "target_id": "g",
        "reason": "r",
        "code": -213,
        "excerpt": "",
        "user_ids": ["1"],
    },
    "sla_reminder": {
        "customer": "ABC",
        "group_id": "g",
        "opened_at": datetime(2026, 11, 23, 2, tzinfo=UTC),
        "deadline": datetime(2026, 11, 23, 2, 15, tzinfo=UTC),
        "waited_minutes": 10,
        "text": "t",
    },
    "sla_breach": {
        "heads": ["3"],
        "customer": "ABC",
        "group_id": "g",
        "opened_at": datetime(2026, 11, 23, 2, tzinfo=UTC),
        "deadline": datetime(2026, 11, 23, 2, 15, tzinfo=UTC),
        "owner": "An",
        "text": "t",
    },
    "sla_escalation": {
        "heads": ["3"],
        "customer": None,
        "group_id": "g",
        "waited_minutes": 30,
        "owner": None,
        "text": "t",
    },
    "sla_warning": {"heads": ["3"], "owner": "An", "owner_id": "1", "breaches": 3, "days": 30},
    "sla_status": {
        "limit": 15,
        "own_limit": False,
        "hours": "mon-fri",
        "own_hours": False,
        "clock": None,
        "breaches": 0,
    },
    "sla_changed": {"what": "sla = 30m"},
    "stage_refused": {"user_id": "1", "reason": "same_stage", "current": "won"},
    "stage_changed": {
        "before": "new",
        "after": "won",
        "reason": None,
        "invited": [{"user_id": "4", "name": "Dung", "role": "accountant"}],
    },
    "staff_joined": {"people": [{"user_id": "4", "name": "Dung", "role": "accountant"}]},
    "handover_refused": {"user_id": "1", "reason": "unknown_staff", "ref": "x"},
    "handover_summary": {
        "customer": "ABC",
        "customer_row": None,
        "stage": "won",
        "payments": [],
        "incidents": [],
        "interactions": [],
        "old_name": "An",
        "new_name": "Bình",
    },
    "handover_intro": {"new_id": "2", "new_name": "Bình", "old_name": "An"},
    "handover_followup": {"customer": "ABC", "group_id": "g", "new_name": "Bình"},
    "incident_opened": {
        "user_id": "1",
        "id": 7,
        "type": "wrong_item",
        "description": "Giao nhầm vị",
        "attachments": 2,
        "departments": ["warehouse"],
        "deadline": T,
        "mentions": ["6"],
        "absent": ["Võ Thị Giang"],
    },
    "incident_notice": {
        "id": 7,
        "type": "damaged",
        "description": "Vỡ 3 thùng",
        "attachments": 1,
        "departments": ["warehouse"],
        "deadline": T,
        "group_name": "Công ty Minh Phát",
        "opener_name": "Nguyễn Văn An",
    },
    "incident_progress": {"id": 7, "type": "late_delivery", "note": "Đang liên hệ nhà xe"},
    "incident_resolved": {"id": 7, "type": "payment", "note": "Đã đối soát"},
    "incident_list": {
        "incidents": [
            {
                "id": 7,
                "type": "complaint",
                "status": "open",
                "description": "d",
                "opened_at": T,
                "deadline": T,
                "overdue": True,
            }
        ]
    },
    "incident_not_found": {"user_id": "1", "id": 7},
    "incident_already_resolved": {"user_id": "1", "id": 7, "resolved_at": T},
    "incident_detected": {
        "types": ["wrong_item", "complaint"],
        "departments": ["warehouse", "sales_head"],
        "recipients": ["6", "3"],
        "text": "t",
        "group_name": "Minh Phát",
        "group_id": "g",
        "in_group": True,
    },
    "incident_breach": {
        "id": 7,
        "type": "damaged",
        "status": "open",
        "description": "d",
        "departments": ["warehouse"],
        "group_name": "Minh Phát",
        "opened_at": T,
        "deadline": T,
        "in_group": True,
        "heads": ["3"],
    },
    "incident_escalation": {
        "id": 7,
        "type": "damaged",
        "status": "in_progress",
        "description": "d",
        "departments": ["warehouse"],
        "group_name": "Minh Phát",
        "opened_at": T,
        "deadline": T,
        "in_group": False,
        "heads": ["3"],
    },
    "policy_promise": {
        "promise": "credit",
        "text": "Em cho anh nợ 30 ngày nhé",
        "sales_id": "1",
        "sales_name": "Nguyễn Văn An",
        "group_id": "g",
        "group_name": "Công ty Minh Phát",
        "in_group": True,
        "heads": ["3"],
    },
    "payment_request": {
        "payment": {
            "id": 7,
            "kind": "payment",
            "amount": 50000000,
            "method": "transfer",
            "days": None,
            "due": None,
            "note": "cọc",
            "needs_chief": False,
            "requested_by": "1",
        },
        "accountants": ["4"],
        "chiefs": [],
        "threshold": 100000000,
    },
    "payment_waiting_chief": {
        "payment": {
            "id": 7,
            "kind": "payment",
            "amount": 150000000,
            "accountant_id": "4",
            "accountant_at": None,
        },
        "names": {"4": "Dung"},
        "chiefs": ["5"],
    },
    "payment_approved": {
        "payment": {
            "id": 7,
            "kind": "payment",
            "amount": 50000000,
            "needs_chief": False,
            "accountant_id": "4",
            "accountant_at": None,
            "chief_id": None,
            "chief_at": None,
            "decided_by": "4",
            "decided_at": None,
            "requested_by": "1",
        },
        "names": {"4": "Dung"},
    },
    "payment_rejected": {
        "payment": {
            "id": 7,
            "kind": "payment",
            "amount": 50000000,
            "decided_by": "4",
            "decided_at": None,
            "reject_reason": "sai số tiền",
            "requested_by": "1",
        },
        "names": {},
    },
    "payment_refused": {
        "user_id": "1",
        "reason": "not_accounting",
        "payment_id": 7,
        "payment": None,
        "names": {},
    },
    "payment_blocked": {
        "user_id": "1",
        "command": "ship",
        "amount": None,
        "approved_total": 0,
        "pending": [{"id": 7, "kind": "payment", "amount": 50000000}],
    },
    "payment_alert": {
        "kind": "self_confirm_attempt",
        "severity": "serious",
        "staff_name": "An",
        "role": "sales",
        "group_label": "Minh Phát",
        "payment": {"id": 7, "kind": "payment", "amount": 50000000},
        "command": None,
        "amount": None,
        "text": "ok",
        "heads": ["3"],
    },
    "payment_list": {"payments": [], "total": 0, "names": {}},
    "payment_order_ok": {
        "command": "ship",
        "amount": None,
        "note": None,
        "approved_total": 50000000,
        "user_id": "1",
    },
    "rating_request": {
        "reason": "incident",
        "incident_id": 3,
        "incident_type": "wrong_item",
        "order_code": None,
    },
    "rating_thanks": {"score": 5},
    "rating_low": {
        "heads": ["1"],
        "score": 1,
        "reason": "incident",
        "ref_id": 3,
        "customer": "ABC",
        "group_id": "g",
        "staff": "A",
        "text": "1",
    },
    "order_created": {
        "order_code": "CHAT-F414C8-1",
        "customer_name": "Minh Phát",
        "items": [
            {
                "code": "LOC-PP5",
                "name": "Lõi lọc PP",
                "quantity": 2,
                "amount": None,
                "care_date": date(2027, 5, 22),
            },
            {
                "code": "NG-36",
                "name": "Nước giặt",
                "quantity": 3,
                "amount": 450000,
                "care_date": date(2027, 2, 21),
            },
        ],
        "amount": 1200000,
        "next_care_date": date(2027, 2, 21),
    },
    "order_list": {
        "orders": [
            {
                "order_code": "CHAT-F414C8-1",
                "purchased_at": T,
                "amount": 1200000,
                "status": "open",
                "care_closed": False,
                "next_care_date": date(2027, 2, 21),
                "lines": ["LOC-PP5 x2", "NG-36 x3"],
            },
        ],
        "total": 3,
        "next_care_date": date(2027, 2, 21),
    },
    "care_saved": {
        "order_code": "DH001",
        "content": "Khách dùng tốt",
        "feedback": "positive",
        "ended": False,
        "care_count": 1,
        "care_min": 2,
        "care_max": 4,
        "next_care_date": date(2026, 12, 30),
        "next_state": "set",
    },
    "care_assignments": {
        "assigned": {"staff": "An", "product_group": "Tim mạch", "customer": None},
        "assignments": [
            {"staff": "An", "product_group": "Tim mạch", "customer": None},
            {"staff": "Bình", "product_group": None, "customer": "Minh Phát"},
        ],
        "mode": "by_product",
    },
    "care_due": {
        "today": date(2026, 11, 23),
        "today_count": 1,
        "overdue_count": 1,
        "sections": [
            {
                "status": "never",
                "groups": [
                    {
                        "product_group": "Tim mạch",
                        "region": "HCM",
                        "orders": [
                            {
                                "order_code": "DH001",
                                "customer": "Minh Phát",
                                "next_care_date": date(2026, 11, 20),
                                "overdue_days": 3,
                                "care_count": 0,
                                "care_min": 2,
                                "care_max": 4,
                            }
                        ],
                    }
                ],
            },
            {
                "status": "cared",
                "groups": [
                    {
                        "product_group": None,
                        "region": None,
                        "orders": [
                            {
                                "order_code": "DH002",
                                "customer": None,
                                "next_care_date": date(2026, 11, 23),
                                "overdue_days": 0,
                                "care_count": 1,
                                "care_min": None,
                                "care_max": None,
                            }
                        ],
                    }
                ],
            },
        ],
    },
    "care_gift": {
        "today": date(2027, 1, 28),
        "days_ahead": 7,
        "plans": [
            {
                "kind": "birthday",
                "on": date(2027, 2, 4),
                "name": "Minh Phát",
                "years": None,
                "until": None,
                "customers": [],
            },
            {
                "kind": "founding",
                "on": date(2027, 2, 4),
                "name": "Hưng Thịnh",
                "years": 10,
                "until": None,
                "customers": [],
            },
            {
                "kind": "holiday",
                "on": date(2027, 2, 4),
                "name": "Tết Nguyên Đán",
                "years": None,
                "until": date(2027, 2, 10),
                "customers": ["Minh Phát", "Hưng Thịnh"],
            },
        ],
    },
    "report_digest": {
        "period": "week",
        "first": date(2026, 11, 23),
        "last": date(2026, 11, 29),
        "sla": [
            {
                "staff_id": "1",
                "staff_name": "An",
                "clocks": 2,
                "in_time": 1,
                "compliance_pct": 50.0,
                "median_response_min": 6.5,
                "breaches": 1,
            }
        ],
        "payments": [],
        "incidents": [{"type": "damaged", "opened": 1, "resolved": 0}],
        "care": [{"staff_id": "1", "staff_name": "An", "done": 3, "due_waiting": 1, "overdue": 0}],
        "satisfaction": [
            {"staff_id": None, "staff_name": "", "index": None, "ratings": 0, "feedbacks": 0}
        ],
        "totals": {
            "sla": {"compliance_pct": 50.0, "median_response_min": 6.5, "breaches": 1},
            "payments": {
                "requested": 1,
                "requested_amount": 5000000,
                "approved": 1,
                "approved_amount": 5000000,
                "rejected": 0,
                "rejected_amount": 0,
                "median_approval_min": 12.0,
            },
            "incidents": {"opened": 1, "resolved": 0, "breaches": 0, "median_resolution_min": None},
            "care": None,
            "satisfaction": None,
        },
    },
    "delivery_failed": {
        "target_kind": "group",
        "target_id": "g",
        "reason": "r",
        "code": -201,
        "excerpt": "e",
    },
}


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("name", renderer.template_names())
def test_every_template_renders_in_every_language(locale, name):
    assert (TEMPLATES / locale / f"{name}.j2").exists(), f"{locale}/{name}.j2 is missing"
    assert name in SAMPLES, f"add a sample context for {name}"
    assert renderer.render(name, locale, **SAMPLES[name]).strip()


@pytest.mark.parametrize("locale", LOCALES)
def test_labels_cover_every_command(locale):
    import bot.handlers  # noqa: F401
    from bot.commands import REGISTRY

    for name in REGISTRY:
        entry = labels(locale)["commands"][name]
        assert entry["summary"] and entry["usage"] and entry["examples"]


def test_user_values_cannot_mention_but_the_mention_filter_can():
    text = renderer.render(
        "usage", "vi", user_id="42", command="log", typed="log", reason="[@f414c8f76fa586fbdfb4] hi"
    )
    assert text.startswith("[@42]")
    assert "[@f414c8f76fa586fbdfb4]" not in text and "[ @f414c8f76fa586fbdfb4]" in text


@pytest.mark.parametrize(
    ("raw", "safe"), [("[@123]", "[ @123]"), ("a[@b][@c]", "a[ @b][ @c]"), ("plain", "plain")]
)
def test_escape_mentions(raw, safe):
    assert escape_mentions(raw) == safe


def test_amounts_and_times_are_shown_the_vietnamese_way():
    assert vnd(50_000_000) == "50.000.000 ₫"
    assert renderer.format_datetime(datetime(2026, 11, 23, 7, 30, tzinfo=UTC)) == "14:30 23/11/2026"
    assert renderer.format_date(date(2026, 11, 30)) == "30/11/2026"
