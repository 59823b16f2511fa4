"""tests/features/staff."""
