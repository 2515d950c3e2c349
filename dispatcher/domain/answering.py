"""Which call-up an inbound SMS answers, and what to say back: a pure decision.

The store hands over the sender's call-ups (open ones: their activation is active; and
recently closed ones); `decide` says which call-up the reply applies to, if any, and which
answer the person gets. A reply is never applied to a call-up it might not be meant for:
with several open call-ups and no code, or a code that matches none, nothing is recorded
and the person is asked for the code.

| reply                              | open call-ups        | outcome        |
|------------------------------------|----------------------|----------------|
| STOP (or Twilio's opt-out)         | any                  | opted_out      |
| START (Twilio's opt-in)            | any                  | opted_in       |
| YES/NO with a code                 | one has that code    | applied        |
| YES/NO with a code                 | none has it          | code_needed    |
| YES/NO without a code              | exactly one          | applied        |
| YES/NO without a code              | several              | code_needed    |
| HELP or not understood             | one or more          | help           |
| anything                           | none, some closed    | not_active     |
| anything                           | none at all          | unknown_sender |
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from dispatcher.domain.replies import Reply, ReplyMeaning

# At most this many automatic replies go to one number between two call-ups to it: no
# reply loops with an auto-responder, no cost spiral.
MAX_AUTOMATIC_REPLIES = 5


class Outcome(StrEnum):
    APPLIED = "applied"
    CODE_NEEDED = "code_needed"
    HELP = "help"
    NOT_ACTIVE = "not_active"
    UNKNOWN_SENDER = "unknown_sender"
    OPTED_OUT = "opted_out"
    OPTED_IN = "opted_in"
    DUPLICATE = "duplicate"


@dataclass(frozen=True, slots=True)
class SenderCallUp:
    """One of the sender's call-ups, as the decision needs it."""

    callup_id: int
    activation_id: str
    reply_code: str  # the activation's code
    open: bool  # its activation is active


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    callup_id: int | None = None  # the call-up to apply the answer to (APPLIED only)
    open_callups: tuple[int, ...] = ()  # for CODE_NEEDED and HELP: the sender's open ones
    closed_callup: int | None = None  # for NOT_ACTIVE: the latest closed one


def precedence(kind: str) -> int:
    """Sort key for what people see first: a real crisis before a drill running beside it."""
    return 0 if kind == "crisis" else 1


def decide(
    reply: Reply, callups: Sequence[SenderCallUp], *, provider_opt: str | None = None
) -> Decision:
    """What an inbound SMS does. `provider_opt` is Twilio's OptOutType (STOP, START, HELP)."""
    opt = (provider_opt or "").upper()
    if opt == "STOP" or reply.meaning is ReplyMeaning.STOP:
        return Decision(Outcome.OPTED_OUT)
    if opt == "START":
        return Decision(Outcome.OPTED_IN)
    open_ones = tuple(c for c in callups if c.open)
    if not open_ones:
        closed = [c for c in callups if not c.open]
        if closed:
            return Decision(Outcome.NOT_ACTIVE, closed_callup=closed[-1].callup_id)
        return Decision(Outcome.UNKNOWN_SENDER)
    ids = tuple(c.callup_id for c in open_ones)
    if reply.meaning not in (ReplyMeaning.YES, ReplyMeaning.NO):
        return Decision(Outcome.HELP, open_callups=ids)
    if reply.code is not None:
        matching = [c for c in open_ones if c.reply_code.upper() == reply.code.upper()]
        if len(matching) == 1:
            return Decision(Outcome.APPLIED, callup_id=matching[0].callup_id)
        return Decision(Outcome.CODE_NEEDED, open_callups=ids)
    if len(open_ones) == 1:
        return Decision(Outcome.APPLIED, callup_id=open_ones[0].callup_id)
    return Decision(Outcome.CODE_NEEDED, open_callups=ids)


def may_reply(automatic_replies_since_last_callup: int) -> bool:
    """Whether one more automatic reply may go to a number (see MAX_AUTOMATIC_REPLIES)."""
    return automatic_replies_since_last_callup < MAX_AUTOMATIC_REPLIES


@dataclass(frozen=True, slots=True)
class AnswerChange:
    """The call-up's new state after an answer."""

    state: str  # confirmed or declined
    eta_minutes: int | None
    reason: str | None
    released: bool = False  # a late yes to a full unit, thanked and released


def answer_change(
    reply: Reply, *, unit_confirmed: int, unit_needed: int, already_confirmed: bool, release: bool
) -> AnswerChange:
    """The state a yes or no puts a call-up in. The latest answer counts (a change of mind).

    With the surplus policy "release", a yes to a unit that is already covered by others is
    thanked and released: recorded as declined with the reason saying so.
    """
    if reply.meaning is ReplyMeaning.NO:
        return AnswerChange("declined", None, reply.reason)
    others = unit_confirmed - (1 if already_confirmed else 0)
    if release and others >= unit_needed:
        return AnswerChange("declined", None, "frisläppt: enheten var redan bemannad", True)
    return AnswerChange("confirmed", reply.eta_minutes, None)
