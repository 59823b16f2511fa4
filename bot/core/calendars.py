"""The working-time calendar of each group: the company's, or the group's own override."""

from __future__ import annotations

from functools import lru_cache

from bot.core.worktime import Calendar, parse_working_hours
from config.settings import Settings
from storage.models import Group


class Calendars:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._build = lru_cache(maxsize=64)(self._calendar)

    def _calendar(self, spec: str) -> Calendar:
        return Calendar(parse_working_hours(spec), self.settings.tz, self.settings.holidays)

    def for_group(self, group: Group | None, customer_group: str | None = None) -> Calendar:
        """The group's own working hours when a head set them, else its customer group's
        (SLA_BY_CUSTOMER_GROUP, e.g. vip=24/7), else the company's."""
        spec = group.working_hours if group and group.working_hours else None
        if spec is None and customer_group:
            spec = self.settings.customer_group_targets.get(customer_group, (None, None))[1]
        return self._build(spec or self.settings.working_hours)
