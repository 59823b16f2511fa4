"""bot/features/incidents."""
