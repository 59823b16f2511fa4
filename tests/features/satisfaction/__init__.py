"""tests/features/satisfaction."""
