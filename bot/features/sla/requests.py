"""Which customer messages need a staff answer: the request classifier of the SLA clock. Pure.

A customer's "Hàng về đủ rồi nha em, thanks" or "Chúc cả nhà năm mới an khang" needs no answer;
"dạ ok, mà khi nào xe tới vậy?" does. Each sentence of a message is read as customers type
it in Vietnamese (with or without diacritics, teencode: k, ko, dc, r, e, a, ck, sp, bnhieu…)
against a lexicon of request signals (a question, an order or an ask, a complaint, a payment
notice, a call for attention such as "shop ơi" or "??") and of no-reply signals (thanks,
greetings and wishes, acknowledgements, receipts, "để chị tính đã"). One request sentence
makes the message a request; it needs no reply only when every sentence is a no-reply one.
When unsure, it is a request: a late answer to a real question is worse than a spare clock.

The verdict carries its reason (stored with the clock). Linear in the text, memoized, bounded
to MAX_READ characters; no model, nothing downloaded.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

from bot.core.text import fold

MAX_READ = 2000  # characters read: a message is at most this long on Zalo
SILENT_ATTACHMENTS = frozenset({"sticker", "gif"})

# Teencode and abbreviations, word by word, to the words the patterns below use.
_TEEN = {
    "k": "khong", "ko": "khong", "kg": "khong", "khg": "khong", "hok": "khong", "hong": "khong",
    "hem": "khong", "kh": "khong", "hk": "khong", "dc": "duoc", "dk": "duoc", "đc": "duoc",
    "r": "roi", "rui": "roi", "e": "em", "a": "anh", "c": "chi", "ck": "chuyen khoan",
    "sp": "san pham", "bnhieu": "bao nhieu", "bn": "bao nhieu", "bnh": "bao nhieu",
    "j": "gi", "ntn": "nhu the nao", "mk": "minh", "mik": "minh", "ad": "shop", "admin": "shop",
    "tks": "thanks", "thx": "thanks", "ty": "thanks", "tk": "thanks", "camon": "cam on",
    "cmon": "cam on", "oke": "ok", "okie": "ok", "oki": "ok", "okay": "ok", "okela": "ok",
    "uk": "ok", "uh": "ok", "um": "ok", "u": "ok", "vs": "voi", "z": "vay", "v": "vay",
    "hnay": "hom nay", "hqua": "hom qua", "ng": "nguoi", "dt": "dien thoai", "sdt": "dien thoai",
    "tt": "thanh toan", "hd": "hoa don", "bh": "bao gio", "bjo": "bao gio", "bgio": "bao gio",
    "nhiu": "nhieu", "nha": "nhe", "nhen": "nhe", "nghen": "nhe", "ne": "nhe",
}  # fmt: skip

_WORD = r"(?<![a-z0-9])"
_END = r"(?![a-z0-9])"

# A sentence that is only these words needs no answer ("dạ vâng ạ", "ok em", "thanks shop").
_POLITE_WORDS = """ok da vang anh em chi minh shop nhe a ah ak oi roi duoc nhieu lam thanks
thank you cam on good great tot tuyet voi hi hihi haha hehe yes yep sure ban bac co chu xong
biet hieu ro nhan nguoi ca nha moi dep qua vui ha thoi vay the"""
_POLITE = frozenset(_POLITE_WORDS.split())
# Said first, these make a (comma-separated) sentence a thank-you or a deferral whatever
# verbs follow ("cảm ơn em đã hỗ trợ", "mai anh gọi lại"), unless it asks something.
_THANKS_FIRST = re.compile(r"^(?:(?:da|vang|ok|dang) )*(?:cam on|thanks|thank you|biet on)\b")
_DEFERRAL = re.compile(
    _WORD + r"(?:(?:chi|anh|minh|toi|tui|bac|co|chu)(?: se| xin phep)? (?:goi|lien he|nhan|bao|"
    r"tra loi|hoi|nhan tin) lai(?: sau| em| shop| nhe)*"
    r"|(?:mai|lat nua|ti nua|xiu nua|tuan sau|chieu|toi nay|sang mai) (?:chi|anh|minh|toi|tui|em) "
    r"(?:goi|nhan|bao|lien he|tra loi|qua)"
    r"|cho (?:chi|anh|minh|toi|tui|em) (?:suy nghi|can nhac|tinh|xem)(?: them| lai| da)?"
    r"|de (?:chi|anh|em|minh|toi|tui|bac|co|chu) (?:tinh|xem|hoi|suy nghi|can nhac|bao|trao "
    r"doi|ban|hoi y)(?: [a-z ]{0,40})?)$"
)


def _any(*phrases: str) -> re.Pattern[str]:
    return re.compile(_WORD + "(?:" + "|".join(phrases) + ")" + _END)


# --- request signals: (name, pattern) in order; the first that matches is the reason --------
_REQUESTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "payment",
        _any(
            r"(?:da|vua|moi) (?:chuyen khoan|chuyen tien|chuyen|thanh toan|gui tien|nop tien)",
            r"(?:chuyen khoan|chuyen tien|thanh toan) (?:roi|xong)",
            r"(?:chuyen|ck) (?:roi|xong) (?:nhe|do|day)?",
        ),
    ),
    (
        "complaint",
        _any(
            r"(?:bi|da bi) (?:hong|vo|loi|sai|thieu|moc|be|mop|rach|chay|ri)",
            r"hang (?:loi|hong|vo|sai|thieu|kem)",
            r"khieu nai",
            r"that vong",
            r"buc (?:minh|xuc)",
            r"khong (?:hai long|dung|chay|hoat dong|len|nhan duoc|thay|lien lac duoc|giong)",
            r"giao (?:sai|thieu|nham|cham|tre|lau)",
            r"chua (?:nhan|thay|toi|den|ve|giao|co|gui)(?: duoc)? (?:hang|don|ai|hoa don|tien|bao gia|"
            r"phan hoi|lich|ky thuat|thong tin|ket qua)",
            r"goi (?:mai|hoai|khong duoc)",
            r"khong (?:nghe may|bat may|tra loi)",
            r"sao (?:lau|cham|chua)",
            r"lau (?:qua|the|vay)",
            r"te qua",
            r"cham qua",
            r"tre qua",
            r"hoan tien",
            r"doi tra",
            r"tra hang",
            r"loi (?:roi|nay|do)",
        ),
    ),
    (
        "ask",
        _any(
            r"(?:cho|xin) (?:em|anh|chi|minh|toi|tui|shop|con|chau)? ?(?:hoi|xin|gia|bao gia|them|dat|lay|mua|xem|biet|so|file|mau|catalog|hinh|anh)",
            r"bao gia",
            r"gui (?:cho|giup|giup em|lai|qua|bao gia|hinh|anh|file|mau|hoa don|so)",
            r"tu van",
            r"ho tro",
            r"giup (?:em|anh|chi|minh|toi|voi|do)",
            r"check",
            r"kiem tra",
            r"xem (?:giup|ho|lai|dum)",
            r"dat (?:hang|them|mua|lich|coc)",
            r"lay (?:them|hang)",
            r"(?:can|muon) (?:mua|dat|lay|hoi|doi|tra|huy|gap|xem|them|bao gia|tu van|ho tro)",
            r"ship (?:cho|giup|gap|luon|som|qua|toi)",
            r"giao (?:cho|giup|gap|luon|som|qua|toi|hang)",
            r"xuat (?:hoa don|hd|vat)",
            r"doi (?:hang|sang|mau|size|lai)",
            r"huy (?:don|hang)",
            r"goi (?:lai|cho|dien|giup)",
            r"lien he (?:lai|giup|voi)",
            r"nhan tin (?:lai|cho)",
            r"bao (?:lai|cho|giup) (?:em|anh|chi|minh|toi)",
            r"gap (?:nhe|nha|giup|lam)",
            r"nhanh (?:len|giup|nhe)",
            r"len don",
            r"chot don",
            r"con hang",
            r"het hang",
            r"gui (?:so|stk|so tai khoan|tai khoan)",
            r"so tai khoan",
            r"stk",
        ),
    ),
    (
        "call",
        re.compile(
            r"^(?:(?:shop|em|anh|chi|ban|moi nguoi|ca nha|oi|alo|a lo|hello|helo|hi)\s*)*"
            r"(?:oi+|alo+|a lo|hello+)\b|^\W*\?+\W*$|^(?:alo+|a lo|hello+)$"
        ),
    ),
    (
        "question_end",
        re.compile(
            r"[a-z0-9]+ [a-z0-9]+ (?:khong|chua)(?: (?:anh|em|chi|shop|vay|nhi|ha|ta|nhe))*$"
        ),
    ),
    (
        "question",
        re.compile(
            _WORD + r"(?:bao nhieu|bao gio|khi nao|luc nao|may gio|o dau|cho nao|the nao|"
            r"nhu the nao|nhu nao|ra sao|tai sao|lam sao|vi sao|sao lai|ai (?:la|giao|nhan)|"
            r"duoc khong|co khong|phai khong|chua vay|gi vay|gi the|gi a|gi nhi|nao vay|dau vay|"
            r"dau roi|dau a|sao vay|sao the|sao nhi|gia bao nhieu|may tien|bao lau|con khong|"
            r"co the .{1,40} khong|co .{1,40} khong|co .{1,40} chua|da .{1,40} chua|"
            r"(?:giao|gui|ship|chuyen|xuat|co|ve|lam|sua|xong|den|toi) chua)"
            r"(?:\s+(?:anh|em|chi|shop|vay|nhi|a|ha|nhe|the|ta))*\s*$"
            r"|^(?:co|con|bao gio|khi nao|sao|tai sao|lam sao|bao nhieu|o dau|ai|cai nao|loai nao|"
            r"mau nao|hang nao|shop co|ben em co|em co|chi co|anh co)\b"
        ),
    ),
)

# --- no-reply signals --------------------------------------------------------------------------
_NO_REPLY: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("thanks", _any(r"cam on", r"thanks", r"thank you", r"thank", r"biet on", r"cam on nhieu")),
    (
        "wishes",
        _any(
            r"chuc",
            r"chuc mung",
            r"nam moi",
            r"an khang",
            r"thinh vuong",
            r"van su",
            r"phat tai",
            r"giang sinh",
            r"noel",
            r"trung thu",
            r"ngu ngon",
            r"cuoi tuan vui",
            r"tet",
            r"chao (?:buoi )?(?:sang|chieu|toi|em|anh|chi|shop|ca nha|moi nguoi)",
            r"happy new year",
            r"merry christmas",
        ),
    ),
    (
        "received",
        _any(
            r"nhan (?:duoc )?(?:hang|roi|du|tien)",
            r"hang (?:ve|toi|den) (?:du |roi|day du)",
            r"(?:da|vua) nhan (?:duoc )?(?:hang|roi|du)?",
            r"nhan du roi",
            r"nhan du hang",
            r"(?:ve|toi|den) (?:du )?roi",
            r"hang (?:dep|tot|ok|chuan)",
        ),
    ),
    (
        "deferral",
        _any(
            r"de (?:chi|anh|em|minh|toi|tui|bac|co|chu) (?:tinh|xem|hoi|suy nghi|can nhac|bao|trao doi|ban)",
            r"(?:chi|anh|minh|toi|tui|em) (?:se|xin phep)? ?(?:bao|nhan|goi|lien he|tra loi|hoi) (?:lai|sau|them)",
            r"(?:hoi|bao|ban) lai (?:sau|roi|voi)",
            r"lat (?:nua|sau)",
            r"ti nua",
            r"xiu nua",
            r"tinh sau",
            r"suy nghi them",
            r"can nhac them",
            r"de (?:sau|mai)",
        ),
    ),
    (
        "ack",
        _any(
            r"(?:ok|da|vang|duoc|roi)(?: (?:nhe|anh|em|chi|shop|roi|a))*",
            r"(?:biet|hieu|ro|nam duoc) roi",
            r"(?:nhu vay|the|vay) (?:la )?(?:duoc|ok) roi",
            r"khong sao",
            r"khong co gi",
            r"(?:tot|tuyet|hay) qua",
        ),
    ),
)

_SPLIT = re.compile(r"[.!;,\n]+|\?+|\s+(?=(?:ma|nhung)\s)")


@dataclass(frozen=True)
class Verdict:
    """Whether a customer message needs a staff answer, and why (kept with the clock)."""

    needs_reply: bool
    reason: str


def _words(sentence: str) -> list[str]:
    raw = re.findall(r"[a-z0-9]+", sentence)
    out: list[str] = []
    for word in raw:
        out += _TEEN.get(word, word).split()
    return out


def _sentence(raw: str) -> Verdict | None:
    """A sentence's verdict: a request, a no-reply, or None (neither: unsure)."""
    asked = "?" in raw
    words = _words(raw)
    text = " ".join(words)
    if not text:
        return Verdict(True, "question") if asked else Verdict(False, "emoji")
    for name, pattern in _REQUESTS[:2]:  # a payment notice, a complaint: always a request
        if pattern.search(text):
            return Verdict(True, name)
    if asked:
        return Verdict(True, "question")
    if _THANKS_FIRST.search(text):
        return Verdict(False, "thanks")
    if _DEFERRAL.search(text) and not any(p.search(text) for _, p in _REQUESTS[-2:]):
        return Verdict(False, "deferral")
    for name, pattern in _REQUESTS[2:]:
        if pattern.search(text):
            return Verdict(True, name)
    for name, pattern in _NO_REPLY:
        if pattern.search(text):
            return Verdict(False, name)
    if all(word in _POLITE for word in words):
        return Verdict(False, "ack")
    return None


