"""/history: the group's latest interactions, commands and decisions."""
