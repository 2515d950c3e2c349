"""The roster: units, the people placed at them, and their training weeks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import TypeVar

from dispatcher.domain.terms import Term


class Role(StrEnum):
    """A person's role in the municipality, as the HR export names it."""

    ADMIN = "admin"
    MANAGER = "manager"
    POLITICIAN = "politician"
    VOLUNTEER_POLITICIAN = "volunteer_politician"


class PhoneKind(StrEnum):
    """What a normalised number can be used for."""

    MOBILE = "mobile"  # SMS-reachable
    FIXED_LINE = "fixed_line"  # kept so people can phone it; never used for SMS
    NONE = "none"  # no number given


DEFAULT_TRAINING_CAPACITY = 2

_Item = TypeVar("_Item", "Unit", "Person")


@dataclass(frozen=True, slots=True)
class Unit:
    """One core-service unit: a school, a preschool, a care home, a kitchen."""

    unit_id: str
    name: str
    service: str
    area: str
    address: str
    crisis_need: int | None  # reinforcements needed in a crisis; None = as many as are placed
    training_capacity: int = DEFAULT_TRAINING_CAPACITY


@dataclass(frozen=True, slots=True)
class Person:
    """A member of staff (or a politician) with a crisis placement."""

    person_id: str
    name: str
    phone: str | None  # E.164, e.g. +46701234567; None when no number was given
    phone_kind: PhoneKind
    email: str | None
    role: Role
    pay_pct: float | None
    department: str
    placement: str | None  # unit_id of the crisis placement
    reserve_placement: str | None  # unit_id of the reserve placement
    protected: bool = False  # protected identity: never named in reports

    @property
    def sms_number(self) -> str | None:
        """The number to send SMS to, or None if the person has no mobile."""
        return self.phone if self.phone_kind is PhoneKind.MOBILE else None

    @property
    def reachable(self) -> bool:
        """True when at least one channel (SMS or e-mail) can reach the person."""
        return self.sms_number is not None or self.email is not None


@dataclass(frozen=True, slots=True)
class TrainingWeek:
    """One week a person spent training at a unit."""

    person_id: str
    unit_id: str
    term: Term
    week_start: date


@dataclass(frozen=True, slots=True)
class Roster:
    """A whole roster as imported: the unit of replacement on re-import."""

    units: tuple[Unit, ...] = ()
    people: tuple[Person, ...] = ()
    training: tuple[TrainingWeek, ...] = ()
    _units_by_id: Mapping[str, Unit] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_units_by_id", {u.unit_id: u for u in self.units})

    def unit(self, unit_id: str) -> Unit | None:
        return self._units_by_id.get(unit_id)


@dataclass(frozen=True, slots=True)
class RosterChanges:
    """What a re-import changes, by id."""

    units_added: tuple[str, ...]
    units_updated: tuple[str, ...]
    units_removed: tuple[str, ...]
    people_added: tuple[str, ...]
    people_updated: tuple[str, ...]
    people_removed: tuple[str, ...]
    training_before: int
    training_after: int

    @property
    def unchanged(self) -> bool:
        return not (
            self.units_added
            or self.units_updated
            or self.units_removed
            or self.people_added
            or self.people_updated
            or self.people_removed
            or self.training_before != self.training_after
        )


def _diff(
    old: Iterable[_Item], new: Iterable[_Item], key_of: str
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    old_by_id = {getattr(item, key_of): item for item in old}
    new_by_id = {getattr(item, key_of): item for item in new}
    added = tuple(sorted(k for k in new_by_id if k not in old_by_id))
    removed = tuple(sorted(k for k in old_by_id if k not in new_by_id))
    updated = tuple(sorted(k for k, v in new_by_id.items() if k in old_by_id and old_by_id[k] != v))
    return added, updated, removed


def compare_rosters(old: Roster, new: Roster) -> RosterChanges:
    """Which units and people a replacement of `old` by `new` adds, updates and removes."""
    units_added, units_updated, units_removed = _diff(old.units, new.units, "unit_id")
    people_added, people_updated, people_removed = _diff(old.people, new.people, "person_id")
    return RosterChanges(
        units_added=units_added,
        units_updated=units_updated,
        units_removed=units_removed,
        people_added=people_added,
        people_updated=people_updated,
        people_removed=people_removed,
        training_before=len(old.training),
        training_after=len(new.training),
    )
