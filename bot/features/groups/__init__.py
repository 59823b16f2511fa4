"""bot/features/groups."""
