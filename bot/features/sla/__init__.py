"""The response SLA (regulation 3.2, 5): which customer messages need an answer, the clock,
its reminders, breaches and escalations, corrections, /sla."""
