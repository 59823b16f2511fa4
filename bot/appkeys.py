"""Typed aiohttp application state, in one place."""

from __future__ import annotations

from aiohttp import web

from bot.runtime import Runtime

RUNTIME = web.AppKey("runtime", Runtime)
