"""bot/features/payments."""
