"""Escalation steps, reserve counts, late yeses to full units and gap report timing."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dispatcher.domain.coverage import UnitTally, compute_coverage
from dispatcher.domain.escalation import (
    Action,
    CallUpProgress,
    CallUpState,
    DueAction,
    EscalationRules,
    Step,
    SurplusPolicy,
    answer_to_full_unit,
    gap_report_due,
    next_steps,
    reserves_needed,
)
from dispatcher.domain.planning import Channel
from dispatcher.settings import EscalationSettings

CALLED_AT = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
RULES = EscalationRules.from_settings(EscalationSettings())  # 10 / 20 / 60 minutes
SMS, EMAIL = Channel.SMS, Channel.EMAIL
BOTH = (SMS, EMAIL)
SECOND = timedelta(seconds=1)

REMIND = DueAction(Action.REMIND, SMS)
OTHER = DueAction(Action.OTHER_CHANNEL, EMAIL)
DEADLINE = DueAction(Action.DEADLINE, None)


def callup(
    step: Step = Step.CALLED,
    channels: tuple[Channel, ...] = BOTH,
    state: CallUpState = CallUpState.AWAITING,
) -> CallUpProgress:
    return CallUpProgress(state, CALLED_AT, step, channels, channels[0])


def at(minutes: float) -> datetime:
    return CALLED_AT + timedelta(minutes=minutes)


def test_rules_come_from_settings_and_refuse_a_wrong_order() -> None:
    settings = EscalationSettings(
        remind_after_minutes=5, other_channel_after_minutes=12, answer_deadline_minutes=45
    )
    rules = EscalationRules.from_settings(settings)
    assert rules == EscalationRules(
        timedelta(minutes=5), timedelta(minutes=12), timedelta(minutes=45)
    )
    with pytest.raises(ValueError, match="remind"):
        EscalationRules(timedelta(minutes=30), timedelta(minutes=20), timedelta(minutes=60))
    with pytest.raises(ValueError, match="remind"):
        EscalationRules(timedelta(0), timedelta(minutes=20), timedelta(minutes=60))


@pytest.mark.parametrize(
    ("step", "now", "actions", "recorded", "next_due"),
    [
        (Step.CALLED, CALLED_AT, (), Step.CALLED, at(10)),
        (Step.CALLED, at(10) - SECOND, (), Step.CALLED, at(10)),
        (Step.CALLED, at(10), (REMIND,), Step.REMINDED, at(20)),
        (Step.CALLED, at(10) + SECOND, (REMIND,), Step.REMINDED, at(20)),
        (Step.REMINDED, at(20) - SECOND, (), Step.REMINDED, at(20)),
        (Step.REMINDED, at(20), (OTHER,), Step.OTHER_CHANNEL, at(60)),
        (Step.REMINDED, at(20) + SECOND, (OTHER,), Step.OTHER_CHANNEL, at(60)),
        (Step.OTHER_CHANNEL, at(60) - SECOND, (), Step.OTHER_CHANNEL, at(60)),
        (Step.OTHER_CHANNEL, at(60), (DEADLINE,), Step.DEADLINE, None),
        (Step.OTHER_CHANNEL, at(60) + SECOND, (DEADLINE,), Step.DEADLINE, None),
        (Step.DEADLINE, at(500), (), Step.DEADLINE, None),
    ],
)
def test_each_step_falls_due_exactly_at_its_time(
    step: Step,
    now: datetime,
    actions: tuple[DueAction, ...],
    recorded: Step,
    next_due: datetime | None,
) -> None:
    plan = next_steps(callup(step), now, RULES)
    assert plan.actions == actions
    assert plan.step is recorded
    assert plan.next_due_at == next_due
    assert plan.deadline_passed is (recorded is Step.DEADLINE and step is not Step.DEADLINE)


@pytest.mark.parametrize(
    ("step", "minutes", "channels", "actions", "recorded"),
    [
        # Two channels: the latest overdue message wins, earlier ones are skipped.
        (Step.CALLED, 25, BOTH, (OTHER,), Step.OTHER_CHANNEL),
        (Step.CALLED, 70, BOTH, (DEADLINE,), Step.DEADLINE),
        (Step.REMINDED, 70, BOTH, (DEADLINE,), Step.DEADLINE),
        # One channel: "other channel" does nothing, so the reminder is still worth sending.
        (Step.CALLED, 25, (SMS,), (REMIND,), Step.OTHER_CHANNEL),
        (Step.CALLED, 70, (SMS,), (DEADLINE,), Step.DEADLINE),
        (Step.CALLED, 25, (EMAIL,), (DueAction(Action.REMIND, EMAIL),), Step.OTHER_CHANNEL),
    ],
)
def test_a_restart_collapses_overdue_steps(
    step: Step,
    minutes: int,
    channels: tuple[Channel, ...],
    actions: tuple[DueAction, ...],
    recorded: Step,
) -> None:
    plan = next_steps(callup(step, channels), at(minutes), RULES)
    assert (plan.actions, plan.step) == (actions, recorded)
    again = next_steps(callup(plan.step, channels), at(minutes), RULES)
    assert again.actions == ()


def test_email_first_goes_to_sms_as_the_other_channel() -> None:
    progress = CallUpProgress(CallUpState.AWAITING, CALLED_AT, Step.REMINDED, BOTH, EMAIL)
    assert next_steps(progress, at(20), RULES).actions == (DueAction(Action.OTHER_CHANNEL, SMS),)


def test_one_channel_skips_the_other_channel_time() -> None:
    reminded = next_steps(callup(channels=(SMS,)), at(10), RULES)
    assert (reminded.actions, reminded.next_due_at) == ((REMIND,), at(60))
    quiet = next_steps(callup(reminded.step, (SMS,)), at(30), RULES)
    assert (quiet.actions, quiet.step, quiet.next_due_at) == ((), Step.OTHER_CHANNEL, at(60))
    assert next_steps(callup(Step.REMINDED, (SMS,)), at(60), RULES).actions == (DEADLINE,)


def test_equal_times_send_the_other_channel_instead_of_a_reminder() -> None:
    rules = EscalationRules(timedelta(minutes=15), timedelta(minutes=15), timedelta(minutes=60))
    plan = next_steps(callup(), at(15), rules)
    assert (plan.actions, plan.step) == ((OTHER,), Step.OTHER_CHANNEL)


@pytest.mark.parametrize(
    "state",
    [CallUpState.CONFIRMED, CallUpState.DECLINED, CallUpState.NO_ANSWER, CallUpState.FAILED],
)
@pytest.mark.parametrize("minutes", [0, 10, 25, 70])
def test_answered_or_failed_call_ups_never_escalate(state: CallUpState, minutes: int) -> None:
    plan = next_steps(callup(Step.REMINDED, state=state), at(minutes), RULES)
    assert (plan.actions, plan.step, plan.next_due_at) == ((), Step.REMINDED, None)


@given(
    minutes=st.tuples(*[st.integers(1, 90)] * 3).map(sorted),
    channels=st.sampled_from([BOTH, (SMS,), (EMAIL,), (EMAIL, SMS)]),
    offsets=st.lists(st.integers(0, 200 * 60), max_size=12).map(sorted),
)
def test_applying_plans_never_repeats_an_action_and_ends_at_the_deadline(
    minutes: list[int], channels: tuple[Channel, ...], offsets: list[int]
) -> None:
    rules = EscalationRules(*(timedelta(minutes=m) for m in minutes))
    progress = callup(channels=channels)
    done: list[Action] = []
    for offset in [*offsets, 200 * 60]:
        now = CALLED_AT + timedelta(seconds=offset)
        plan = next_steps(progress, now, rules)
        assert plan.step >= progress.step
        assert plan.next_due_at is None or plan.next_due_at > now
        done += [a.action for a in plan.actions]
        progress = replace(progress, step=plan.step)
        assert next_steps(progress, now, rules).actions == ()
    assert len(done) == len(set(done))
    assert done == sorted(done, key=list(Action).index)
    assert done[-1] is Action.DEADLINE
    assert progress.step is Step.DEADLINE


@pytest.mark.parametrize(
    ("needed", "by_state", "pending", "expected"),
    [
        (5, {"confirmed": 2, "awaiting": 3}, 0, 0),  # short but nobody said no: wait
        (5, {"confirmed": 2, "awaiting": 1}, 0, 0),  # short from the start: not a reserve case
        (5, {"confirmed": 2, "awaiting": 1, "declined": 2}, 0, 2),
        (5, {"confirmed": 2, "awaiting": 1, "no_answer": 1, "failed": 1}, 0, 2),
        (5, {"confirmed": 2, "awaiting": 1, "declined": 2}, 1, 1),  # one reserve on its way
        (5, {"confirmed": 2, "awaiting": 1, "declined": 2}, 5, 0),
        (5, {"confirmed": 2, "awaiting": 3, "declined": 4}, 0, 0),  # enough still awaiting
        (3, {"confirmed": 3, "declined": 2}, 0, 0),  # full
        (3, {"confirmed": 5, "declined": 2}, 0, 0),  # surplus
        (0, {"declined": 1}, 0, 0),  # needs nobody
        (4, {"failed": 4}, 0, 4),  # nobody reachable
    ],
)
def test_reserves_cover_the_gap_nobody_is_on_the_way_for(
    needed: int, by_state: dict[str, int], pending: int, expected: int
) -> None:
    counts = compute_coverage([UnitTally("U1", "Solgården", needed, by_state)]).units[0]
    assert reserves_needed(counts, pending) == expected


@pytest.mark.parametrize(
    ("policy", "confirmed", "needed", "answer"),
    [
        (SurplusPolicy.WELCOME, 3, 3, "welcome"),
        (SurplusPolicy.WELCOME, 9, 3, "welcome"),
        (SurplusPolicy.RELEASE, 2, 3, "welcome"),  # fills the last place
        (SurplusPolicy.RELEASE, 3, 3, "release"),
        (SurplusPolicy.RELEASE, 4, 3, "release"),
        (SurplusPolicy.RELEASE, 0, 0, "release"),
    ],
)
def test_a_late_yes_to_a_full_unit_follows_the_policy(
    policy: SurplusPolicy, confirmed: int, needed: int, answer: str
) -> None:
    assert answer_to_full_unit(policy, confirmed, needed) == answer
    assert SurplusPolicy("welcome") is SurplusPolicy.WELCOME


EVERY = timedelta(minutes=15)


@pytest.mark.parametrize(
    ("last", "now", "all_covered", "covered_reported", "due"),
    [
        (None, at(0), False, False, True),  # nothing reported yet
        (at(0), at(15) - SECOND, False, False, False),
        (at(0), at(15), False, False, True),
        (at(0), at(40), False, False, True),  # overdue after a restart: one report now
        (at(14), at(15), True, False, True),  # just covered: report at once
        (at(15), at(60), True, True, False),  # covered and said so: quiet
        (at(15), at(60), False, True, True),  # a gap opened again: periodic again
    ],
)
def test_gap_reports_are_periodic_and_full_coverage_is_told_once(
    last: datetime | None, now: datetime, all_covered: bool, covered_reported: bool, due: bool
) -> None:
    assert gap_report_due(last, now, EVERY, all_covered, covered_reported) is due
