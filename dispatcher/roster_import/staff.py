"""staff.csv: the people, their contacts, roles and crisis placements."""

from __future__ import annotations

from dispatcher.domain.roster import Person, PhoneKind, Role
from dispatcher.roster_import.cells import Cells, KnownIds, claim_unique
from dispatcher.roster_import.contacts import NO_PHONE, normalise_email, normalise_phone
from dispatcher.roster_import.csv_reader import CsvTable
from dispatcher.roster_import.headers import TableSpec
from dispatcher.roster_import.problems import ProblemLog
from dispatcher.roster_import.values import (
    looks_like_identity_number,
    parse_pay_pct,
    parse_role,
    parse_yes_no,
)

STAFF_SPEC = TableSpec(
    required=(
        "person_id",
        "name",
        "phone",
        "email",
        "role",
        "pay_pct",
        "department",
        "placement",
        "reserve_placement",
    ),
    optional=("protected",),
)

# A politician paid below this share of full time counts as a volunteer politician.
VOLUNTEER_BELOW_PAY_PCT = 50.0


class _SharedNumbers:
    """Mobile numbers already given to someone: replies from a shared one are ambiguous."""

    def __init__(self) -> None:
        self._first_lines: dict[str, int] = {}

    def check(self, cells: Cells, raw: str, e164: str) -> None:
        line = self._first_lines.setdefault(e164, cells.line)
        if line != cells.line:
            cells.warning(
                "phone",
                raw,
                f"same mobile number as on line {line}: SMS replies from it cannot be told apart",
            )


def parse_staff(
    table: CsvTable, log: ProblemLog, units: KnownIds | None
) -> tuple[list[Person], set[str]]:
    """The good people, and every person_id named in the file (rows with errors included).

    `units` is None when units.csv could not be read: placements are then not checked,
    rather than reported as unknown one by one.
    """
    people: list[Person] = []
    first_lines: dict[str, int] = {}
    shared = _SharedNumbers()
    for record in table.records:
        cells = Cells(table.file, record, log)
        person = _parse_person(cells, units, first_lines, shared)
        if person is not None and cells.ok:
            people.append(person)
    return people, set(first_lines)


def _parse_person(
    cells: Cells,
    units: KnownIds | None,
    first_lines: dict[str, int],
    shared: _SharedNumbers,
) -> Person | None:
    person_id = cells.required("person_id")
    if person_id and looks_like_identity_number(person_id):
        # Never echoed (not even as a duplicate): that would put the number in a log.
        cells.error(
            "person_id", None, "looks like a personal identity number; use an employee number"
        )
        first_lines.setdefault(person_id, cells.line)  # known, so training is not blamed
    elif person_id:
        claim_unique(cells, "person_id", person_id, first_lines)
    name = cells.required("name")

    phone = cells.parse("phone", normalise_phone, NO_PHONE)
    if phone.note is not None:
        cells.warning("phone", cells.text("phone"), phone.note)
    email = cells.parse("email", normalise_email, None)
    if not cells.failed("phone", "email"):
        if phone.kind is not PhoneKind.MOBILE and email is None:
            cells.warning(None, None, "no mobile number and no e-mail: cannot be reached")
        if phone.e164 is not None and phone.kind is PhoneKind.MOBILE:
            shared.check(cells, cells.text("phone"), phone.e164)

    role = cells.parse("role", parse_role, Role.ADMIN)
    pay_pct = cells.parse("pay_pct", parse_pay_pct, None)
    if role is Role.POLITICIAN and not cells.text("pay_pct"):
        cells.error(
            "pay_pct",
            None,
            "must be given for a politician (below 50 counts as volunteer_politician)",
        )
    elif role is Role.POLITICIAN and pay_pct is not None and pay_pct < VOLUNTEER_BELOW_PAY_PCT:
        role = Role.VOLUNTEER_POLITICIAN

    placement = cells.text("placement")
    reserve = cells.text("reserve_placement")
    if units is not None:
        units.check(cells, "placement", placement)
        units.check(cells, "reserve_placement", reserve)
    if not placement:
        cells.warning(None, None, "no crisis placement: will not be called")
    elif reserve == placement:
        cells.warning("reserve_placement", reserve, "same unit as placement")
    protected = cells.parse("protected", parse_yes_no, False)
    if not cells.ok:
        return None
    return Person(
        person_id=person_id,
        name=name,
        phone=phone.e164,
        phone_kind=phone.kind,
        email=email,
        role=role,
        pay_pct=pay_pct,
        department=cells.text("department"),
        placement=placement or None,
        reserve_placement=reserve or None,
        protected=protected,
    )
