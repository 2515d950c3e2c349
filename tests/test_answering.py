"""The pure decision: which call-up a reply answers, never the wrong one."""

from __future__ import annotations

import pytest

from dispatcher.domain.answering import (
    Decision,
    Outcome,
    SenderCallUp,
    answer_change,
    decide,
    may_reply,
)
from dispatcher.domain.replies import parse_reply

DRILL = SenderCallUp(1, "drill", "B3", open=True)
CRISIS = SenderCallUp(2, "crisis", "C3", open=True)
OLD = SenderCallUp(3, "old", "D3", open=False)


@pytest.mark.parametrize(
    ("text", "callups", "opt", "expected"),
    [
        ("JA", [CRISIS], None, Decision(Outcome.APPLIED, callup_id=2)),
        ("nej sjuk", [CRISIS], None, Decision(Outcome.APPLIED, callup_id=2)),
        ("JA", [DRILL, CRISIS], None, Decision(Outcome.CODE_NEEDED, open_callups=(1, 2))),
        ("JA C3", [DRILL, CRISIS], None, Decision(Outcome.APPLIED, callup_id=2)),
        ("b3 nej", [DRILL, CRISIS], None, Decision(Outcome.APPLIED, callup_id=1)),
        ("JA Z9", [DRILL, CRISIS], None, Decision(Outcome.CODE_NEEDED, open_callups=(1, 2))),
        ("JA D3", [CRISIS, OLD], None, Decision(Outcome.CODE_NEEDED, open_callups=(2,))),
        ("JA B3", [CRISIS], None, Decision(Outcome.CODE_NEEDED, open_callups=(2,))),
        ("hej?", [CRISIS], None, Decision(Outcome.HELP, open_callups=(2,))),
        ("", [CRISIS], None, Decision(Outcome.HELP, open_callups=(2,))),
        ("JA", [OLD], None, Decision(Outcome.NOT_ACTIVE, closed_callup=3)),
        ("JA", [], None, Decision(Outcome.UNKNOWN_SENDER)),
        ("STOPP", [CRISIS], None, Decision(Outcome.OPTED_OUT)),
        ("stop", [], "STOP", Decision(Outcome.OPTED_OUT)),
        ("start", [CRISIS], "START", Decision(Outcome.OPTED_IN)),
    ],
)
def test_decide(
    text: str, callups: list[SenderCallUp], opt: str | None, expected: Decision
) -> None:
    assert decide(parse_reply(text), callups, provider_opt=opt) == expected


def test_reply_limit() -> None:
    assert [may_reply(n) for n in range(7)] == [True] * 5 + [False] * 2


@pytest.mark.parametrize(
    ("text", "confirmed", "needed", "already", "release", "state", "released"),
    [
        ("ja 20", 0, 2, False, False, "confirmed", False),
        ("ja 20", 2, 2, False, False, "confirmed", False),  # welcome: surplus is fine
        ("ja 20", 2, 2, False, True, "declined", True),  # release: thanked and released
        ("ja 20", 2, 2, True, True, "confirmed", False),  # already one of the two: stays
        ("nej", 0, 2, False, True, "declined", False),
    ],
)
def test_answer_change(
    text: str, confirmed: int, needed: int, already: bool, release: bool, state: str, released: bool
) -> None:
    change = answer_change(
        parse_reply(text),
        unit_confirmed=confirmed,
        unit_needed=needed,
        already_confirmed=already,
        release=release,
    )
    assert (change.state, change.released) == (state, released)
