"""tests/features/reports."""
