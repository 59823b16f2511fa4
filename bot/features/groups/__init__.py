"""Group membership and state read from Zalo: /sync and the daily reading."""
