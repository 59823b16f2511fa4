"""Typed aiohttp application state, in one place. A leaf module: capabilities' routes and the
pages import it without importing the app (Runtime is only named for the type checker)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from bot.app.runtime import Runtime

RUNTIME: web.AppKey[Runtime] = web.AppKey("runtime")
