"""The loop shared by the background workers: one pass, then sleep until woken or polled."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


async def run_forever(
    one_pass: Callable[[], Awaitable[object]],
    wake: asyncio.Event,
    poll_seconds: float,
    name: str,
    stop: asyncio.Event | None = None,
) -> None:
    """Call `one_pass` until `stop` is set (a pass under way finishes) or the task is cancelled.

    A failing pass is logged and never kills the worker.
    """
    stop = stop or asyncio.Event()
    while not stop.is_set():
        try:
            await one_pass()
        except Exception:
            log.exception("%s pass failed", name)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), poll_seconds)
        wake.clear()


async def stop_after_pass(
    task: asyncio.Task[None], stop: asyncio.Event, wake: asyncio.Event, grace_seconds: float = 10.0
) -> None:
    """Let the worker finish the pass under way, then end; cancel it only past the grace time.

    Cancelling a task in the middle of a database call can leave the SQLite driver's close
    waiting forever at exit, and a send cut short could be sent twice after a restart.
    """
    stop.set()
    wake.set()
    try:
        await asyncio.wait_for(asyncio.shield(task), grace_seconds)
    except TimeoutError:
        task.cancel()
