"""The slash-command router and every command's argument parser: pure, no database."""

from __future__ import annotations

import unicodedata
from datetime import date

import pytest

import bot.app.registry  # noqa: F401  (registers the commands)
from bot.core.commands import (
    ALL_STAFF,
    HEADS,
    REGISTRY,
    Invocation,
    UsageError,
    commands_for,
    lookup,
    split_command,
    suggest,
)
from bot.features.deals.customer import CustomerArgs, parse_customer
from bot.features.history.commands import DEFAULT_LINES, MAX_LINES, parse_history
from bot.features.satisfaction.interactions import LogArgs, parse_log
from bot.features.staff.basics import parse_help
from bot.features.staff.commands import StaffArgs, parse_staff

# ------------------------------------------------------------------ split_command


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/log x y", Invocation("log", "x y")),
        ("/Ghi_chú a", Invocation("Ghi_chú", "a")),
        ("  /help", Invocation("help", "")),
        ("/help   ", Invocation("help", "")),
        ("/whoami\n", Invocation("whoami", "")),
        ("/log   goi   ok", Invocation("log", "goi   ok")),
        ('/khachhang khuvuc="Hà Nội"', Invocation("khachhang", 'khuvuc="Hà Nội"')),
        # multi-line: the rest of the message, line breaks kept, is the argument text
        ("/log goi\nKhách hẹn\nmai gọi lại", Invocation("log", "goi\nKhách hẹn\nmai gọi lại")),
        ("/log\ngoi ok note", Invocation("log", "goi ok note")),
        ("/log\ngoi\nnote", Invocation("log", "goi\nnote")),
    ],
)
def test_split_command_takes_the_word_after_the_slash_and_the_rest(text, expected):
    assert split_command(text) == expected


@pytest.mark.parametrize(
    "text",
    [None, "", "   ", "/", " / ", "/ help", "/\nlog", "no slash", "hello /log goi x", "\\log"],
)
def test_split_command_says_none_when_the_text_is_not_a_command(text):
    assert split_command(text) is None


@pytest.mark.parametrize("gap", ["\t", "\u00a0", "\r\n"])
def test_split_command_accepts_any_whitespace_after_the_word(gap):
    assert split_command(f"/log{gap}goi ok") == Invocation("log", "goi ok")


# ------------------------------------------------------------------ lookup

LOOKUPS = [
    # help
    ("help", "help"), ("HELP", "help"), ("huongdan", "help"), ("HuongDan", "help"),
    ("hướng_dẫn", "help"), ("Hướng-Dẫn", "help"), ("trogiup", "help"), ("Trợ_giúp", "help"),
    # whoami
    ("whoami", "whoami"), ("WhoAmI", "whoami"), ("toilaai", "whoami"), ("Tôi_là_ai", "whoami"),
    ("TOILAAI", "whoami"),
    # customer
    ("customer", "customer"), ("khachhang", "customer"), ("KhachHang", "customer"),
    ("khách_hàng", "customer"), ("Khách-Hàng", "customer"), ("kh", "customer"), ("KH", "customer"),
    # log
    ("log", "log"), ("LOG", "log"), ("ghichu", "log"), ("GhiChu", "log"), ("ghi_chú", "log"),
    ("Ghi-Chú", "log"), ("GHI_CHÚ", "log"), ("nhatky", "log"), ("Nhật_ký", "log"),
    # history
    ("history", "history"), ("lichsu", "history"), ("LichSu", "history"), ("lịch_sử", "history"),
    ("Lịch-Sử", "history"),
    # staff
    ("staff", "staff"), ("nhanvien", "staff"), ("NhanVien", "staff"), ("nhân_viên", "staff"),
    ("NHÂN-VIÊN", "staff"), ("nv", "staff"), ("NV", "staff"),
]  # fmt: skip


@pytest.mark.parametrize(("word", "name"), LOOKUPS)
def test_lookup_matches_names_and_aliases_without_diacritics_or_case(word, name):
    spec = lookup(word)
    assert spec is not None, word
    assert spec.name == name


