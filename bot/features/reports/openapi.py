"""The reports capability's routes in the /api document."""

from __future__ import annotations

from bot.core.apidoc import (
    BAD,
    ApiDoc,
    error,
    json_body,
    obj,
    op,
    path_param,
)
from bot.features.care.api import FIRST_DAY, LAST_DAY
from bot.features.reports.queries import REPORTS

DOC = ApiDoc(
    schemas={},
    paths={
        "/api/reports": {
            "get": op(
                "The reports and their columns.",
                {
                    "200": json_body(
                        obj(
                            {
                                "reports": {
                                    "type": "array",
                                    "items": obj(
                                        {
                                            "name": {"type": "string"},
                                            "columns": {
                                                "type": "array",
                                                "items": {"type": "string"},
                                            },
                                        },
                                        ("name", "columns"),
                                    ),
                                }
                            },
                            ("reports",),
                        ),
                        "Every report.",
                    )
                },
            )
        },
        "/api/reports/{name}": {
            "get": op(
                "One report over local dates `from`..`to` (both included) as CSV with a header "
                "row.",
                {
                    "200": {
                        "description": "UTF-8 CSV; without dates, the last 30 days.",
                        "content": {"text/csv": {"schema": {"type": "string"}}},
                    },
                    **BAD,
                    "404": error("No such report."),
                },
                parameters=[
                    path_param("name", {"type": "string", "enum": sorted(REPORTS)}, "The report."),
                    *(
                        {
                            "name": key,
                            "in": "query",
                            "required": False,
                            "description": f"A local date YYYY-MM-DD, {FIRST_DAY} to {LAST_DAY}.",
                            "schema": {"type": "string", "format": "date"},
                        }
                        for key in ("from", "to")
                    ),
                ],
            )
        },
    },
)
