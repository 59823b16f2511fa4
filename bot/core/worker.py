"""The loop shared by the background workers: one pass, then sleep until woken or polled."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from bot.core.logsafe import loggable

log = logging.getLogger(__name__)

BACKOFF_FIRST = 0.5  # seconds after a failed pass, doubling at each failure in a row
BACKOFF_MAX = 30.0
SUMMARY_EVERY = 60.0  # while passes keep failing, one line a minute says so


class Failures:
    """A worker's failed passes in a row: one log line when they start (with the traceback at
    DEBUG), one a minute while they go on, one when a pass succeeds again; and the pause
    before the next try, doubling up to BACKOFF_MAX (a database outage made a worker retry
    ~50 times a second and log a traceback each time)."""

    def __init__(self, name: str, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.name, self.monotonic = name, monotonic
        self.count = 0
        self._told_at = 0.0

    def failed(self, exc: Exception) -> float:
        """Record a failed pass; the seconds to wait before the next."""
        self.count += 1
        now = self.monotonic()
        if self.count == 1:
            log.warning("%s pass failed: %s", self.name, loggable(exc, 300))
            log.debug("%s pass failed", self.name, exc_info=exc)
            self._told_at = now
        elif now - self._told_at >= SUMMARY_EVERY:
            log.warning(
                "%s: still failing, %d passes in a row (%s)", self.name, self.count, loggable(exc)
            )
            self._told_at = now
        return float(min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (self.count - 1)))

    def succeeded(self) -> None:
        if self.count:
            log.warning("%s: working again after %d failed passes", self.name, self.count)
        self.count = 0


async def run_forever(
    one_pass: Callable[[], Awaitable[object]],
    wake: asyncio.Event,
    poll_seconds: float,
    name: str,
    stop: asyncio.Event | None = None,
) -> None:
    """Call `one_pass` until `stop` is set (a pass under way finishes) or the task is cancelled.

    A failing pass never kills the worker: it is logged (see Failures) and the next one waits,
    longer after each failure in a row, whatever wakes the worker meanwhile.
    """
    stop = stop or asyncio.Event()
    failures = Failures(name)
    while not stop.is_set():
        try:
            await one_pass()
        except Exception as exc:
            pause = failures.failed(exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), pause)
            continue
        failures.succeeded()
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
