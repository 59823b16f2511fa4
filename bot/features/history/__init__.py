"""bot/features/history."""
