"""tests/features/care."""
