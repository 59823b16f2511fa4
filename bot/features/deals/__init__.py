"""bot/features/deals."""
