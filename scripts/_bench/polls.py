"""Status polls for `scripts/bench_replies`: many dashboards asking for one activation's
status at once, with `wrk` (Debian's package, one thread) when it is installed, otherwise
with the Python load generator. Both keep `CONNECTIONS` connections busy for a fixed time.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from _bench.children import cpu_seconds
from _bench.loadgen import Checks, run_load, write_spec

CONNECTIONS = 64
STATUS_PATH = "/api/activations/{}/status"
# Prints wrk's summary as one JSON line (latencies in microseconds).
_WRK_SCRIPT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"bytes": %d, "errors": %d, "bad_status": %d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, summary.bytes, e.connect + e.read + e.write + e.timeout, e.status))
end
"""


@dataclass(frozen=True, slots=True)
class PollResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    server_cpu: float  # the server's CPU seconds during the run

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


@dataclass(frozen=True, slots=True)
class StatusSnapshot:
    body: bytes
    etag: str


def fetch_status(base_url: str, activation_id: str, token: str) -> StatusSnapshot:
    request = urllib.request.Request(  # our own loopback URL
        base_url + STATUS_PATH.format(activation_id),
        headers={"Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return StatusSnapshot(answer.read(), answer.headers["ETag"])


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def poll(
    base_url: str,
    activation_id: str,
    headers: dict[str, str],
    *,
    expect: int,
    body_size: int,
    seconds: float,
    server_pid: int,
    scratch: Path,
    use_wrk: bool,
) -> PollResult:
    """Poll for `seconds` at CONNECTIONS connections; every answer must have status `expect`
    (200 with a body of `body_size` bytes, or 304)."""
    url = base_url + STATUS_PATH.format(activation_id)
    if use_wrk:
        return _wrk(url, headers, expect, body_size, seconds, server_pid, scratch)
    spec = write_spec(
        scratch / "polls.json",
        [{"method": "GET", "path": STATUS_PATH.format(activation_id), "headers": headers}],
    )
    checks = Checks(frozenset({expect}), "application/json" if expect == 200 else "")
    result = run_load(
        spec,
        base_url,
        connections=CONNECTIONS,
        max_seconds=seconds + 30,
        checks=checks,
        server_pid=server_pid,
        seconds=seconds,
        cycle=True,
    )
    result.require_clean(f"status polls ({expect})")
    if result.failed:
        raise RuntimeError(f"status polls ({expect}): {result.failed} requests got no answer")
    return PollResult(
        result.answered,
        result.seconds,
        result.latency_ms["p50"],
        result.latency_ms["p99"],
        result.server_cpu,
    )


def _wrk(
    url: str,
    headers: dict[str, str],
    expect: int,
    body_size: int,
    seconds: float,
    server_pid: int,
    scratch: Path,
) -> PollResult:
    script = scratch / "summary.lua"
    script.write_text(_WRK_SCRIPT, encoding="utf-8")
    command = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds:g}s", "--timeout", "10s"]
    command += ["-s", str(script)]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    before = cpu_seconds(server_pid)
    done = subprocess.run(
        [*command, url], capture_output=True, text=True, check=True, timeout=seconds + 60
    )
    server_cpu = cpu_seconds(server_pid) - before
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    if summary["errors"] or summary["bad_status"]:
        raise RuntimeError(f"wrk saw errors polling {url}: {done.stdout}")
    # wrk counts only answers outside 200–399 as bad; the bytes read tell a 200 from a 304.
    per_answer = summary["bytes"] / max(summary["requests"], 1)
    if (per_answer >= body_size) != (expect == 200):
        raise RuntimeError(f"expected {expect}s from {url}, got {per_answer:.0f} bytes each")
    return PollResult(
        summary["requests"],
        summary["duration_us"] / 1e6,
        summary["p50_us"] / 1000,
        summary["p99_us"] / 1000,
        server_cpu,
    )
