"""bot/features/reports."""
