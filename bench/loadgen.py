"""The load generator: wrk replaying pre-signed events (bench/replay.lua), one instance per port.

wrk is a C program: on the bench's 2 cores it leaves the CPU to the service (a Python generator
would take a good part of a core at 2,000 events/s and tops out near 6,000/s). wrk's Lua can
target one host only, so two service processes get two wrk instances, one per port, each with
half the rate and half the connections: no proxy in between to add its own latency and CPU.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

LUA = Path(__file__).resolve().parent / "replay.lua"
PREFIX = "BENCH_JSON "
QUANTILES = 1000  # replay.lua prints the 0.1 %, 0.2 %, … 100 % latency quantiles


@dataclass
class Load:
    """What wrk measured, merged over its instances."""

    requests: int = 0
    seconds: float = 0.0
    failures: int = 0  # answers other than 2xx, and timeouts (part of `requests`)
    socket_errors: int = 0  # connect, read and write errors (not in `requests`)
    reused: int = 0  # events sent twice because the file ran out (duplicates for the service)
    max_ms: float = 0.0
    weighted: tuple[tuple[float, float], ...] = ()  # (latency ms, weight), sorted

    @property
    def sent_per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def acked(self) -> int:
        return self.requests - self.failures

    @property
    def acked_per_second(self) -> float:
        return self.acked / self.seconds if self.seconds else 0.0

    def latency_ms(self, pct: float) -> float:
        """Latency percentile over every answer (approximate when instances were merged)."""
        total = sum(weight for _, weight in self.weighted)
        seen = 0.0
        for value, weight in self.weighted:
            seen += weight
            if seen >= total * pct / 100 - 1e-9:
                return value
        return self.max_ms


def wrk_path() -> str:
    """The wrk binary, or SystemExit with how to get it."""
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is missing: `make bench` installs it (apt-get install -y wrk)")
    return found


def connections_for(rate: float, flat_connections: int) -> int:
    """Enough connections that a stall of ~125 ms does not put the paced schedule behind."""
    if rate <= 0:
        return flat_connections
    return max(32, min(256, int(rate / 8)))


def run_wrk(
    urls: list[str],
    event_files: list[Path],
    *,
    rate: float,
    seconds: float,
    connections: int,
    wrap: bool = False,
) -> Load:
    """Run one wrk per url at the same time, each with its share of rate and connections."""
    share = max(1, connections // len(urls))
    procs = []
    for url, events in zip(urls, event_files, strict=True):
        env = {
            **os.environ,
            "BENCH_EVENTS": str(events),
            "BENCH_RATE": str(rate / len(urls)),
            "BENCH_THREADS": "1",
            "BENCH_WRAP": "1" if wrap else "0",
        }
        duration = f"-d{max(1, math.ceil(seconds))}s"  # wrk takes whole seconds
        command = [wrk_path(), "-t1", f"-c{share}", duration, "--timeout", "10s"]
        command += ["-s", str(LUA), url]
        procs.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True))
    outputs = [proc.communicate()[0] for proc in procs]
    return merge([parse(output) for output in outputs])


def parse(output: str) -> dict:
    """The JSON line replay.lua prints in done()."""
    for line in output.splitlines():
        if line.startswith(PREFIX):
            return json.loads(line[len(PREFIX) :])
    raise RuntimeError(f"wrk printed no result:\n{output[-2000:]}")


def merge(runs: list[dict]) -> Load:
    """Sum the counts; pool the latency quantiles, each weighted by its instance's requests."""
    load = Load()
    pooled: list[tuple[float, float]] = []
    for run in runs:
        load.requests += run["requests"]
        load.failures += run["status_errors"] + run["timeouts"]
        load.socket_errors += run["connect_errors"] + run["read_errors"] + run["write_errors"]
        load.reused += run["reused"]
        load.seconds = max(load.seconds, run["duration_us"] / 1e6)
        load.max_ms = max(load.max_ms, run["max_us"] / 1000)
        weight = run["requests"] / QUANTILES
        pooled += [(value / 1000, weight) for value in run["quantiles_us"]]
    load.weighted = tuple(sorted(pooled))
    return load
