"""(being written) GET /api/reports/{name} as CSV."""

from aiohttp import web


def setup(app: web.Application) -> None:
    """Add the report routes."""
