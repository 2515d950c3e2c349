"""Training weeks for the demo roster: rows of `person_id, unit_id, term, week_start`."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from datetime import date, timedelta

from dispatcher.domain.terms import Term, term_of


def _term_start(term: Term) -> date:
    return date(term.year, 1 if term.season_index == 0 else 7, 1)


def _mondays(start: date, end: date) -> list[date]:
    """Every Monday from `start` up to and including `end`."""
    first = start + timedelta(days=(7 - start.weekday()) % 7)
    return [first + timedelta(weeks=k) for k in range((end - first).days // 7 + 1)]


def make_training(
    rng: random.Random,
    staff: Sequence[Sequence[str]],
    capacity: Mapping[str, int],
    today: date,
) -> list[tuple[str, str, str, str]]:
    """Most placed people trained at their unit this term or last; some lapsed; some never.

    Every week is in the past, and no unit hosts more trainees in a week than its capacity.
    """
    current = term_of(today)
    previous_start = _term_start(current.previous())
    recent = _mondays(previous_start, today)  # this term and the previous one
    lapsed = _mondays(_term_start(Term(current.year - 3, current.season_index)), previous_start)
    lapsed = [d for d in lapsed if d < previous_start]  # two to six terms ago
    unit_ids = list(capacity)
    booked: dict[tuple[str, date], int] = {}
    weeks: list[tuple[str, str, str, str]] = []

    def train(person_id: str, unit_id: str, pool: list[date]) -> None:
        start = rng.randrange(len(pool))
        for step in range(len(pool)):
            monday = pool[(start + step) % len(pool)]
            if booked.get((unit_id, monday), 0) < capacity[unit_id]:
                booked[unit_id, monday] = booked.get((unit_id, monday), 0) + 1
                weeks.append((person_id, unit_id, str(term_of(monday)), monday.isoformat()))
                return

    for person_id, *_, placement, reserve, _protected in staff:  # STAFF_HEADER order
        if not placement:
            continue
        draw = rng.random()
        if draw < 0.82:
            train(person_id, placement, recent)
            if rng.random() < 0.3:
                train(person_id, placement, lapsed)  # an earlier week too
            if reserve and rng.random() < 0.25:
                train(person_id, reserve, rng.choice((recent, lapsed)))
        elif draw < 0.89:
            train(person_id, placement, lapsed)
        elif draw < 0.93:
            other = reserve or rng.choice(unit_ids)
            if other != placement:
                train(person_id, other, recent)  # trained, but not where they are placed
    return weeks
