"""Calling reserves: while a unit has a gap someone left open, call the next reserve.

Per active activation that calls reserves (a crisis unless its options say
`"reserves": false`; a drill only with `"reserves": true`), each unit's coverage says how
many reserves it needs now (`reserves_needed`: someone declined, went silent or could not
be reached, and nobody is on the way for the gap). `plan_reserve_callups` picks them over
the current roster: reserve placements first, then people trained at the unit, never
anyone already called in the activation or awaiting/confirmed in another open one. The
new call-ups and their first messages are inserted in one transaction, counted again
under the write lock, so nobody is called twice and no gap is filled twice.

An activation whose status revision (and the roster) has not moved since it was last
found to need nothing is not counted again: a tick after every answer costs one query.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import structlog

from dispatcher.callup_messages import CallUpMessages
from dispatcher.clock import to_millis
from dispatcher.declarations import RosterCache, RosterVersion, first_step_at, prepare_callups
from dispatcher.domain.coverage import compute_coverage
from dispatcher.domain.escalation import EscalationRules, reserves_needed
from dispatcher.domain.planning import PlannedCallUp, plan_reserve_callups
from dispatcher.domain.roster import Person, Roster, TrainingWeek
from dispatcher.domain.terms import Term, valid_terms
from dispatcher.store import activations, answers
from dispatcher.store import escalation as store
from dispatcher.store.database import Database
from dispatcher.store.escalation import OpenActivation

log = structlog.get_logger(__name__)

LOCAL_TIME = ZoneInfo("Europe/Stockholm")  # training terms follow the Swedish calendar
_BUSY_STATES = frozenset({"awaiting", "confirmed"})


def calls_reserves(kind: str, options: Mapping[str, Any]) -> bool:
    """Whether an activation calls reserves: crises do, drills only when asked to."""
    return bool(options.get("reserves", kind == "crisis"))


class ReserveCaller:
    """Fills gaps with reserves; the escalator calls `call` after every tick."""

    def __init__(
        self,
        db: Database,
        messages: CallUpMessages,
        rosters: RosterCache,
        rules: EscalationRules,
        *,
        valid_training_terms: int = 2,
    ) -> None:
        self._db = db
        self._messages = messages
        self._rosters = rosters
        self._rules = rules
        self._valid_terms = valid_training_terms
        # Activation id → (revision, roster version) at which it needed no (more) reserves.
        self._settled: dict[str, tuple[int, RosterVersion]] = {}
        self._pools: tuple[Roster, date, dict[str, Roster]] | None = None

    async def call(self, now: datetime) -> int:
        """Call the reserves every open activation needs now; returns the call-ups made."""
        open_ones = await store.active_activations(self._db.reader)
        version = await self._rosters.version()
        self._settled = {k: v for k, v in self._settled.items() if k in {a.id for a in open_ones}}
        made = 0
        for activation in open_ones:
            if not calls_reserves(activation.kind, activation.options):
                continue
            if self._settled.get(activation.id) == (activation.revision, version):
                continue
            tallies = await store.unit_tallies(self._db.reader, activation.id)
            if not any(reserves_needed(u) for u in compute_coverage(tallies).units):
                self._settled[activation.id] = (activation.revision, version)
                continue
            count, revision = await self._fill(activation, now)
            made += count
            if count == 0 and revision is not None:  # no candidate left: wait for a change
                self._settled[activation.id] = (revision, version)
        return made

    async def _fill(self, activation: OpenActivation, now: datetime) -> tuple[int, int | None]:
        """Plan and insert the reserves one activation needs, counted under the write lock.

        Returns (call-ups made, the revision they were planned at; None if it closed).
        """
        pools = await self._pools_at(now)
        try:
            async with self._db.transaction() as conn:
                revision = await store.revision_of(conn, activation.id)
                if revision is None:  # stood down meanwhile
                    return 0, None
                tallies = await store.unit_tallies(conn, activation.id)
                needs = {u.unit_id: reserves_needed(u) for u in compute_coverage(tallies).units}
                needs = {unit_id: n for unit_id, n in sorted(needs.items()) if n > 0}
                pool = {u: pools[u] for u in needs if u in pools}
                candidates = {p.person_id for r in pool.values() for p in r.people}
                calls = await store.calls_of(conn, candidates)
                called = {c.person_id for c in calls if c.activation_id == activation.id}
                elsewhere = [c for c in calls if c.activation_id != activation.id]
                busy = {c.person_id for c in elsewhere if c.state in _BUSY_STATES}
                opted_out = await answers.opted_out_numbers(conn)
                busy |= {
                    p.person_id
                    for r in pool.values()
                    for p in r.people
                    if p.sms_number in opted_out and not p.email  # SMS was their only way
                }
                planned: list[PlannedCallUp] = []
                for unit_id, count in needs.items():
                    chosen = plan_reserve_callups(
                        pool.get(unit_id, _EMPTY),
                        unit_id,
                        already_called=frozenset(called),
                        busy=frozenset(busy),
                        count=count,
                    )
                    called.update(c.person_id for c in chosen)
                    planned.extend(chosen)
                if not planned:
                    return 0, revision
                text = self._messages.activation_text(
                    activation.kind, activation.title, activation.message
                )
                callups, messages = prepare_callups(
                    self._messages,
                    activation.id,
                    text,
                    activation.reply_code,
                    planned,
                    with_code=frozenset(c.person_id for c in elsewhere),
                    no_sms=opted_out,
                )
                now_ms = to_millis(now)
                await activations.insert_callups(
                    conn,
                    activation.id,
                    callups,
                    messages,
                    now_ms,
                    next_step_at=first_step_at(now_ms, self._rules),
                )
        except sqlite3.IntegrityError as error:  # UNIQUE (activation, person): the last guard
            log.warning("reserve call-up refused", activation_id=activation.id, error=str(error))
            return 0, None
        for c in planned:
            log.info(
                "reserve called",
                activation_id=activation.id,
                unit_id=c.unit_id,
                person_id=c.person_id,
                placement_kind=c.placement_kind.value,
            )
        return len(planned), revision

    async def _pools_at(self, now: datetime) -> dict[str, Roster]:
        """The current roster cut per unit into the people who could fill a gap there,
        counting only training weeks that are still valid on `now`'s date."""
        roster = await self._rosters.get()
        today = now.astimezone(LOCAL_TIME).date()
        if self._pools is None or self._pools[0] is not roster or self._pools[1] != today:
            self._pools = (roster, today, _pools(roster, valid_terms(today, self._valid_terms)))
        return self._pools[2]


_EMPTY = Roster()


def _pools(roster: Roster, terms: frozenset[Term]) -> dict[str, Roster]:
    """Per unit, a roster of that unit, its reserve placements and the people trained there.

    `plan_reserve_callups` reads the whole roster it is given; handing it only the unit's
    candidates keeps a tick with many short units linear in the roster, not quadratic.
    """
    people = {p.person_id: p for p in roster.people}
    candidates: dict[str, dict[str, Person]] = defaultdict(dict)
    weeks: dict[str, list[TrainingWeek]] = defaultdict(list)
    for person in roster.people:
        if person.reserve_placement:
            candidates[person.reserve_placement][person.person_id] = person
    for week in roster.training:
        if week.term in terms and week.person_id in people:
            weeks[week.unit_id].append(week)
            candidates[week.unit_id][week.person_id] = people[week.person_id]
    return {
        u.unit_id: Roster(
            units=(u,),
            people=tuple(candidates[u.unit_id].values()),
            training=tuple(weeks[u.unit_id]),
        )
        for u in roster.units
    }
