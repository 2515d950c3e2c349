"""Child processes of a benchmark: started on 127.0.0.1, waited for, and always stopped.

A server child prints its URL on its first line of standard output once it listens
(as the fake Twilio does); `running_server` waits for that line, bounded in time, and
stops the child on the way out whatever happened. `CpuClock` reads how much CPU a child
used (all its threads), so a report can say which process was the bottleneck.
"""

from __future__ import annotations

import os
import selectors
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

STARTUP_SECONDS = 60.0
STOP_SECONDS = 10.0
_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
# Variables that would make a child read settings other than the bench's own.
_FOREIGN_ENVIRONMENT = ("DISPATCHER_", "TWILIO_")


def clean_environment() -> dict[str, str]:
    """The environment without the service's and Twilio's overrides (`settings.py`)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(_FOREIGN_ENVIRONMENT)}


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago (for a server that needs a number)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True, slots=True)
class Server:
    url: str
    process: subprocess.Popen[str]

    @property
    def pid(self) -> int:
        return self.process.pid


@contextmanager
def running_server(
    name: str,
    command: Sequence[str],
    log: Path,
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    url: str | None = None,
) -> Iterator[Server]:
    """Start `command`; yield once it is ready; always stop it afterwards.

    Ready means: it printed a line starting with `http://127.0.0.1:` (its URL), or, when
    `url` is given (a server that prints nothing), that URL accepts TCP connections.
    """
    with log.open("w", encoding="utf-8") as errors:
        process = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=dict(env) if env is not None else clean_environment(),
            stdout=subprocess.PIPE if url is None else subprocess.DEVNULL,
            stderr=errors,
            text=True,
        )
    try:
        ready = _printed_url(process) if url is None else _accepting(process, url)
        if ready is None:
            problem = log.read_text(encoding="utf-8").strip()[-1500:] or "no output"
            raise RuntimeError(f"{name} did not start: {problem}")
        yield Server(ready, process)
    finally:
        stop(process)


def _printed_url(process: subprocess.Popen[str]) -> str | None:
    assert process.stdout is not None
    deadline = time.monotonic() + STARTUP_SECONDS
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while (left := deadline - time.monotonic()) > 0:  # bounded by the deadline
            if selector.select(timeout=left):
                line = process.stdout.readline().strip()
                return line if line.startswith("http://127.0.0.1:") else None
    return None


def _accepting(process: subprocess.Popen[str], url: str) -> str | None:
    host, _, port = url.removeprefix("http://").rstrip("/").rpartition(":")
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline and process.poll() is None:  # bounded by the deadline
        try:
            with socket.create_connection((host, int(port)), timeout=1.0):
                return url
        except OSError:
            time.sleep(0.05)  # polling a child we do not control: nothing to wait on
    return None


def stop(process: subprocess.Popen[str], *, kill: bool = False) -> None:
    """SIGTERM (or SIGKILL) the child and reap it; SIGKILL if it does not stop in time."""
    if process.poll() is None:
        process.kill() if kill else process.terminate()
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_SECONDS)
    if process.stdout is not None:
        process.stdout.close()


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used so far, all its threads included."""
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS_PER_SECOND  # utime, stime
