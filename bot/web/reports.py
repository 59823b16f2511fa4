"""Dashboard: the management reports (features/reports) over a chosen period, as tables and CSV.

For heads, admins and accounting; the reports have no per-staff filter, so a sales (and
warehouse, shipping) gets the 403 page. The period is local dates `from`..`to`, both
included, by default the last 30 days, as in GET /api/reports/{name}; the CSV is the same
file the API serves, here behind the session cookie instead of the bearer token.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from bot.core.render import vnd
from bot.features.reports.api import DEFAULT_DAYS, to_csv
from bot.features.reports.base import TEAM, Row
from bot.features.reports.queries import DIGEST_PARTS, REPORTS
from bot.web.core import Viewer, language, page, render, runtime_of
from bot.web.display import labeler, not_found
from bot.web.report_labels import COLUMNS, MONEY, PERCENT, TITLES, VALUE_LABELS
from bot.web.words import words

READERS = ("sales_head", "admin", "accountant", "chief_accountant")
MAX_ROWS = 500  # on the page; the CSV has every row
FIRST_YEAR, LAST_YEAR = 2000, 2100  # beyond them a date is a typo (and 9999-12-31 + 1 overflows)
Cell = Callable[[Row, str], str]


class PeriodError(ValueError):
    """A from/to the page cannot use; carries the message in (vi, en)."""

    def __init__(self, vi: str, en: str) -> None:
        super().__init__(en)
        self.words = (vi, en)


def period(query: Mapping[str, str], today: date) -> tuple[date, date]:
    """The local dates `from`..`to` of the query, defaults as in the API."""
    last = _date(query, "to") or today
    first = _date(query, "from") or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise PeriodError(*words("reports_the_start_date_is_after_the"))
    return first, last


def _date(query: Mapping[str, str], key: str) -> date | None:
    raw = (query.get(key) or "").strip()
    try:
        day = date.fromisoformat(raw) if raw else None
    except ValueError:
        day = date.min  # unreadable: the year check below refuses it
    if day is not None and not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise PeriodError(*words("reports_bad_date", key=key, first=FIRST_YEAR, last=LAST_YEAR))
    return day


def bounds(first: date, last: date, request: web.Request) -> tuple[datetime, datetime]:
    """UTC [start, end) of the local days first..last."""
    tz = runtime_of(request).settings.tz
    start = datetime.combine(first, time(0), tzinfo=tz)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


async def run(request: web.Request, names: tuple[str, ...], first: date, last: date) -> Any:
    """Each named report's rows over the period."""
    runtime = runtime_of(request)
    start, end = bounds(first, last, request)
    async with runtime.read_sessions() as db:
        return {n: await REPORTS[n].run(db, start, end, runtime.settings.tz) for n in names}


def cell_format(request: web.Request) -> Cell:
    """cell(row, column): one value as the page shows it."""
    label, lang = labeler(request), language(request)

    def t(vi: str, en: str) -> str:
        return vi if lang == "vi" else en

    def cell(row: Row, column: str) -> str:
        value = row.get(column)
        if column == "staff_name" and row.get("staff_id") == TEAM:
            return t(*words("reports_team"))
        if value == "total":
            return t(*words("reports_total"))
        if value is None or value == "":
            return "–" if column != "staff_name" else t(*words("reports_unassigned"))
        if column in MONEY:
            return vnd(int(value))
        if column in PERCENT:
            return f"{value}%"
        if isinstance(value, date):
            return value.strftime("%d/%m/%Y")
        return label(VALUE_LABELS[column], str(value)) if column in VALUE_LABELS else str(value)

    return cell


def _page(request: web.Request, template: str, status: int = 200, **ctx: Any) -> web.Response:
    return render(
        request,
        template,
        status=status,
        title=words("reports_reports"),
        reports=REPORTS,
        titles=TITLES,
        columns=COLUMNS,
        cell=cell_format(request),
        max_rows=MAX_ROWS,
        **ctx,
    )


def _today(request: web.Request) -> date:
    runtime = runtime_of(request)
    return runtime.clock.now().astimezone(runtime.settings.tz).date()


def _chosen(request: web.Request) -> tuple[date, date, str]:
    """(first, last, the query string that repeats them); PeriodError when unusable."""
    first, last = period(request.query, _today(request))
    return first, last, urlencode({"from": first.isoformat(), "to": last.isoformat()})


def _bad_period(request: web.Request, template: str, exc: PeriodError, **ctx: Any) -> web.Response:
    raw = {k: request.query.get(k, "") for k in ("from", "to")}
    return _page(
        request,
        template,
        400,
        error=exc.words,
        tables={},
        first=raw["from"],
        last=raw["to"],
        period_qs="",
        **ctx,
    )


@page(roles=READERS)
async def index(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    """The digest reports as tables, and links to every other report."""
    try:
        first, last, qs = _chosen(request)
    except PeriodError as exc:
        return _bad_period(request, "reports.html", exc)
    tables = await run(request, DIGEST_PARTS, first, last)
    return _page(
        request, "reports.html", error=None, tables=tables, first=first, last=last, period_qs=qs
    )


@page(roles=READERS)
async def one(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    """One report as a table (the first MAX_ROWS rows) with its CSV link."""
    name = request.match_info["name"]
    if name not in REPORTS:
        return not_found(request)
    try:
        first, last, qs = _chosen(request)
    except PeriodError as exc:
        return _bad_period(request, "report.html", exc, name=name)
    tables = await run(request, (name,), first, last)
    return _page(
        request,
        "report.html",
        error=None,
        tables=tables,
        first=first,
        last=last,
        period_qs=qs,
        name=name,
    )


@page(roles=READERS)
async def csv_file(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    """The report as the API's CSV file."""
    name = request.match_info["name"]
    if name not in REPORTS:
        return not_found(request)
    try:
        first, last, _ = _chosen(request)
    except PeriodError as exc:
        return _bad_period(request, "report.html", exc, name=name)
    rows = (await run(request, (name,), first, last))[name]
    filename = f"{name}_{first.isoformat()}_{last.isoformat()}.csv"
    return web.Response(
        body=to_csv(REPORTS[name].columns, rows).encode("utf-8"),
        content_type="text/csv",
        charset="utf-8",
        headers={
            "Content-Disposition": f"attachment; filename={filename}",
            "Cache-Control": "no-store",
        },
    )


def setup(app: web.Application) -> None:
    """Add this part's routes (the .csv route first: {name} alone would match it too)."""
    app.router.add_get("/dashboard/reports", index)
    app.router.add_get("/dashboard/reports/{name}.csv", csv_file)
    app.router.add_get("/dashboard/reports/{name}", one)
