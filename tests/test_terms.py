"""School terms: VT is January–June, HT is July–December."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dispatcher.domain.terms import Season, Term, parse_term, term_of, valid_terms


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 1, 1), "VT2026"),
        (date(2026, 6, 30), "VT2026"),
        (date(2026, 7, 1), "HT2026"),
        (date(2026, 12, 31), "HT2026"),
    ],
)
def test_term_of(day: date, expected: str) -> None:
    assert str(term_of(day)) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("VT2026", "VT2026"), ("ht2025", "HT2025"), (" HT-2025 ", "HT2025"), ("vt26", "VT2026")],
)
def test_parse_term(text: str, expected: str) -> None:
    assert str(parse_term(text)) == expected


@pytest.mark.parametrize("text", ["", "2026", "ST2026", "VT", "VT20266"])
def test_parse_term_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="not a term"):
        parse_term(text)


def test_order_and_neighbours() -> None:
    vt, ht = Term.of(Season.SPRING, 2026), Term.of(Season.AUTUMN, 2026)
    assert vt < ht < Term.of(Season.SPRING, 2027)
    assert ht.previous() == vt
    assert vt.previous() == Term.of(Season.AUTUMN, 2025)
    assert vt.next() == ht


def test_valid_terms_include_the_current_one() -> None:
    assert {str(t) for t in valid_terms(date(2026, 2, 1), 2)} == {"VT2026", "HT2025"}
    assert {str(t) for t in valid_terms(date(2026, 9, 1), 1)} == {"HT2026"}


@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31)))
def test_term_round_trips_through_text(day: date) -> None:
    term = term_of(day)
    assert parse_term(str(term)) == term
    assert term.next().previous() == term
