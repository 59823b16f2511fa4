"""Dashboard passwords: scrypt hashes, checked in constant time; the rules for a new one and for
usernames. Set from the command line (bot/tools/passwd.py) or on the directory page."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from functools import cache

from bot.core.reasons import Refusal

MIN_LENGTH = 8


MAX_LENGTH = 256  # scrypt cost grows with the input: refuse novels


N, R, P = 2**14, 8, 1  # scrypt's cost parameters
USERNAME = re.compile(r"[a-z0-9][a-z0-9._@-]{1,63}")


class PasswordError(Refusal):
    """A password or username that cannot be used: a reason code, its sentence in
    templates/<locale>/reasons.toml (str(): Vietnamese)."""


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def hash_password(password: str) -> str:
    """'scrypt$16384$8$1$<salt b64>$<hash b64>' with a fresh 16-byte salt."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=N, r=R, p=P, dklen=32)
    return f"scrypt${N}${R}${P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str | None) -> bool:
    """True when `password` matches the stored hash; False for anything malformed."""
    parts = (stored or "").split("$")
    if len(parts) != 6 or parts[0] != "scrypt" or len(password) > MAX_LENGTH:
        return False
    try:
        n, r, p = (int(x) for x in parts[1:4])
        salt, expected = base64.b64decode(parts[4]), base64.b64decode(parts[5])
        if n > 2**16 or r > 16 or p > 4:  # a stored value must not be able to stall the process
            return False
        digest = hashlib.scrypt(
            password.encode(), salt=salt, n=n, r=r, p=p, dklen=len(expected), maxmem=2**27
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, expected)


@cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def burn_time(password: str) -> None:
    """Spend as long as a real check, so an unknown username takes as long as a known one."""
    verify_password(password, _dummy_hash())


def check_new_password(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise PasswordError("password_too_short", min=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        raise PasswordError("password_too_long", max=MAX_LENGTH)


def normalize_username(raw: str) -> str:
    """Lower-cased username; PasswordError unless 2-64 letters, digits or . _ @ -."""
    username = raw.strip().lower()
    if not USERNAME.fullmatch(username):
        raise PasswordError("username_bad")
    return username
