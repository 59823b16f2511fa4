"""bot/zalo."""
