"""The reports' test period and the API's bearer token."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

VN = ZoneInfo("Asia/Ho_Chi_Minh")


AUTH = {"Authorization": "Bearer test-admin-token"}


NOVEMBER = (datetime(2026, 11, 1, tzinfo=VN), datetime(2026, 12, 1, tzinfo=VN))
