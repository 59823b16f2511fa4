"""Reading an accountant's answer: "duyệt", "ok", "từ chối <lý do>", quoted or not, with or
without diacritics; questions and negations are not decisions. Pure, bounded and linear."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from bot.core.text import fold


@dataclass(frozen=True)
class Reply:
    """A staff reply to a request read as a decision."""

    approve: bool
    reason: str | None = None


_APPROVE = re.compile(
    r"(?<!\w)(duyet|ok|oke|okay|oki|okie|dong y|approved?|xac nhan|da nhan)(?!\w)"
)


_REJECT = re.compile(r"(?<!\w)(tu choi|reject(?:ed)?)(?!\w)")


# Right before the approval word: "không đồng ý", "chưa duyệt", "không được duyệt".
_NEGATED = re.compile(r"(?<!\w)(khong|ko|k|hong|chang|chua|not|dont|no)\s+(?:\w+\s+)?$")


# Anywhere: not yet, later, or asking someone else to do it ("chị duyệt giúp em").
_UNSURE = re.compile(
    r"(?<!\w)(chua|doi|de em|lat nua|ti nua|xiu|bao lai|bao sau|giup|dum|nho|xin|vui long"
    r"|can|oi|voi|(?<!da )(?:kiem tra|check|xem))(?!\w)"
)


_QUESTION_ENDINGS = {"khong", "ko", "k", "hong", "khg", "sao", "nhi", "chua"}


_QUESTION_PARTICLES = {"à", "hả", "hở", "hử"}


def _fold_chars(text: str) -> str:
    """fold() char by char, so indexes in the result match `text`."""
    return "".join((fold(ch) or " ")[0] for ch in text)


def _is_question(text: str, folded: str) -> bool:
    words = folded.split()
    last = text.split()[-1].lower() if text.split() else ""
    return (
        "?" in text
        or (bool(words) and words[-1] in _QUESTION_ENDINGS)
        or (last in _QUESTION_PARTICLES)
    )


def read_reply(text: str | None) -> Reply | None:
    """'duyệt' -> approve; 'từ chối sai số tiền' -> reject with that reason; else None."""
    text = unicodedata.normalize("NFC", text or "").strip()
    folded = _fold_chars(text)
    if not text or _is_question(text, folded):
        return None
    if match := _REJECT.search(folded):
        after = text[match.end() :].strip(" :,.-–—")
        before = text[: match.start()].strip(" :,.-–—")
        return Reply(approve=False, reason=after or before or None)
    match = _APPROVE.search(folded)
    if match is None or _NEGATED.search(folded[: match.start()]) or _UNSURE.search(folded):
        return None
    return Reply(approve=True)


# Typed without quoting the request, only these count, alone or with polite words around
# them: "ok" or "đồng ý" are too common in a group to approve money unless they reply to it.
_BARE_APPROVE = frozenset({"duyet", "approve", "approved"})


_BEFORE = frozenset({"da", "vang", "ok", "oke", "em", "chi", "anh", "minh"})


_AFTER = frozenset({"a", "ah", "nhe", "nha", "nhen", "ak", "em", "chi", "anh", "roi", "r"})


_BARE_REJECT = re.compile(r"^\W*(?:tu choi|reject(?:ed)?)(?!\w)")


MAX_BARE = 300  # characters: a decision is short


def read_bare(text: str | None) -> Reply | None:
    """A decision typed without quoting: 'duyệt' (or 'duyet', 'approve', 'dạ duyệt ạ') ->
    approve; a text that starts with 'từ chối' / 'reject' -> reject, with the rest as the
    reason; anything else (a question, 'ok', 'đồng ý', 'khách từ chối nhận') -> None."""
    text = unicodedata.normalize("NFC", text or "").strip()
    if not text or len(text) > MAX_BARE or "?" in text:
        return None
    folded = _fold_chars(text)
    if match := _BARE_REJECT.match(folded):
        reason = text[match.end() :].strip(" :,.-–—")
        return Reply(approve=False, reason=reason or None)
    words = re.sub(r"[^\w]+", " ", folded).split()
    for index, word in enumerate(words):
        if word in _BARE_APPROVE:
            before, after = words[:index], words[index + 1 :]
            if set(before) <= _BEFORE and set(after) <= _AFTER:
                return Reply(approve=True)
            return None
    return None
