"""STAFF_FILE: a CSV with the header zalo_user_id,name,role (more columns are allowed)."""

from __future__ import annotations

import csv
from pathlib import Path

from storage.models import ROLES

REQUIRED = ("zalo_user_id", "name", "role")


class StaffFileError(ValueError):
    """The file cannot be used; the message names the file and line."""


def read_staff_file(path: str | Path, *, missing_ok: bool = True) -> list[dict[str, str]]:
    """The staff rows of the file, validated; a missing file is an empty list if missing_ok."""
    path = Path(path)
    if not path.exists():
        if missing_ok:
            return []
        raise StaffFileError(f"{path.name} không tồn tại")
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise StaffFileError(f"{path}: header must include {', '.join(REQUIRED)}")
        return [
            _row(path, number, row)
            for number, row in enumerate(reader, start=2)
            if any((v or "").strip() for v in row.values())
        ]


def _row(path: Path, number: int, row: dict[str, str]) -> dict[str, str]:
    values = {key: (row.get(key) or "").strip() for key in REQUIRED}
    values["role"] = values["role"].lower()
    if not values["zalo_user_id"] or not values["name"]:
        raise StaffFileError(f"{path}:{number}: zalo_user_id and name are required")
    if values["role"] not in ROLES:
        raise StaffFileError(f"{path}:{number}: role must be one of {', '.join(ROLES)}")
    return values
