"""tests/features/deals."""
