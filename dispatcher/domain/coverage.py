"""Coverage of an activation: per unit, how many are confirmed against how many are needed.

Every called person is in exactly one bucket: confirmed, declined, awaiting, no_answer
or failed. The gap of a unit is `max(0, needed − confirmed)`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

BUCKETS = ("confirmed", "declined", "awaiting", "no_answer", "failed")


@dataclass(frozen=True, slots=True)
class UnitTally:
    """What the store counted for one unit: call-ups per state."""

    unit_id: str
    name: str
    needed: int
    by_state: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class UnitCoverage:
    unit_id: str
    name: str
    needed: int
    called: int
    confirmed: int
    declined: int
    awaiting: int
    no_answer: int
    failed: int

    @property
    def gap(self) -> int:
        return max(0, self.needed - self.confirmed)


@dataclass(frozen=True, slots=True)
class Coverage:
    units: tuple[UnitCoverage, ...]

    @property
    def needed(self) -> int:
        return sum(u.needed for u in self.units)

    @property
    def gap(self) -> int:
        return sum(u.gap for u in self.units)

    def total(self, bucket: str) -> int:
        return sum(getattr(u, bucket) for u in self.units)

    @property
    def called(self) -> int:
        return sum(u.called for u in self.units)


def compute_coverage(tallies: Iterable[UnitTally]) -> Coverage:
    """Coverage per unit, sorted by largest gap first, then name."""
    units = []
    for tally in tallies:
        unknown = set(tally.by_state) - set(BUCKETS)
        if unknown:
            raise ValueError(f"unknown call-up state(s): {sorted(unknown)}")
        counts = {bucket: tally.by_state.get(bucket, 0) for bucket in BUCKETS}
        units.append(
            UnitCoverage(
                unit_id=tally.unit_id,
                name=tally.name,
                needed=tally.needed,
                called=sum(counts.values()),
                **counts,
            )
        )
    units.sort(key=lambda u: (-u.gap, u.name, u.unit_id))
    return Coverage(tuple(units))