_PROMISE = re.compile(
    _WORD + r"(?:(?:kiem tra|check|xem|hoi|lien he|trao doi)(?: lai| ky| giup)?(?: [a-z]+){0,4}"
    r" (?:roi |xong |va |sau do )?(?:bao|phan hoi|tra loi|gui|nhan|bao lai)"
    r"|(?:bao|phan hoi|tra loi|gui|nhan) lai (?:anh|chi|em|minh|ban|ac|sau|ngay|lien)"
    r"|(?:se|de) (?:bao|phan hoi|tra loi|gui|kiem tra|check|xem|hoi)"
    r"|cho (?:em|minh) (?:xin )?(?:chut|xiu|it phut|mot chut|1 chut|5 phut|vai phut))" + _END
)


@functools.lru_cache(maxsize=1024)
def promises_later(text: str | None) -> bool:
    """Whether a staff answer promises a later one ("dạ em kiểm tra rồi báo anh ngay", "để em
    hỏi kho rồi phản hồi chị"): it answers the first-response clock, and the bot keeps a
    follow-up reminder for the sales (SLA_FOLLOW_UP)."""
    if not text:
        return False
    return bool(_PROMISE.search(" ".join(_words(fold(text[:MAX_READ])))))


@functools.lru_cache(maxsize=2048)
def classify(text: str | None, attachment_types: tuple[str, ...] = ()) -> Verdict:
    """The verdict on a customer message: its text and the types of its attachments."""
    if any(kind not in SILENT_ATTACHMENTS for kind in attachment_types):
        return Verdict(True, "attachment")  # a photo of the goods, a file: someone must look
    if not text or not text.strip():
        return Verdict(False, "sticker" if attachment_types else "empty")
    folded = fold(unicodedata.normalize("NFC", text[:MAX_READ]))
    pieces = [p for p in _SPLIT.split(folded) if p.strip()]
    marks = [m.end() for m in re.finditer(r"\?+", folded)]
    verdicts: list[Verdict] = []
    position = 0
    for piece in pieces:
        start = folded.find(piece, position)
        end = start + len(piece)
        position = end
        asked = any(end <= mark <= end + 3 for mark in marks)
        verdict = _sentence(piece + ("?" if asked else ""))
        if verdict is not None and verdict.needs_reply:
            return verdict
        verdicts.append(verdict or Verdict(True, "unsure"))
    if not verdicts:
        return Verdict(True, "question") if "?" in folded else Verdict(False, "emoji")
    unsure = [v for v in verdicts if v.needs_reply]
    if unsure:
        return unsure[0]
    return verdicts[0]
