"""Load benchmark for POST /zalo/webhook: ack throughput, ack latency and processing lag.

Without --url it starts `python webhook.py` itself in local mode (no Zalo credentials, nothing
leaves the machine) on a temporary SQLite database and a free loopback port, and stops it at
the end. See bench/README.md for what each figure means.

    python bench/webhook_load.py [--url URL] [--events N] [--concurrency C] [--rate R]
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
import platform
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.zalo.payloads import group_message, signed  # noqa: E402
from config.settings import LOCAL_APP_ID, LOCAL_OA_SECRET_KEY, setting_names  # noqa: E402

CUSTOMER = "2000000000000000001"  # not in config/staff.csv: the customer side
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
POLL = 0.05


@dataclass
class Results:
    """What the load run measured."""

    sent: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    send_seconds: float = 0.0
    drain_seconds: float | None = None  # from the last ack until inbox_pending == 0

    @property
    def acked(self) -> int:
        return self.statuses["200"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running service (loopback only); default: start one")
    parser.add_argument("--events", type=int, default=3000, help="events to post (3000)")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight (32)")
    parser.add_argument("--rate", type=float, default=0.0, help="target events/s (0: no limit)")
    parser.add_argument("--groups", type=int, default=50, help="groups the events spread over")
    parser.add_argument("--app-id", default=LOCAL_APP_ID, help="signing app id (with --url)")
    parser.add_argument("--secret", default=LOCAL_OA_SECRET_KEY, help="OA secret (with --url)")
    parser.add_argument("--log-level", default="INFO", help="LOG_LEVEL of a started service")
    parser.add_argument(
        "--drain-timeout", type=float, default=300.0, help="longest wait for the inbox (s)"
    )
    args = parser.parse_args(argv)
    if args.events < 1 or args.concurrency < 1 or args.groups < 1 or args.rate < 0:
        parser.error("--events, --concurrency and --groups must be above 0, --rate at least 0")
    if args.url and not is_loopback(args.url):
        parser.error("--url must point at this machine (127.0.0.1, ::1 or localhost)")
    return args


def is_loopback(url: str) -> bool:
    """True when `url`'s host is a loopback address or localhost."""
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def service_env(db_path: Path, port: int, log_level: str) -> dict[str, str]:
    """Local mode: every setting named (empty = default), so a .env file cannot leak in."""
    env = {k: v for k, v in os.environ.items() if k not in setting_names()}
    env.update({name: "" for name in setting_names()})
    env.update(
        HOST="127.0.0.1",
        PORT=str(port),
        DATABASE_URL=f"sqlite:///{db_path}",
        STAFF_FILE=str(ROOT / "config" / "staff.csv"),
        LOG_LEVEL=log_level,
        # All the load comes from 127.0.0.1: the default per-source limit would answer 429.
        WEBHOOK_RATE_LIMIT="1000000",
    )
    return env


@contextmanager
def local_service(log_level: str) -> Iterator[str]:
    """Run webhook.py in local mode on a temporary SQLite file; yields its URL, then stops it."""
    with tempfile.TemporaryDirectory(prefix="webhook-bench-") as tmp:
        port = free_port()
        env = service_env(Path(tmp) / "bench.db", port, log_level)
        log_path = Path(tmp) / "service.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "webhook.py"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,  # local mode prints every outbound message
                stderr=log,
            )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_ready(url, proc, log_path)
            yield url
        finally:
            stop(proc)


