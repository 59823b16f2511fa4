"""tests/features/privacy."""
