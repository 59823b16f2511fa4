"""Command handlers, one module per command family. Importing this package registers them.

A new command is a new module here: a `parse(raw) -> args` function that raises UsageError,
and an `@command(...)` async handler `(ctx, args) -> list[Intent]`; then add the module below
and its words to a bot/templates/<locale>/*.toml file.
"""

from bot.handlers import (  # noqa: F401
    basics,
    care,
    corrections,
    customer,
    deals,
    group_sync,
    history,
    incidents,
    interactions,
    login,
    orders,
    payments,
    privacy,
    reports,
    sla,
    staff,
    staff_away,
)
