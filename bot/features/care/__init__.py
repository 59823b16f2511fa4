"""bot/features/care."""
