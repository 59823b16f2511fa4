"""Incidents and complaints (3.3): reported, routed to the department, answered and resolved
in time."""