def wait_ready(url: str, proc: subprocess.Popen[bytes], log_path: Path) -> None:
    """Poll /healthz until the database is ok; fail if the process dies or START_TIMEOUT passes."""
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the service exited during start:\n{log_path.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(POLL)
    raise SystemExit(f"the service was not ready after {START_TIMEOUT:.0f} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it does not stop within STOP_TIMEOUT."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=STOP_TIMEOUT)


def build_events(n: int, groups: int, app_id: str, secret: str) -> list[tuple[bytes, dict]]:
    """N signed user_send_group_text bodies with unique msg_ids, round-robin over `groups`."""
    run = uuid.uuid4().hex[:8]
    now = datetime.now(UTC)
    events = []
    for i in range(n):
        body = group_message(
            group_id=f"bench-group-{run}-{i % groups:03d}",
            sender_id=CUSTOMER,
            text=f"Chào shop, cho mình hỏi đơn hàng số {i}",
            at=now,
            app_id=app_id,
            msg_id=f"bench{run}{i:07d}",
        )
        events.append(signed(body, app_id=app_id, secret=secret))
    return events


async def post_all(
    url: str, events: list[tuple[bytes, dict]], concurrency: int, rate: float
) -> Results:
    """POST every event with `concurrency` workers, paced to `rate` events/s when above 0."""
    results = Results(sent=len(events))
    queue = iter(enumerate(events))
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        started = time.perf_counter()

        async def worker() -> None:
            for index, (raw, headers) in queue:
                if rate > 0:
                    await asyncio.sleep(max(0.0, started + index / rate - time.perf_counter()))
                await post_one(session, f"{url}/zalo/webhook", raw, headers, results)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        results.send_seconds = time.perf_counter() - started
    return results


async def post_one(
    session: aiohttp.ClientSession, url: str, raw: bytes, headers: dict, results: Results
) -> None:
    """One POST; its status (or exception name) and latency go into `results`."""
    began = time.perf_counter()
    try:
        async with session.post(url, data=raw, headers=headers) as response:
            await response.read()
            status = str(response.status)
    except (aiohttp.ClientError, TimeoutError) as exc:
        status = type(exc).__name__
    results.statuses[status] += 1
    if status == "200":
        results.latencies_ms.append((time.perf_counter() - began) * 1000)


async def wait_drained(url: str, timeout: float) -> float | None:
    """Seconds until GET /healthz reports inbox_pending == 0; None after `timeout`."""
    started = time.perf_counter()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        while time.perf_counter() - started < timeout:
            try:
                async with session.get(f"{url}/healthz") as response:
                    report = await response.json()
                if report.get("inbox_pending") == 0:
                    return time.perf_counter() - started
            except (aiohttp.ClientError, TimeoutError, ValueError):
                pass
            await asyncio.sleep(POLL)
    return None


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile of `values` (0 when empty)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


def machine() -> str:
    return (
        f"{os.cpu_count()} cores (nproc), Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, aiohttp {aiohttp.__version__}, {platform.platform()}"
    )


def report(args: argparse.Namespace, url: str, started_here: bool, results: Results) -> None:
    """Print the figures."""
    lat = results.latencies_ms
    others = {k: v for k, v in results.statuses.items() if k != "200"}
    target = "started by the bench: local mode, temporary SQLite" if started_here else "--url"
    rate = f"{args.rate:g}/s" if args.rate else "unlimited"
    print(f"machine:            {machine()}")
    print(f"service:            {url} ({target})")
    print(f"load:               concurrency {args.concurrency}, rate {rate}, {args.groups} groups")
    print(f"events sent:        {results.sent}")
    print(f"acknowledged (200): {results.acked}" + (f"  other: {others}" if others else ""))
    print(f"wall time:          {results.send_seconds:.2f} s")
    print(f"acked events/s:     {results.acked / results.send_seconds:.0f}")
    print(
        f"ack latency:        p50 {percentile(lat, 50):.1f} ms, p95 {percentile(lat, 95):.1f} ms,"
        f" p99 {percentile(lat, 99):.1f} ms, max {max(lat, default=0):.1f} ms"
    )
    if results.drain_seconds is None:
        print(f"processing lag:     inbox not drained within {args.drain_timeout:.0f} s")
        return
    total = results.send_seconds + results.drain_seconds
    print(
        f"processing lag:     inbox drained {results.drain_seconds:.2f} s after the last ack "
        f"({total:.2f} s after the first send: {results.acked / total:.0f} processed events/s)"
    )


async def run(args: argparse.Namespace, url: str, started_here: bool) -> Results:
    events = build_events(args.events, args.groups, args.app_id, args.secret)
    results = await post_all(url, events, args.concurrency, args.rate)
    results.drain_seconds = await wait_drained(url, args.drain_timeout)
    report(args, url, started_here, results)
    return results


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit status 1 when an event was not acknowledged or not processed."""
    args = parse_args(argv)
    if args.url:
        results = asyncio.run(run(args, args.url.rstrip("/"), started_here=False))
    else:
        with local_service(args.log_level) as url:
            results = asyncio.run(run(args, url, started_here=True))
    return 0 if results.acked == results.sent and results.drain_seconds is not None else 1


if __name__ == "__main__":
    raise SystemExit(main())
