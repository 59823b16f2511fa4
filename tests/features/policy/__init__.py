"""tests/features/policy."""
