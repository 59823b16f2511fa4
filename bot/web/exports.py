"""Dashboard part: per-customer data export download (to be written)."""

from __future__ import annotations

from aiohttp import web


def setup(app: web.Application) -> None:
    """Add this part's routes."""
