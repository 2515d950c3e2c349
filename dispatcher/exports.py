"""The call list of an activation, for phoning down when SMS and e-mail are down.

One entry per call-up, by unit: name, phone, e-mail, state and expected arrival. A
protected person is listed as "skyddad person" with their unit only, no phone, no e-mail:
they are reached through HR, per the municipality's routine. Reading the list is audited
by the caller (`audit_detail`: counts, never names).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from dispatcher.activation_views import PROTECTED_NAME
from dispatcher.clock import from_millis
from dispatcher.store.database import Database

LOCAL_TIME = ZoneInfo("Europe/Stockholm")
CSV_COLUMNS = ("unit_id", "unit", "name", "phone", "email", "state", "eta_minutes", "arrives_at")
PROTECTED_ROUTINE = "Nås genom HR enligt kommunens rutin för skyddade personuppgifter."


@dataclass(frozen=True, slots=True)
class CallListEntry:
    """One call-up as the list shows it (already masked when `protected`)."""

    unit_id: str
    unit_name: str
    name: str
    phone: str
    email: str
    state: str
    eta_minutes: int | None
    arrives_at: int | None  # ms: the answer's time plus the ETA
    protected: bool

    def arrival_text(self) -> str:
        """The expected arrival in Swedish local time, `2026-03-02T09:45+01:00`; or ""."""
        if self.arrives_at is None:
            return ""
        return from_millis(self.arrives_at).astimezone(LOCAL_TIME).isoformat(timespec="minutes")


def _entry(row: Any) -> CallListEntry:
    protected = bool(row["protected"])
    eta, answered = row["eta_minutes"], row["answered_at"]
    arrives = None
    if row["state"] == "confirmed" and eta is not None and answered is not None:
        arrives = int(answered) + int(eta) * 60_000
    return CallListEntry(
        unit_id=str(row["unit_id"]),
        unit_name=str(row["unit_name"]),
        name=PROTECTED_NAME if protected else str(row["person_name"]),
        phone="" if protected else str(row["sms_number"] or ""),
        email="" if protected else str(row["email"] or ""),
        state=str(row["state"]),
        eta_minutes=None if eta is None else int(eta),
        arrives_at=arrives,
        protected=protected,
    )


async def load_call_list(db: Database, activation_id: str) -> list[CallListEntry]:
    """Every call-up of the activation, by unit and then by name (protected people last in
    their unit, so their place in the list says nothing about their name)."""
    rows = await db.fetch_all(
        "SELECT unit_id, unit_name, person_name, protected, sms_number, email, state,"
        " eta_minutes, answered_at FROM callups WHERE activation_id = ?"
        " ORDER BY unit_name, unit_id, protected, person_name, id",
        (activation_id,),
    )
    return [_entry(row) for row in rows]


def by_unit(entries: list[CallListEntry]) -> list[tuple[str, list[CallListEntry]]]:
    """The entries grouped by unit name, in their order."""
    groups: list[tuple[str, list[CallListEntry]]] = []
    for entry in entries:
        if not groups or groups[-1][0] != entry.unit_name:
            groups.append((entry.unit_name, []))
        groups[-1][1].append(entry)
    return groups


def call_list_csv(entries: list[CallListEntry]) -> str:
    """The call list as CSV (comma-separated, CRLF, a header row)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for e in entries:
        eta = "" if e.eta_minutes is None else str(e.eta_minutes)
        writer.writerow(
            (e.unit_id, e.unit_name, e.name, e.phone, e.email, e.state, eta, e.arrival_text())
        )
    return out.getvalue()


def audit_detail(entries: list[CallListEntry], export_format: str) -> dict[str, Any]:
    """What the audit log keeps of an export: what and how many, never who."""
    return {
        "export": "call_list",
        "format": export_format,
        "people": len(entries),
        "protected": sum(1 for e in entries if e.protected),
    }
