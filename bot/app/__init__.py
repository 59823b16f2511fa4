"""The composition root: create_app (factory.py), the registry of what is switched on
(registry.py), the Runtime and its parts, the webhook view, health, metrics and the /api."""
