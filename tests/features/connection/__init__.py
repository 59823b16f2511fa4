"""tests/features/connection."""
