"""Chasing silence, calling reserves, reporting gaps: the pure rules, with `now` as an argument.

The store keeps each call-up's `escalation_step` and `next_step_at`; a worker woken at or
after `next_step_at` asks `next_steps` what is due, does it, and records the plan's `step`
and `next_due_at`. Because the recorded step says what has been done, a worker that runs
twice, or late after a restart, never does a step twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum, StrEnum
from typing import TYPE_CHECKING, Literal, Protocol

from dispatcher.domain.planning import Channel

if TYPE_CHECKING:
    from dispatcher.settings import EscalationSettings


class CallUpState(StrEnum):
    """The stored state of a call-up (the `callups.state` column)."""

    AWAITING = "awaiting"
    CONFIRMED = "confirmed"
    DECLINED = "declined"
    NO_ANSWER = "no_answer"
    FAILED = "failed"


class Step(IntEnum):
    """How far escalation has gone (the `callups.escalation_step` column)."""

    CALLED = 0
    REMINDED = 1
    OTHER_CHANNEL = 2
    DEADLINE = 3


class Action(StrEnum):
    REMIND = "remind"  # the call-up again, on the channel it went out on
    OTHER_CHANNEL = "other_channel"  # the call-up on the person's other channel
    DEADLINE = "deadline"  # the call-up becomes no_answer


@dataclass(frozen=True, slots=True)
class CallUpProgress:
    """One call-up as escalation sees it."""

    state: CallUpState
    called_at: datetime  # when the first call-up message was queued
    step: Step
    channels: tuple[Channel, ...]  # the person's channels, in order of use
    first_channel: Channel  # the channel the call-up went out on


@dataclass(frozen=True, slots=True)
class EscalationRules:
    """When each step falls due, counted from `called_at`."""

    remind_after: timedelta
    other_channel_after: timedelta
    answer_deadline: timedelta

    def __post_init__(self) -> None:
        if not (
            timedelta(0) < self.remind_after <= self.other_channel_after <= self.answer_deadline
        ):
            raise ValueError("escalation needs 0 < remind ≤ other channel ≤ deadline")

    @classmethod
    def from_settings(cls, settings: EscalationSettings) -> EscalationRules:
        return cls(
            remind_after=timedelta(minutes=settings.remind_after_minutes),
            other_channel_after=timedelta(minutes=settings.other_channel_after_minutes),
            answer_deadline=timedelta(minutes=settings.answer_deadline_minutes),
        )

    def due_after(self, step: Step) -> timedelta:
        """How long after the call-up `step` falls due (CALLED: at once)."""
        return {
            Step.CALLED: timedelta(0),
            Step.REMINDED: self.remind_after,
            Step.OTHER_CHANNEL: self.other_channel_after,
            Step.DEADLINE: self.answer_deadline,
        }[step]


@dataclass(frozen=True, slots=True)
class DueAction:
    action: Action
    channel: Channel | None  # where the message goes; None for DEADLINE


@dataclass(frozen=True, slots=True)
class EscalationPlan:
    """What to do now; then record `step` and `next_due_at` (None: nothing more will be due)."""

    actions: tuple[DueAction, ...]
    step: Step
    next_due_at: datetime | None

    @property
    def deadline_passed(self) -> bool:
        """True when the call-up is to become `no_answer`."""
        return any(a.action is Action.DEADLINE for a in self.actions)


def _other_channel(callup: CallUpProgress) -> Channel | None:
    return next((c for c in callup.channels if c is not callup.first_channel), None)


def _action_for(step: Step, callup: CallUpProgress) -> DueAction | None:
    """The action a step takes, or None when it has nothing to do for this person."""
    if step is Step.REMINDED:
        return DueAction(Action.REMIND, callup.first_channel)
    if step is Step.OTHER_CHANNEL:
        other = _other_channel(callup)
        return DueAction(Action.OTHER_CHANNEL, other) if other else None
    if step is Step.DEADLINE:
        return DueAction(Action.DEADLINE, None)
    return None


def next_steps(callup: CallUpProgress, now: datetime, rules: EscalationRules) -> EscalationPlan:
    """The escalation steps due for `callup` at `now`, in order, and when to look again.

    A step is due when `now - called_at >= its time` (exactly at `remind_after` the
    reminder is due; a second before it is not). Only `awaiting` call-ups escalate; an
    answered or failed one gets no actions, its step unchanged and no next time. Steps
    already recorded in `callup.step` are never planned again, so applying a plan and
    asking again at the same `now` yields nothing.

    When several steps are overdue at once (a worker late after a restart, or settings
    with equal times), the latest due step that does something wins and the earlier
    messages are skipped: a reminder arriving after the message on the other channel, or
    after the person was given up on, is noise. "Other channel" does nothing for a person
    with one channel, so it does not suppress the reminder. Recorded step 0, overdue by:

    | overdue up to   | two channels         | one channel         |
    |-----------------|----------------------|---------------------|
    | remind_after    | REMIND               | REMIND              |
    | other_channel   | OTHER_CHANNEL        | REMIND              |
    | answer_deadline | DEADLINE             | DEADLINE            |

    In every row the recorded step becomes the last step due. `next_due_at` is when the
    next step that does something falls due (for a one-channel person the "other channel"
    time is skipped); it is None once the deadline step is recorded.
    """
    if callup.state is not CallUpState.AWAITING:
        return EscalationPlan(actions=(), step=callup.step, next_due_at=None)
    age = now - callup.called_at
    pending = [s for s in Step if s > callup.step]
    due = [s for s in pending if age >= rules.due_after(s)]
    actions: tuple[DueAction, ...] = ()
    for step in reversed(due):
        action = _action_for(step, callup)
        if action is not None:
            actions = (action,)
            break
    step = due[-1] if due else callup.step
    later = (s for s in Step if s > step and _action_for(s, callup) is not None)
    upcoming = next(later, None)
    next_due_at = None if upcoming is None else callup.called_at + rules.due_after(upcoming)
    return EscalationPlan(actions=actions, step=step, next_due_at=next_due_at)


class UnitCounts(Protocol):
    """Call-ups to one unit per state; `coverage.UnitCoverage` is one."""

    @property
    def needed(self) -> int: ...
    @property
    def confirmed(self) -> int: ...
    @property
    def awaiting(self) -> int: ...
    @property
    def declined(self) -> int: ...
    @property
    def no_answer(self) -> int: ...
    @property
    def failed(self) -> int: ...


def reserves_needed(unit: UnitCounts, called_reserves_awaiting: int = 0) -> int:
    """How many more reserves to call for a unit now.

    Reserves are called only when someone at the unit declined, went silent (no_answer)
    or could not be reached (failed), and only for the part of the gap nobody is on the
    way for: `max(0, gap − awaiting)` with `gap = max(0, needed − confirmed)`.

    `unit.awaiting` already counts every stored call-up to the unit, reserves included;
    `called_reserves_awaiting` is for reserves called but not yet in those counts (for
    example planned earlier in the same pass). Never pass a reserve twice.

    Edge cases: a full unit (confirmed ≥ needed, also a surplus) needs none; a unit
    needing 0 needs none; with nobody declined, silent or failed no reserve is called
    even if the unit was short from the start (placements are planned before that).
    """
    if unit.declined + unit.no_answer + unit.failed <= 0:
        return 0
    gap = max(0, unit.needed - unit.confirmed)
    return max(0, gap - unit.awaiting - called_reserves_awaiting)


class SurplusPolicy(StrEnum):
    """What a late yes to a unit already full gets (`escalation.surplus`)."""

    WELCOME = "welcome"  # confirmed like anyone else
    RELEASE = "release"  # thanked and released


def answer_to_full_unit(
    policy: SurplusPolicy, unit_confirmed: int, unit_needed: int
) -> Literal["welcome", "release"]:
    """Welcome or release a yes, given the unit's confirmed count *before* this yes.

    Only a unit already full (`unit_confirmed >= unit_needed`) under RELEASE releases;
    a yes that fills the last place is always welcome. A person already confirmed who
    says yes again is not a new yes: the caller should not ask.
    """
    if policy is SurplusPolicy.RELEASE and unit_confirmed >= unit_needed:
        return "release"
    return "welcome"


def gap_report_due(
    last_report_at: datetime | None,
    now: datetime,
    every: timedelta,
    all_covered: bool,
    covered_reported: bool,
) -> bool:
    """Whether the crisis team should get a gap report now.

    While an activation is open and some unit has a gap: the first report at once
    (`last_report_at` None; pass the activation's start instead to wait one period), then
    every `every`. When every unit is covered: one report, at once, then none while it
    stays covered. The caller clears `covered_reported` when a gap opens again (a change
    of mind), so the next full coverage is reported once more.
    """
    if all_covered:
        return not covered_reported
    return last_report_at is None or now - last_report_at >= every
