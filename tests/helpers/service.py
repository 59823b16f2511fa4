"""The real service as a process: its environment, a free port, waiting for a condition."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx

from config.settings import setting_names
from tests.support import ROOT

APP_ID = "e2e-app-id"


APP_SECRET = "e2e-app-secret"


OA_SECRET = "e2e-oa-secret-key"


ENV_ACCESS = "e2e-env-access-token"


ENV_REFRESH = "e2e-env-refresh-token"


START_TIMEOUT = 45.0  # one start is ~1 s; a loaded 2-core runner can be much slower


REPLY_TIMEOUT = 45.0


STOP_TIMEOUT = 30.0


POLL = 0.05


T = TypeVar("T")


def eventually(check: Callable[[], T], what: str, timeout: float = REPLY_TIMEOUT) -> T:
    """Poll `check` until it returns something truthy; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(POLL)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def service_env(tmp: Path, port: int, **settings: str) -> dict[str, str]:
    """Every setting named (empty = default) so a developer's .env cannot leak in."""
    env = {k: v for k, v in os.environ.items() if k not in setting_names()}
    env.update({name: "" for name in setting_names()})
    env.update(
        PORT=str(port),
        HOST="127.0.0.1",
        DATABASE_URL=f"sqlite:///{tmp / 'e2e.db'}",
        STAFF_FILE=str(ROOT / "config" / "staff.csv"),
        ADMIN_TOKEN=ADMIN_TOKEN,
        LOG_LEVEL="INFO",
    )
    env.update(settings)
    return env


LAUNCH = (
    "import datetime, os, runpy, bot.core.outbox;"
    "bot.core.outbox.LEASE = datetime.timedelta(seconds=float(os.environ['TEST_OUTBOX_LEASE']));"
    "runpy.run_path('webhook.py', run_name='__main__')"
)


@dataclass
class Process:
    """One `python webhook.py` (with the short lease) and its log files."""

    env: dict[str, str]
    logs: Path
    proc: subprocess.Popen[bytes] | None = None
    runs: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.env['PORT']}"

    def start(self) -> None:
        self.runs += 1
        out = (self.logs / f"stdout-{self.runs}.log").open("wb")
        err = (self.logs / f"stderr-{self.runs}.log").open("wb")
        with out, err:
            argv = [sys.executable, "-c", LAUNCH]
            self.proc = subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=out, stderr=err)
        eventually(self._ready, f"{self.url}/healthz", timeout=START_TIMEOUT)

    def _ready(self) -> bool:
        assert self.proc is not None and self.proc.poll() is None, self.stderr()
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(f"{self.url}/healthz", timeout=2.0).status_code == 200
        return False

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=STOP_TIMEOUT)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STOP_TIMEOUT)

    def stderr(self) -> str:
        path = self.logs / f"stderr-{self.runs}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def post(self, raw: bytes, headers: dict[str, str]) -> int | None:
        """The status of one webhook POST; None when the process did not answer."""
        try:
            return httpx.post(
                f"{self.url}/zalo/webhook", content=raw, headers=headers, timeout=30.0
            ).status_code
        except httpx.TransportError:
            return None


ADMIN_TOKEN = "e2e-admin-token"
