"""tests/features/payments."""
