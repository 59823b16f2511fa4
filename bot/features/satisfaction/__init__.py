"""Satisfaction: rating requests after an incident, scores and feedback, /log of interactions."""
