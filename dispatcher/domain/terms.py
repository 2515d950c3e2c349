"""School terms: VT (vårtermin, spring, January to June) and HT (hösttermin, July to December)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class Season(StrEnum):
    SPRING = "VT"
    AUTUMN = "HT"


_TERM_PATTERN = re.compile(r"^\s*(VT|HT)\s*-?\s*(\d{4}|\d{2})\s*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True, order=True)
class Term:
    """One school term. Orders chronologically: VT2026 < HT2026 < VT2027."""

    year: int
    season_index: int  # 0 = VT, 1 = HT; kept as the sort key after the year

    @classmethod
    def of(cls, season: Season, year: int) -> Term:
        return cls(year=year, season_index=0 if season is Season.SPRING else 1)

    @property
    def season(self) -> Season:
        return Season.SPRING if self.season_index == 0 else Season.AUTUMN

    def previous(self) -> Term:
        if self.season_index == 1:
            return Term(self.year, 0)
        return Term(self.year - 1, 1)

    def next(self) -> Term:
        if self.season_index == 0:
            return Term(self.year, 1)
        return Term(self.year + 1, 0)

    def __str__(self) -> str:
        return f"{self.season.value}{self.year}"


def term_of(day: date) -> Term:
    """The term a date falls in: January–June is VT, July–December is HT."""
    return Term(day.year, 0 if day.month <= 6 else 1)


def parse_term(text: str) -> Term:
    """Parse `VT2026`, `ht25`, `HT-2025`. Raises ValueError with a readable message."""
    match = _TERM_PATTERN.match(text)
    if match is None:
        raise ValueError("not a term; write it like VT2026 or HT2025")
    season = Season(match.group(1).upper())
    year = int(match.group(2))
    if year < 100:
        year += 2000
    return Term.of(season, year)


def valid_terms(today: date, count: int) -> frozenset[Term]:
    """The `count` most recent terms, the current one included."""
    term = term_of(today)
    terms = set()
    for _ in range(count):
        terms.add(term)
        term = term.previous()
    return frozenset(terms)
