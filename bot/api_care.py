"""(being written) POST /api/products, POST /api/orders, care assignments."""

from aiohttp import web


def setup(app: web.Application) -> None:
    """Add the care routes."""