@pytest.mark.parametrize(
    ("word", "name"),
    [
        ("ghi_chú", "log"),
        ("Lịch_sử", "history"),
        ("Khách_hàng", "customer"),
        ("Tôi_là_ai", "whoami"),
    ],
)
def test_lookup_works_on_decomposed_unicode_as_phones_sometimes_send_it(word, name):
    decomposed = unicodedata.normalize("NFD", word)
    assert decomposed != word
    assert lookup(decomposed).name == name


def test_every_registered_name_and_alias_reaches_its_command():
    for spec in REGISTRY.values():
        for word in (spec.name, *spec.aliases):
            assert lookup(word) is spec, word
            assert lookup(word.upper()) is spec, word


BASE = ["help", "whoami", "customer", "history", "log", "staff"]


def _base(names):
    """Only the six basic commands (other modules register more)."""
    return [name for name in names if name in BASE]


def test_the_six_basic_commands_are_registered_in_order():
    assert _base(REGISTRY) == BASE


@pytest.mark.parametrize("word", ["ghichuu", "log2", "", "xyzzy", "lgo"])
def test_lookup_of_an_unknown_word_is_none(word):
    assert lookup(word) is None


# ------------------------------------------------------------------ suggest


@pytest.mark.parametrize(
    ("typo", "name"),
    [
        ("lgo", "log"), ("ghichuu", "log"), ("Ghi_chuu", "log"), ("khachang", "customer"),
        ("khach", "customer"), ("lichsuu", "history"), ("nhanvein", "staff"), ("hlep", "help"),
        ("huongdn", "help"), ("whoiam", "whoami"), ("stafff", "staff"),
    ],
)  # fmt: skip
def test_suggest_names_the_closest_command(typo, name):
    assert suggest(typo) == name


@pytest.mark.parametrize("word", ["xyz", "", "qwerty", "zzzzzz"])
def test_suggest_is_none_when_nothing_is_close(word):
    assert suggest(word) is None


# ------------------------------------------------------------------ roles

EVERYONE = ["help", "whoami", "history"]
SALES_SET = ["help", "whoami", "customer", "history", "log"]
HEAD_SET = ["help", "whoami", "customer", "history", "log", "staff"]
ACCOUNTING_SET = ["help", "whoami", "history", "log"]


@pytest.mark.parametrize(
    ("role", "names"),
    [
        ("sales", SALES_SET),
        ("sales_head", HEAD_SET),
        ("admin", HEAD_SET),
        ("accountant", ACCOUNTING_SET),
        ("chief_accountant", ACCOUNTING_SET),
        ("warehouse", EVERYONE),
        ("shipping", EVERYONE),
        (None, []),
        ("customer", []),
        ("boss", []),
    ],
)
def test_commands_for_lists_what_each_role_may_run_in_registration_order(role, names):
    assert _base(spec.name for spec in commands_for(role)) == names


def test_sales_cannot_see_staff_but_the_head_can():
    assert "staff" not in [s.name for s in commands_for("sales")]
    assert "staff" in [s.name for s in commands_for("sales_head")]


def test_warehouse_sees_help_whoami_history_but_not_customer_or_log():
    names = {s.name for s in commands_for("warehouse")}
    assert {"help", "whoami", "history"} <= names
    assert not {"customer", "log"} & names


@pytest.mark.parametrize(
    ("name", "roles", "group_only"),
    [
        ("help", ALL_STAFF, False),
        ("whoami", ALL_STAFF, False),
        ("customer", frozenset({"sales", "sales_head", "admin"}), True),
        ("history", ALL_STAFF, True),
        (
            "log",
            frozenset({"sales", "sales_head", "admin", "accountant", "chief_accountant"}),
            True,
        ),
        ("staff", HEADS, False),
    ],
)
def test_each_command_declares_its_roles_and_where_it_runs(name, roles, group_only):
    spec = REGISTRY[name]
    assert spec.roles == roles
    assert spec.group_only is group_only
    assert all(spec.allows(role) for role in roles)
    assert not spec.allows(None)


def test_commands_without_arguments_refuse_arguments():
    parse = REGISTRY["whoami"].parse
    assert parse("") is None
    assert parse("   ") is None
    with pytest.raises(UsageError):
        parse("x")


