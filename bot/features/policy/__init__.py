"""bot/features/policy."""
