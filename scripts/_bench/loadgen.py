"""The load generator: its own process, an aiohttp client with N concurrent connections.

`run_load(...)`, called by the benchmark, starts `python -m _bench.loadgen SPEC OUT …`
and waits for it. That process reads ready-made requests from SPEC (a JSON
file: every signature and body computed before any timing), sends them to the server
on 127.0.0.1 with `--connections` workers over keep-alive connections, checks every
answer, and writes what happened to OUT. Each request is sent once (with `--cycle`, the
list is sent again and again); no new request starts after `--seconds`, and the run is
cut off after `--max-seconds` (requests still waiting then count as unanswered). At most
`MAX_REQUESTS` requests are sent.

The timed window runs from the first request sent to the last answer received.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from _bench.children import clean_environment, cpu_seconds
from _bench.report import ROOT

MAX_REQUESTS = 2_000_000
REQUEST_TIMEOUT_SECONDS = 15.0  # as long as Twilio waits for a webhook's answer
MAX_BAD_EXAMPLES = 5


@dataclass(frozen=True, slots=True)
class Checks:
    """What every answer must be: one of `statuses`; a 200 with this content type and
    a body starting with `body_prefix`."""

    statuses: frozenset[int] = frozenset({200})
    content_type: str = ""
    body_prefix: str = ""

    def problem(self, status: int, content_type: str, body: bytes) -> str | None:
        if status not in self.statuses:
            return f"status {status}: {body[:200]!r}"
        if status == 200 and self.content_type and content_type != self.content_type:
            return f"content type {content_type!r}"
        if status == 200 and not body.startswith(self.body_prefix.encode()):
            return f"body {body[:200]!r}"
        return None


@dataclass
class LoadResult:
    """What one load run saw; `ok_tags` are the tags of requests answered as checked."""

    sent: int = 0
    answered: int = 0
    seconds: float = 0.0  # the timed window
    statuses: Counter[int] = field(default_factory=Counter)
    bad: int = 0  # answered, but not as checked
    failed: int = 0  # no answer: connection error, or none within REQUEST_TIMEOUT_SECONDS
    bad_examples: list[str] = field(default_factory=list)
    ok_tags: list[str] = field(default_factory=list)
    latency_ms: dict[str, float] = field(default_factory=dict)
    timed_out: bool = False  # cut off at max_seconds with requests still waiting
    loadgen_cpu: float = 0.0  # the load generator's own CPU seconds
    server_cpu: float = 0.0  # the server's CPU seconds while the load generator ran

    @property
    def rate(self) -> float:
        return self.answered / self.seconds if self.seconds else 0.0

    def require_clean(self, what: str) -> None:
        """Stop the benchmark if any answer failed its check (a request that got no answer
        in time is counted in `failed` and reported, not fatal)."""
        if self.bad:
            raise RuntimeError(
                f"{what}: {self.bad} bad answers of {self.sent}; "
                f"statuses {dict(self.statuses)}; first: {self.bad_examples[:3]}"
            )


def write_spec(path: Path, requests: list[dict[str, Any]]) -> Path:
    """Requests as the load generator reads them: method, path, headers, body, tag."""
    path.write_text(json.dumps({"requests": requests}), encoding="utf-8")
    return path


def run_load(
    spec: Path,
    base_url: str,
    *,
    connections: int,
    max_seconds: float,
    checks: Checks,
    server_pid: int,
    seconds: float,
    cycle: bool = False,
) -> LoadResult:
    """Run the load generator as its own process; bounded by `max_seconds` (plus start-up)."""
    out = spec.with_suffix(".result.json")
    command = [sys.executable, "-m", "_bench.loadgen", str(spec), str(out), base_url]
    command += ["--connections", str(connections), "--max-seconds", str(max_seconds)]
    command += ["--statuses", ",".join(str(s) for s in sorted(checks.statuses))]
    command += ["--content-type", checks.content_type, "--body-prefix", checks.body_prefix]
    command += ["--seconds", str(seconds), *(["--cycle"] if cycle else [])]
    env = clean_environment() | {"PYTHONPATH": str(ROOT / "scripts")}
    server_before = cpu_seconds(server_pid)
    subprocess.run(command, cwd=ROOT, env=env, check=True, timeout=max_seconds + 120)
    server_cpu = cpu_seconds(server_pid) - server_before
    raw = json.loads(out.read_text(encoding="utf-8"))
    out.unlink()
    result = LoadResult(
        **{**raw, "statuses": Counter({int(k): v for k, v in raw["statuses"].items()})}
    )
    result.server_cpu = server_cpu
    return result


# -- the load generator process -------------------------------------------------------------

_Prepared = tuple[str, str, dict[str, str], bytes | None, str | None]


async def _load(
    requests: list[_Prepared],
    connections: int,
    checks: Checks,
    seconds: float,
    max_seconds: float,
    cycle: bool,
) -> LoadResult:
    result = LoadResult()
    latencies: list[float] = []
    indexes = itertools.count()
    limit = MAX_REQUESTS if cycle else min(len(requests), MAX_REQUESTS)
    stop_at = time.perf_counter() + seconds
    last_answer = 0.0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal last_answer
        while (index := next(indexes)) < limit and time.perf_counter() < stop_at:
            method, url, headers, body, tag = requests[index % len(requests)]
            result.sent += 1
            started = time.perf_counter()
            try:
                async with session.request(method, url, headers=headers, data=body) as answer:
                    payload = await answer.read()
                    status, content_type = answer.status, answer.content_type
            except (aiohttp.ClientError, TimeoutError) as error:
                result.failed += 1
                _example(result, f"{type(error).__name__}: {error}")
                continue
            last_answer = time.perf_counter()
            latencies.append(last_answer - started)
            result.answered += 1
            result.statuses[status] += 1
            problem = checks.problem(status, content_type, payload)
            if problem is None:
                if tag is not None:
                    result.ok_tags.append(tag)
            else:
                result.bad += 1
                _example(result, problem)

    connector = aiohttp.TCPConnector(limit=connections)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(max_seconds):
                await asyncio.gather(*(worker(session) for _ in range(connections)))
        except TimeoutError:
            result.timed_out = True
    result.seconds = max(last_answer - started, 0.0)
    result.latency_ms = _percentiles(latencies)
    return result


def _example(result: LoadResult, problem: str) -> None:
    if len(result.bad_examples) < MAX_BAD_EXAMPLES:
        result.bad_examples.append(problem)


def _percentiles(latencies: list[float]) -> dict[str, float]:
    if not latencies:
        return {}
    ordered = sorted(latencies)

    def at(share: float) -> float:
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000

    return {"p50": at(0.50), "p90": at(0.90), "p99": at(0.99), "max": ordered[-1] * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m _bench.loadgen", description=__doc__)
    parser.add_argument("spec", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("base_url")
    parser.add_argument("--connections", type=int, required=True)
    parser.add_argument("--max-seconds", type=float, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--cycle", action="store_true")
    parser.add_argument("--statuses", default="200")
    parser.add_argument("--content-type", default="")
    parser.add_argument("--body-prefix", default="")
    args = parser.parse_args()
    base = args.base_url.rstrip("/")
    requests: list[_Prepared] = [
        (
            r["method"],
            base + r["path"],
            r["headers"],
            r["body"].encode() if r.get("body") is not None else None,
            r.get("tag"),
        )
        for r in json.loads(args.spec.read_text(encoding="utf-8"))["requests"]
    ]
    checks = Checks(
        frozenset(int(s) for s in args.statuses.split(",")), args.content_type, args.body_prefix
    )
    cpu_before = sum(os.times()[:2])
    result = asyncio.run(
        _load(requests, args.connections, checks, args.seconds, args.max_seconds, args.cycle)
    )
    result.loadgen_cpu = sum(os.times()[:2]) - cpu_before
    raw = {name: getattr(result, name) for name in LoadResult.__dataclass_fields__}
    args.out.write_text(json.dumps(raw), encoding="utf-8")


if __name__ == "__main__":
    main()