# ------------------------------------------------------------------ parse_help


@pytest.mark.parametrize(
    ("raw", "topic"),
    [
        ("", None),
        ("   ", None),
        ("ghichu", "ghichu"),
        ("/ghichu", "ghichu"),
        ("  log extra words", "log"),
        ("/GhiChu", "GhiChu"),
        ("Lịch_sử", "Lịch_sử"),
    ],
)
def test_parse_help_takes_the_first_word_as_the_topic(raw, topic):
    assert parse_help(raw) == topic


@pytest.mark.parametrize("raw", ["/", " // "])
def test_parse_help_of_a_bare_slash_has_no_topic(raw):
    assert parse_help(raw) is None


# ------------------------------------------------------------------ parse_log


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            "goi tichcuc Khách hỏi giá lô 500 thùng",
            LogArgs("call", "positive", "Khách hỏi giá lô 500 thùng"),
        ),
        ("Gọi_điện tốt Khách ok", LogArgs("call", "positive", "Khách ok")),
        ("GOI TIEUCUC Khách chê giá", LogArgs("call", "negative", "Khách chê giá")),
        ("dienthoai khongnghemay gọi 3 lần", LogArgs("call", "no_answer", "gọi 3 lần")),
        ("call no_answer rang twice", LogArgs("call", "no_answer", "rang twice")),
        (
            "gap Đã demo sản phẩm tại văn phòng khách",
            LogArgs("visit", None, "Đã demo sản phẩm tại văn phòng khách"),
        ),
        ("Gặp_mặt bình_thường Uống cà phê", LogArgs("visit", "neutral", "Uống cà phê")),
        ("thăm hài_lòng ok", LogArgs("visit", "positive", "ok")),
        ("visit positive demo", LogArgs("visit", "positive", "demo")),
        ("email khieunai Giao trễ 2 ngày", LogArgs("email", "complaint", "Giao trễ 2 ngày")),
        ("mail Khiếu_nại hàng vỡ", LogArgs("email", "complaint", "hàng vỡ")),
        ("nhan khongnghe Nhắn 2 lần chưa đọc", LogArgs("chat", "no_answer", "Nhắn 2 lần chưa đọc")),
        ("Zalo Khách nhắn hỏi giá", LogArgs("chat", None, "Khách nhắn hỏi giá")),
        ("tin-nhắn không-hài-lòng chê giao chậm", LogArgs("chat", "negative", "chê giao chậm")),
        ("nhắn_tin trung_bình ok", LogArgs("chat", "neutral", "ok")),
        # feedback is one word: a spaced phrase stays in the note
        ("goi khong nghe may", LogArgs("call", None, "khong nghe may")),
        ("goi\nKhách hẹn\nmai gọi lại", LogArgs("call", None, "Khách hẹn mai gọi lại")),
    ],
)
def test_parse_log_reads_kind_feedback_and_note_in_vietnamese_or_english(raw, expected):
    assert parse_log(raw) == expected


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("", "thiếu loại liên hệ và nội dung"),
        ("   ", "thiếu loại liên hệ và nội dung"),
        ("hop Họp với khách", "loại liên hệ 'hop' không có"),
        ("tichcuc goi Khách ok", "loại liên hệ 'tichcuc' không có"),
        ("goi", "thiếu nội dung ghi chú"),
        ("goi tichcuc", "thiếu nội dung ghi chú"),
        ("gap khieunai    ", "thiếu nội dung ghi chú"),
    ],
)
def test_parse_log_refuses_bad_input_naming_the_problem(raw, problem):
    with pytest.raises(UsageError) as caught:
        parse_log(raw)
    assert problem in str(caught.value)


# ------------------------------------------------------------------ parse_customer


