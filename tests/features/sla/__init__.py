"""tests/features/sla."""
