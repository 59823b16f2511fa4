"""Every setting the service reads, validated once at start.

Settings come from the environment (and `.env` when present). A bad value stops the start with
one line naming the setting and what is wrong: see `SettingsError`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from config.formats import FormatError, parse_amount, parse_duration, parse_working_hours

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB_PATH = ROOT / "data" / "bot.db"

# Local mode signs and verifies webhook events with these, so the simulator and the
# `python -m bot say` helper work without a real Zalo app. Never used once real ids are set.
DEFAULT_WORKING_HOURS = "mon-fri 08:00-12:00,13:30-17:30; sat 08:00-12:00"

LOCAL_APP_ID = "local-app"
LOCAL_OA_ID = "oa-1"
LOCAL_OA_SECRET_KEY = "local-oa-secret"


class SettingsError(ValueError):
    """A setting has a bad value; the message is one line naming it."""


def _text(value: str) -> str:
    return value.strip()


def _port(value: str) -> int:
    if not value.strip().isdigit() or not 1 <= int(value) <= 65535:
        raise ValueError("must be a whole number from 1 to 65535")
    return int(value)


def _url(value: str) -> str:
    parsed = urlparse(value.strip())
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError("must be an http(s) URL such as https://openapi.zalo.me")
    return value.strip().rstrip("/")


def _locale(value: str) -> str:
    if value.strip().lower() not in ("vi", "en"):
        raise ValueError("must be vi or en")
    return value.strip().lower()


def _database_url(value: str) -> str:
    url = value.strip()
    if url.startswith(("sqlite", "postgresql", "postgres")):
        return url
    raise ValueError("must start with sqlite:/// or postgresql://")


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("must be an IANA time zone such as Asia/Ho_Chi_Minh") from None
    return value.strip()


def _duration(value: str) -> str:
    try:
        parse_duration(value)
    except FormatError:
        raise ValueError("must be a duration such as 15m, 90s or 2h, at most a year") from None
    return value.strip()


def _optional_duration(value: str) -> str:
    if value.strip().lower() in ("0", "off"):
        return "off"
    return _duration(value)


def _non_negative_int(value: str) -> int:
    if not value.strip().isdigit():
        raise ValueError("must be a whole number, 0 or more (0 turns it off)")
    return int(value)


def _working_hours(value: str) -> str:
    try:
        parse_working_hours(value)
    except FormatError as exc:
        raise ValueError(f"not working hours ({exc}); example: {DEFAULT_WORKING_HOURS}") from None
    return value.strip()


def _on_off(value: str) -> str:
    word = value.strip().lower()
    if word in ("on", "1", "yes", "true", "bat"):
        return "on"
    if word in ("off", "0", "no", "false", "tat"):
        return "off"
    raise ValueError("must be on or off")


ROUND_THE_CLOCK = "mon-sun 00:00-24:00"


def customer_group_targets(value: str) -> dict[str, tuple[str | None, str | None]]:
    """'vip=5m@24/7,si=15m,le=30m' -> {group: (first-response limit, working hours)}: each
    entry a duration, working hours after '@', or working hours alone ('vip=24/7')."""
    targets: dict[str, tuple[str | None, str | None]] = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        name, _, spec = item.partition("=")
        limit, _, hours = spec.strip().partition("@")
        if not hours and ("/" in limit or ":" in limit):
            limit, hours = "", limit
        hours = ROUND_THE_CLOCK if hours.strip() == "24/7" else hours.strip()
        if not name.strip() or not (limit.strip() or hours):
            raise ValueError(f"entry {item!r}: use group=15m, group=24/7 or group=5m@24/7")
        if limit.strip():
            parse_duration(limit.strip())
        if hours:
            parse_working_hours(hours)
        targets[name.strip().lower()] = (limit.strip() or None, hours or None)
    return targets


def _customer_group_targets(value: str) -> str:
    try:
        customer_group_targets(value)
    except FormatError as exc:
        raise ValueError(f"{exc}; example: vip=5m@24/7,si=15m,le=30m") from None
    return value.strip()


def _holidays(value: str) -> str:
    code = value.strip()
    if code.lower() == "none":
        return "none"
    import holidays

    if code.upper() not in holidays.list_supported_countries():
        raise ValueError("must be a country code such as VN, or none")
    return code.upper()


def _repeat_limit(value: str) -> str:
    count, _, days = value.strip().lower().partition("/")
    if not count.isdigit() or not days.endswith("d") or not days[:-1].isdigit():
        raise ValueError("must look like 3/30d (3 breaches within 30 days)")
    return value.strip().lower()


def _amount(value: str) -> int:
    try:
        return parse_amount(value)
    except FormatError:
        raise ValueError("must be an amount in VND such as 100.000.000 or 100tr") from None


def _care_mode(value: str) -> str:
    mode = value.strip().lower()
    if mode not in ("by_product", "by_customer", "open"):
        raise ValueError("must be by_product, by_customer or open")
    return mode


def _clock_time(value: str) -> str:
    hour, _, minute = value.strip().partition(":")
    if not (hour.isdecimal() and minute.isdecimal() and int(hour) < 24 and int(minute) < 60):
        raise ValueError("must be a time of day HH:MM such as 08:00")
    return f"{int(hour):02d}:{int(minute):02d}"


def _positive_int(value: str) -> int:
    if not value.strip().isdigit() or int(value) <= 0:
        raise ValueError("must be a whole number above 0")
    return int(value)


def _optional_url(value: str) -> str:
    return _url(value) if value.strip() else ""


def _log_level(value: str) -> str:
    level = value.strip().upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
    return level


PROCESS_ROLES = ("all", "webhook", "worker")


def _process_role(value: str) -> str:
    role = value.strip().lower()
    if role not in PROCESS_ROLES:
        raise ValueError("must be all, webhook or worker")
    return role


def _setting(default: str, parse: Callable[[str], Any] = _text, secret: bool = False) -> Any:
    return field(default=None, metadata={"default": default, "parse": parse, "secret": secret})


@dataclass(frozen=True)
class Settings:
    """The validated settings. Field names are the environment variable names, lower-cased."""

    host: str = _setting("")  # empty: 127.0.0.1 in local mode, 0.0.0.0 otherwise
    port: int = _setting("8080", _port)
    database_url: str = _setting(f"sqlite:///{DEFAULT_DB_PATH}", _database_url)
    zalo_app_id: str = _setting("")
    zalo_app_secret: str = _setting("", secret=True)
    zalo_oa_id: str = _setting("")
    zalo_oa_secret_key: str = _setting("", secret=True)
    zalo_access_token: str = _setting("", secret=True)
    zalo_refresh_token: str = _setting("", secret=True)
    zalo_api_base: str = _setting("https://openapi.zalo.me", _url)
    zalo_oauth_base: str = _setting("https://oauth.zaloapp.com", _url)
    staff_file: str = _setting(str(ROOT / "config" / "staff.csv"))
    admin_token: str = _setting("", secret=True)
    locale: str = _setting("vi", _locale)
    timezone: str = _setting("Asia/Ho_Chi_Minh", _timezone)
    zalo_alert_group_id: str = _setting("")
    sla_first_response: str = _setting("15m", _duration)
    working_hours: str = _setting(DEFAULT_WORKING_HOURS, _working_hours)
    holidays: str = _setting("VN", _holidays)
    sla_repeat_limit: str = _setting("3/30d", _repeat_limit)
    sla_burst: str = _setting("2m", _duration)
    sla_follow_up: str = _setting("2h", _duration)
    payment_approval_sla: str = _setting("30m", _duration)
    sla_by_customer_group: str = _setting("", _customer_group_targets)
    out_of_hours_reply: str = _setting("on", _on_off)
    payment_chief_threshold: int = _setting("100000000", _amount)
    incident_resolution: str = _setting("4h", _duration)
    incident_first_response: str = _setting("30m", _duration)
    handover_followup: str = _setting("8h", _duration)
    products_file: str = _setting(str(ROOT / "config" / "products.csv"))
    care_mode: str = _setting("by_customer", _care_mode)
    care_reminder_time: str = _setting("08:00", _clock_time)
    gift_days_ahead: int = _setting("7", _positive_int)
    report_time: str = _setting("17:45", _clock_time)
    webhook_max_bytes: int = _setting("262144", _positive_int)
    webhook_replay_window: str = _setting("24h", _optional_duration)
    webhook_rate_limit: int = _setting("200", _non_negative_int)
    log_level: str = _setting("INFO", _log_level)
    trusted_proxies: str = _setting("")
    public_url: str = _setting("", _optional_url)
    session_secret: str = _setting("", secret=True)
    session_ttl: str = _setting("12h", _duration)
    login_link_ttl: str = _setting("15m", _duration)
    process_role: str = _setting("all", _process_role)
    event_time_budget: str = _setting("5s", _duration)
    allowed_hosts: str = _setting("")
    webhook_quarantine_max: int = _setting("10000", _positive_int)
    webhook_quarantine_days: int = _setting("7", _positive_int)

    @property
    def local_mode(self) -> bool:
        """No Zalo credentials: outbound messages are stored and printed, not sent."""
        return not (self.zalo_access_token or self.zalo_refresh_token)

    @property
    def listen_host(self) -> str:
        """HOST, else loopback only in local mode (its simulator plays anyone), else all."""
        return self.host or ("127.0.0.1" if self.local_mode else "0.0.0.0")

    @property
    def base_url(self) -> str:
        """Where people reach the dashboard: PUBLIC_URL, else this machine's port."""
        return self.public_url or f"http://localhost:{self.port}"

    @property
    def runs_workers(self) -> bool:
        """PROCESS_ROLE all or worker: this process runs the workers, the sweep and the jobs."""
        return self.process_role != "webhook"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def duration(self, name: str) -> timedelta:
        """A duration setting (sla_first_response, incident_resolution, …) as a timedelta."""
        return parse_duration(getattr(self, name))

    @property
    def replay_window(self) -> timedelta | None:
        """WEBHOOK_REPLAY_WINDOW as a timedelta; None when off (0 or off)."""
        if self.webhook_replay_window == "off":
            return None
        return parse_duration(self.webhook_replay_window)

    @property
    def customer_group_targets(self) -> dict[str, tuple[str | None, str | None]]:
        """SLA_BY_CUSTOMER_GROUP: customer group -> (first-response limit, working hours)."""
        return customer_group_targets(self.sla_by_customer_group)

    @property
    def repeat_limit(self) -> tuple[int, timedelta]:
        """SLA_REPEAT_LIMIT as (breaches, within)."""
        count, _, days = self.sla_repeat_limit.partition("/")
        return int(count), timedelta(days=int(days[:-1]))

    @property
    def signing_app_id(self) -> str:
        return self.zalo_app_id or LOCAL_APP_ID

    @property
    def signing_oa_id(self) -> str:
        """The OA id events are for: ZALO_OA_ID, else the local mode's stand-in."""
        return self.zalo_oa_id or LOCAL_OA_ID

    @property
    def signing_secret(self) -> str:
        return self.zalo_oa_secret_key or LOCAL_OA_SECRET_KEY

    def replace(self, **changes: Any) -> Settings:
        """A copy with some values changed (already parsed values, as tests pass them)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return Settings(**values)

    def redacted(self) -> dict[str, Any]:
        """The settings with every secret masked, safe to log."""
        return {
            f.name: (
                "***" if f.metadata["secret"] and getattr(self, f.name) else getattr(self, f.name)
            )
            for f in fields(self)
        }


def setting_names() -> list[str]:
    """The environment variable names, in declaration order."""
    return [f.name.upper() for f in fields(Settings)]


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from `env` (default: os.environ), raising SettingsError on a bad value."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    for f in fields(Settings):
        name = f.name.upper()
        raw = env.get(name)
        raw = f.metadata["default"] if raw is None or raw.strip() == "" else raw
        try:
            values[f.name] = f.metadata["parse"](raw)
        except ValueError as exc:
            shown = "***" if f.metadata["secret"] else raw
            raise SettingsError(f"Setting {name}: {exc} (got {shown!r})") from None
    settings = Settings(**values)
    _check_credentials(settings)
    return settings


def _check_credentials(settings: Settings) -> None:
    if settings.local_mode:
        return
    for name in ("zalo_app_id", "zalo_app_secret", "zalo_oa_secret_key"):
        if not getattr(settings, name):
            raise SettingsError(
                f"Setting {name.upper()}: required when ZALO_ACCESS_TOKEN or "
                "ZALO_REFRESH_TOKEN is set (got nothing)"
            )