@pytest.mark.parametrize(
    ("raw", "name", "fields"),
    [
        ("", None, {}),
        (
            "Công ty Minh Phát sdt=0901234567 khuvuc=HCM nhom=vip",
            "Công ty Minh Phát",
            {"phone": "0901234567", "region": "HCM", "customer_group": "vip"},
        ),
        ('"Công ty A & B" nhom=si', "Công ty A & B", {"customer_group": "wholesale"}),
        ('khuvuc="Hà Nội"', None, {"region": "Hà Nội"}),
        ("ten=Minh", "Minh", {}),
        ('ten="Công ty Minh Phát" tinh=HCM', "Công ty Minh Phát", {"region": "HCM"}),
        ("name=ACME region=HN", "ACME", {"region": "HN"}),
        ("sdt=0901234567 Công ty A", "Công ty A", {"phone": "0901234567"}),
        ('SĐT="0901 234 567"', None, {"phone": "0901 234 567"}),
        ("dienthoai=+84901234567", None, {"phone": "+84901234567"}),
        ("phone=0901.234.567", None, {"phone": "0901.234.567"}),
        ("Khu_vực=HCM", None, {"region": "HCM"}),
        ("sinhnhat=30/11/1985", None, {"birthday": date(1985, 11, 30)}),
        ("ngaysinh=30-11-1985", None, {"birthday": date(1985, 11, 30)}),
        ("birthday=1.2.1990", None, {"birthday": date(1990, 2, 1)}),
        ("gioitinh=Nữ", None, {"gender": "female"}),
        ("gioitinh=NAM", None, {"gender": "male"}),
        ("gender=f", None, {"gender": "female"}),
        ("giới_tính=khác", None, {"gender": "other"}),
        ("nhom=VIP", None, {"customer_group": "vip"}),
        ("nhom=sỉ", None, {"customer_group": "wholesale"}),
        ('loai="buôn sỉ"', None, {"customer_group": "wholesale"}),
        ('nhom="đại lý"', None, {"customer_group": "wholesale"}),
        ("nhom=lẻ", None, {"customer_group": "retail"}),
        ('nhom="khách lẻ"', None, {"customer_group": "retail"}),
        ("group=retail", None, {"customer_group": "retail"}),
        ("nguon=facebook lienhe=zalo", None, {"channel": "facebook", "contact_channel": "zalo"}),
        ("kenh=tiktok contact=phone", None, {"channel": "tiktok", "contact_channel": "phone"}),
    ],
)
def test_parse_customer_reads_the_name_and_key_value_fields(raw, name, fields):
    assert parse_customer(raw) == CustomerArgs(name=name, fields=fields)


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("sdt=abc", "số điện thoại 'abc' không hợp lệ"),
        ("sdt=09x1234567", "số điện thoại '09x1234567' không hợp lệ"),
        ("sdt=", "trường 'sdt' chưa có giá trị"),
        ('khuvuc=" "', "trường 'khuvuc' chưa có giá trị"),
        ("sinhnhat=31/02/1985", "ngày sinh '31/02/1985' phải có dạng ngày/tháng/năm"),
        ("sinhnhat=30/11", "ngày sinh '30/11'"),
        ("sinhnhat=hôm_qua", "ngày sinh 'hôm_qua'"),
        ("sinhnhat=30/11/1985/1", "ngày sinh"),
        ("gioitinh=abc", "giới tính là nam, nu hoặc khac"),
        ("nhom=vang", "nhóm khách là vip, si hoặc le"),
        ("email=a@b.c", "không có trường 'email'"),
        ("màu=đỏ", "không có trường 'màu'"),
        ('khuvuc="Hà Nội', "thiếu dấu ngoặc kép đóng"),
    ],
)
def test_parse_customer_refuses_bad_input_naming_the_problem(raw, problem):
    with pytest.raises(UsageError) as caught:
        parse_customer(raw)
    assert problem in str(caught.value)


def test_parse_customer_does_not_store_a_two_digit_birthday_year_as_year_85():
    try:
        args = parse_customer("sinhnhat=30/11/85")
    except UsageError:
        return
    assert args.fields["birthday"].year >= 1900


def test_parse_customer_never_silently_drops_words_of_the_name():
    try:
        args = parse_customer("ten=Công ty Minh Phát")
    except UsageError:
        return
    assert args.name == "Công ty Minh Phát"


def test_parse_customer_understands_smart_quotes_from_phone_keyboards():
    assert parse_customer("“Công ty A” sdt=0901234567").name == "Công ty A"


# ------------------------------------------------------------------ parse_history


