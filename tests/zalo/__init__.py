"""tests/zalo."""
