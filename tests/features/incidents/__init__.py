"""tests/features/incidents."""
