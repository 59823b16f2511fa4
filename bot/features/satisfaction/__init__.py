"""bot/features/satisfaction."""
