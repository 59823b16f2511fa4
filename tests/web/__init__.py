"""tests/web."""
