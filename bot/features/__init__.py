"""One package per business capability: its policy (pure), rule, commands, queries, API routes."""