@pytest.mark.parametrize(
    ("raw", "lines"),
    [
        ("", DEFAULT_LINES),
        ("   ", DEFAULT_LINES),
        ("1", 1),
        ("20", 20),
        (" 20 ", 20),
        (str(MAX_LINES), MAX_LINES),
    ],
)
def test_parse_history_takes_a_line_count_from_1_to_50(raw, lines):
    assert DEFAULT_LINES == 10 and MAX_LINES == 50
    assert parse_history(raw) == lines


@pytest.mark.parametrize("raw", ["0", "51", "1000", "-1", "abc", "1.5", "10 20", "mười"])
def test_parse_history_refuses_a_count_out_of_bounds(raw):
    with pytest.raises(UsageError, match="số dòng phải từ 1 đến 50"):
        parse_history(raw)


def test_parse_history_refuses_digit_like_characters_with_a_usage_error():
    with pytest.raises(UsageError):
        parse_history("²")


# ------------------------------------------------------------------ parse_staff

NEW = "1000000000000000009"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", StaffArgs("list")),
        ("ds", StaffArgs("list")),
        ("danhsach", StaffArgs("list")),
        ("list", StaffArgs("list")),
        ("tailai", StaffArgs("reload")),
        ("reload", StaffArgs("reload")),
        (f"them {NEW} sales Ngô Thị Lan", StaffArgs("add", NEW, "sales", "Ngô Thị Lan")),
        (f"Thêm @{NEW} trưởng_phòng Lê Văn X", StaffArgs("add", NEW, "sales_head", "Lê Văn X")),
        (f"add {NEW} accountant Lan", StaffArgs("add", NEW, "accountant", "Lan")),
        (f"them {NEW} nvkd Lan", StaffArgs("add", NEW, "sales", "Lan")),
        (f"vaitro {NEW} ketoan", StaffArgs("role", NEW, "accountant")),
        (f"doivaitro {NEW} Kế_toán_trưởng", StaffArgs("role", NEW, "chief_accountant")),
        (f"set {NEW} chief_accountant", StaffArgs("role", NEW, "chief_accountant")),
        (f"role {NEW} sales_head", StaffArgs("role", NEW, "sales_head")),
        (f"vaitro {NEW} kho", StaffArgs("role", NEW, "warehouse")),
        (f"vaitro {NEW} thu_kho", StaffArgs("role", NEW, "warehouse")),
        (f"vaitro {NEW} giao-hàng", StaffArgs("role", NEW, "shipping")),
        (f"vaitro {NEW} vanchuyen", StaffArgs("role", NEW, "shipping")),
        (f"vaitro {NEW} quantri", StaffArgs("role", NEW, "admin")),
        (f"xoa {NEW}", StaffArgs("remove", NEW)),
        (f"XÓA @{NEW}", StaffArgs("remove", NEW)),
        (f"delete {NEW}", StaffArgs("remove", NEW)),
    ],
)
def test_parse_staff_reads_the_action_the_id_the_role_and_the_name(raw, expected):
    assert parse_staff(raw) == expected


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("sua 1 sales", "không có thao tác 'sua'"),
        (f"them {NEW} sales", "thiếu hoặc thừa thông tin"),
        ("them", "thiếu hoặc thừa thông tin"),
        ("them abc sales Lan", "'abc' không phải Zalo ID"),
        ("them @ sales Lan", "'@' không phải Zalo ID"),
        (f"them {NEW} boss Lan", "vai trò 'boss' không có"),
        (f"vaitro {NEW} khachhang", "vai trò 'khachhang' không có"),
        ("xoa", "thiếu hoặc thừa thông tin"),
        (f"xoa {NEW} {NEW}", "thiếu hoặc thừa thông tin"),
        ("xoa An", "'An' không phải Zalo ID"),
        (f"vaitro {NEW}", "thiếu hoặc thừa thông tin"),
        (f"vaitro {NEW} sales thêm", "thiếu hoặc thừa thông tin"),
    ],
)
def test_parse_staff_refuses_bad_input_naming_the_problem(raw, problem):
    with pytest.raises(UsageError) as caught:
        parse_staff(raw)
    assert problem in str(caught.value)
