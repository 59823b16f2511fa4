"""GET /api/reports (the names) and GET /api/reports/{name}?from=&to= as CSV. Bearer ADMIN_TOKEN.

`from` and `to` are local dates (YYYY-MM-DD), both included; without them the last 30 days
up to today. The CSV is UTF-8 with a header row, one line per report row.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta
from typing import Any

from aiohttp import web

from bot.app.keys import RUNTIME
from bot.features.reports.base import Row
from bot.features.reports.queries import REPORTS

DEFAULT_DAYS = 30
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)  # dates a report can span


async def list_reports(request: web.Request) -> web.Response:
    return web.json_response(
        {"reports": [{"name": n, "columns": list(r.columns)} for n, r in REPORTS.items()]}
    )


async def get_report(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    name = request.match_info["name"]
    if name not in REPORTS:
        return web.json_response({"error": "not_found", "report": name}, status=404)
    tz = runtime.settings.tz
    today = runtime.clock.now().astimezone(tz).date()
    try:
        first, last = _dates(request.query, today)
    except ValueError as exc:
        return web.json_response({"error": "bad_request", "message": str(exc)}, status=400)
    start = datetime.combine(first, time(0), tzinfo=tz)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz)
    report = REPORTS[name]
    async with runtime.sessions() as db:
        rows = await report.run(db, start, end, tz)
    filename = f"{name}_{first.isoformat()}_{last.isoformat()}.csv"
    return web.Response(
        body=to_csv(report.columns, rows).encode("utf-8"),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f"attachment; filename={filename}"},
    )


def _dates(query: Any, today: date) -> tuple[date, date]:
    last = _date(query, "to") or today
    first = _date(query, "from") or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise ValueError("'from' is after 'to'")
    return first, last


def _date(query: Any, key: str) -> date | None:
    raw = query.get(key)
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw) if len(raw) == 10 else _bad(key, raw)
    except ValueError:
        return _bad(key, raw)
    return day if FIRST_DAY <= day <= LAST_DAY else _bad(key, raw)


def _bad(key: str, raw: str) -> date:
    raise ValueError(
        f"'{key}' must be a date YYYY-MM-DD from {FIRST_DAY} to {LAST_DAY}, not {raw!r}"
    )


BOM = "\ufeff"  # Excel on Windows reads the file as UTF-8 only with it ("Nguyá»…n" else)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """A text cell that a spreadsheet would run as a formula ('=HYPERLINK(…)', '+…', '-…',
    '@…', a tab or a carriage return first) gets a leading ' and shows as typed. Numbers stay
    numbers; None is an empty cell."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def to_csv(columns: tuple[str, ...], rows: list[Row]) -> str:
    """The rows as CSV text: a byte-order mark, a header line, every cell made safe for
    spreadsheets (customer names, regions and channels are typed by anyone)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_cell(c) for c in columns])
    writer.writerows([[safe_cell(r.get(c)) for c in columns] for r in rows])
    return BOM + out.getvalue()


def setup(app: web.Application) -> None:
    """Add the report routes."""
    app.router.add_get("/api/reports", list_reports)
    app.router.add_get("/api/reports/{name}", get_report)
