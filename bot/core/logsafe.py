"""Log lines that input cannot forge, flood or fill with secrets.

* `loggable(value)`: a field from a request, escaped (a newline cannot start a forged line)
  and cut to a length (25 MB of log from 100 requests was one 250 kB event name each).
* `QuietLog`: refused traffic (bad signatures, floods, replays, a database outage) logs the
  first line of each kind at once, then at most one a minute saying how many were left out;
  /metrics keeps the exact counts.
* `redact_target(path_qs)`: sign-in links and secrets in query strings never reach the
  access log.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from urllib.parse import parse_qsl, urlencode

MAX_FIELD = 80
SECRET_PARAMS = frozenset(
    {"key", "token", "access_token", "refresh_token", "code", "password", "secret", "sig"}
)
_SECRET_PATHS = re.compile(r"^(/login)/[^/?#]+")
_ORIGIN = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#]*")
HIDDEN = "***"


def loggable(value: object, limit: int = MAX_FIELD) -> str:
    """`value` as one short log field: control characters escaped, cut to `limit`."""
    text = value if isinstance(value, str) else repr(value)
    text = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text[:limit])
    return text if len(text) <= limit else text[: limit - 1] + "…"


def redact_target(target: str) -> str:
    """'/login/abc?next=/x' -> '/login/***?next=/x'; '/sim?key=abc' -> '/sim?key=***'; a
    whole URL (a Referer) likewise."""
    origin = ""
    if match := _ORIGIN.match(target):
        origin, target = match[0], target[match.end() :]
    path, _, query = target.partition("?")
    path = origin + _SECRET_PATHS.sub(rf"\1/{HIDDEN}", path)
    if not query:
        return path
    pairs = parse_qsl(query, keep_blank_values=True)
    shown = [(k, HIDDEN if k.lower() in SECRET_PARAMS else v) for k, v in pairs]
    return f"{path}?{urlencode(shown, safe='/*')}"


class QuietLog:
    """Warnings about refused traffic: per kind, one line at once, then one a minute at most,
    with the number left out since the last one."""

    def __init__(
        self,
        logger: logging.Logger,
        every: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger, self.every, self.monotonic = logger, every, monotonic
        self._kinds: dict[str, tuple[float, int]] = {}  # kind -> (last line at, left out)

    def warning(self, kind: str, message: str, *args: object) -> bool:
        """Log `message % args` unless a line of this kind went out within `every` seconds;
        True when it was logged."""
        now = self.monotonic()
        last = self._kinds.get(kind)
        if last is not None and now - last[0] < self.every:
            self._kinds[kind] = (last[0], last[1] + 1)
            return False
        left_out = last[1] if last is not None else 0
        suffix = f" ({left_out} more like it in the last minute, not logged)" if left_out else ""
        self.logger.warning(message + suffix, *args)
        self._kinds[kind] = (now, 0)
        return True
