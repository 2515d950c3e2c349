"""What a benchmark prints and records: machine facts, Markdown tables, `docs/benchmarks.md`."""

from __future__ import annotations

import os
import platform
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS_DOC = ROOT / "docs" / "benchmarks.md"
# A one-minute load average above this when a run starts means other work shared the CPUs.
NOISY_LOAD = 0.5


@dataclass(frozen=True, slots=True)
class Machine:
    """Where and when a run happened; `load_at_start` is the one-minute load average."""

    started: datetime
    cpus: int
    cpu_model: str
    python: str
    sqlite: str
    load_at_start: float

    @classmethod
    def now(cls) -> Machine:
        return cls(
            started=datetime.now(UTC),
            cpus=len(os.sched_getaffinity(0)),
            cpu_model=_cpu_model(),
            python=platform.python_version(),
            sqlite=sqlite3.sqlite_version,
            load_at_start=os.getloadavg()[0],
        )

    def describe(self) -> str:
        """A Markdown paragraph: the machine, and a warning when the run was not alone."""
        load_now = os.getloadavg()[0]
        text = (
            f"Measured {self.started:%Y-%m-%d %H:%M} UTC on {self.cpus} CPUs (`nproc`), "
            f"{self.cpu_model}; Python {self.python}, SQLite {self.sqlite}. "
            f"Load average (1 min): {self.load_at_start:.2f} at the start, "
            f"{load_now:.2f} at the end."
        )
        if self.load_at_start > NOISY_LOAD:
            text += (
                f"\n\n**Noisy:** the load average was above {NOISY_LOAD} when the run started, "
                "so other processes were using the CPUs; re-run on a quiet machine before "
                "drawing conclusions from these numbers."
            )
        return text


def _cpu_model() -> str:
    try:
        with Path("/proc/cpuinfo").open(encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table, padded so it also reads well on a terminal."""
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), rule, *(line(row) for row in rows)])


def verdict(met: bool) -> str:
    return "met" if met else "**missed**"


def record_section(name: str, body: str, doc: Path = BENCHMARKS_DOC) -> None:
    """Replace the text between `<!-- NAME:begin -->` and `<!-- NAME:end -->` in the doc."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    try:
        text = doc.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SystemExit(f"--record: {doc} does not exist") from None
    head, found_begin, rest = text.partition(begin)
    _, found_end, tail = rest.partition(end)
    if not found_begin or not found_end:
        raise SystemExit(f"--record: {doc} has no '{begin}' … '{end}' markers")
    doc.write_text(f"{head}{begin}\n{body.strip()}\n{end}{tail}", encoding="utf-8")
    print(f"recorded in {doc.relative_to(ROOT)}")
