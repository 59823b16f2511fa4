"""bot/features/staff."""
