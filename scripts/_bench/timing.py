"""Stopwatches, repeat statistics, and the clean-up guarantees every benchmark relies on."""

from __future__ import annotations

import asyncio
import shutil
import signal
import statistics
import tempfile
import time
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

T = TypeVar("T")

MAX_REPEAT = 20  # every repeat loop is bounded, whatever the command line says


@dataclass
class Phases:
    """Seconds per named phase, one entry per repeat, in the order phases were first seen."""

    seconds: dict[str, list[float]] = field(default_factory=dict)

    def add(self, name: str, seconds: float) -> None:
        self.seconds.setdefault(name, []).append(seconds)

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - started)

    def median(self, name: str) -> float:
        return statistics.median(self.seconds[name])

    def minimum(self, name: str) -> float:
        return min(self.seconds[name])


def seconds(value: float) -> str:
    """A duration for a table: milliseconds below a second, else seconds."""
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def checked_repeat(repeat: int) -> int:
    if not 1 <= repeat <= MAX_REPEAT:
        raise SystemExit(f"--repeat must be 1–{MAX_REPEAT}, got {repeat}")
    return repeat


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def interrupt_on_sigterm() -> None:
    """Make SIGTERM behave like Ctrl-C, so every `finally` (child processes, files) runs."""
    signal.signal(signal.SIGTERM, _interrupt)


def run_async(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)`, where SIGTERM, like Ctrl-C, cancels the main task (so its
    `finally` blocks close connections, channels and the dispatcher in order) and then
    raises KeyboardInterrupt. Raised at an arbitrary point instead, the interrupt would
    leave tasks to be torn down in no particular order."""

    async def guarded() -> T:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        interrupted = False

        def cancel() -> None:
            nonlocal interrupted
            interrupted = True
            task.cancel()

        loop.add_signal_handler(signal.SIGTERM, cancel)
        try:
            return await main
        except asyncio.CancelledError:
            if interrupted:
                raise KeyboardInterrupt from None
            raise
        finally:
            loop.remove_signal_handler(signal.SIGTERM)
            signal.signal(signal.SIGTERM, _interrupt)

    return asyncio.run(guarded())


@contextmanager
def scratch_directory(prefix: str) -> Iterator[Path]:
    """A temporary directory outside the repository, removed on the way out, whatever happens."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
