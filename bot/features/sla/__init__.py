"""bot/features/sla."""
