"""Command handlers, one module per command family. Importing this package registers them.

A new command is a new module here: a `parse(raw) -> args` function that raises UsageError,
and an `@command(...)` async handler `(ctx, args) -> list[Intent]`; then add the module below
and its words to bot/templates/<locale>/labels.toml.
"""

from bot.handlers import basics, customer, history, interactions, staff  # noqa: F401
