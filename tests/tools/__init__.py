"""tests/tools."""
