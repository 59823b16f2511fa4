"""What is switched on: the one list of the rules, commands, scheduled jobs, API routes and
pages the app runs. The core knows none of them; create_app hands these to it.

A capability that is not listed here does nothing, and tests/app/test_registry.py fails when a
rule module, a command module or a page under bot/ is missing from these lists.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

from aiohttp import web

from bot.core.apidoc import ApiDoc
from bot.core.commands import arrange
from bot.core.rules import Rule
from bot.features.care import api as care_api
from bot.features.care import commands as care_commands
from bot.features.care import openapi as care_doc
from bot.features.care import order_commands
from bot.features.care import rule as care
from bot.features.deals import commands as deal_commands
from bot.features.deals import customer
from bot.features.deals import rule as deals
from bot.features.groups import commands as group_commands
from bot.features.history import commands as history
from bot.features.incidents import commands as incident_commands
from bot.features.incidents import rule as incidents
from bot.features.payments import commands as payment_commands
from bot.features.payments import queries as payment_queries
from bot.features.payments import rule as payment_gate
from bot.features.policy import rule as policy_guard
from bot.features.privacy import commands as privacy_commands
from bot.features.reports import api as reports_api
from bot.features.reports import commands as report_commands
from bot.features.reports import digests
from bot.features.reports import openapi as reports_doc
from bot.features.satisfaction import interactions
from bot.features.satisfaction import rule as satisfaction
from bot.features.sla import commands as sla_commands
from bot.features.sla import corrections
from bot.features.sla import rule as sla
from bot.features.staff import api as staff_api
from bot.features.staff import away, basics, login
from bot.features.staff import commands as staff_commands
from bot.features.staff import openapi as staff_doc
from bot.web import (
    auth,
    connection,
    directory,
    exports,
    groups,
    overview,
    reports,
    simulator,
    staff,
)

Setup = Callable[[web.Application], None]

# The rules, in the order they see every event.
RULES: tuple[Rule, ...] = (
    Rule("sla", on_event=sla.on_event, sweep=sla.sweep, due=sla.due),
    Rule("deals", on_event=deals.on_event, sweep=deals.sweep, due=deals.due),
    Rule(
        "payment_gate",
        on_event=payment_gate.on_event,
        guard=payment_gate.guard,
        sweep=payment_gate.sweep,
        due=payment_gate.due,
    ),
    Rule("incidents", on_event=incidents.on_event, sweep=incidents.sweep, due=incidents.due),
    Rule("policy_guard", on_event=policy_guard.on_event),
    Rule(
        "satisfaction",
        on_event=satisfaction.on_event,
        sweep=satisfaction.sweep,
        due=satisfaction.due,
    ),
)

# The command modules: each registers its @command handlers (router: bot/core/commands.py).
COMMANDS: tuple[ModuleType, ...] = (
    basics,
    care_commands,
    corrections,
    customer,
    deal_commands,
    group_commands,
    history,
    incident_commands,
    interactions,
    login,
    order_commands,
    payment_commands,
    privacy_commands,
    report_commands,
    sla_commands,
    staff_commands,
    away,
)
arrange(COMMANDS)  # /help lists the commands in this order

# The modules whose @job functions run on the scheduler (bot/core/schedules.py).
JOBS: tuple[ModuleType, ...] = (care, digests, group_commands)

# The integration API under /api: each capability's routes.
API: tuple[Setup, ...] = (care_api.setup, staff_api.setup, reports_api.setup)
# ... and their parts of the OpenAPI document (GET /api/openapi.json)
API_DOCS: tuple[ApiDoc, ...] = (care_doc.DOC, staff_doc.DOC, reports_doc.DOC)

# Each capability's part of GET /api/groups/{group_id}: (db, group) -> dict merged in.
GROUP_SECTIONS = (sla.api_section, payment_queries.api_section, incidents.api_section)

# The dashboard and the simulator, one module per page.
PAGES: tuple[Setup, ...] = tuple(
    module.setup
    for module in (
        auth,
        overview,
        groups,
        staff,
        directory,
        connection,
        reports,
        exports,
        simulator,
    )  # fmt: skip
)
