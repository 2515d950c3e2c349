"""The dashboard's scheduled drills page: the list for everyone, the form for leaders.

Rows are the stored schedules, times shown in Stockholm time as `schedule_json` gives
them to the API. The form posts nothing by itself: `schedules.js`
sends it to `POST /api/drill-schedules` and puts each error beside the field it names;
cancelling asks first, then calls `POST /api/drill-schedules/{id}/cancel`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from aiohttp import web

from dispatcher.domain.access import Caller
from dispatcher.store.drill_schedules import DrillSchedule
from dispatcher.web.dashboard_layout import esc, page, static_url, time_element
from dispatcher.web.dashboard_pages import activation_path
from dispatcher.web.session import DASHBOARD_PATH

DRILLS_PATH: Final = f"{DASHBOARD_PATH}/drills"
SCHEDULE_STATE_LABELS: Final[Mapping[str, str]] = {
    "scheduled": "Planerad",
    "done": "Genomförd",
    "cancelled": "Inställd",
    "missed": "Missad",
}
_WEEKDAYS: Final = ("söndag", "måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag")


def cron_in_words(expression: str) -> str | None:
    """`0 9 * * 1` as "varje måndag kl. 09:00"; None unless it is that simple."""
    fields = expression.split()
    if len(fields) != 5 or not all(f.isdigit() for f in fields[:2]):
        return None
    minute, hour, day, month, weekday = fields
    at = f"kl. {int(hour):02d}:{int(minute):02d}"
    if month != "*":
        return None
    if day == "*" and weekday == "*":
        return f"varje dag {at}"
    if day == "*" and weekday.isdigit() and int(weekday) <= 7:
        return f"varje {_WEEKDAYS[int(weekday) % 7]} {at}"
    if day == "*" and weekday == "1-5":
        return f"varje vardag {at}"
    if weekday == "*" and day.isdigit():
        return f"den {int(day)} varje månad {at}"
    return None


def _when(schedule: DrillSchedule) -> str:
    """The next run; a cron drill's rule too (in words when simple), a done one's time."""
    if schedule.cron is None:
        return time_element(schedule.next_run_at or schedule.run_at)
    words = cron_in_words(schedule.cron)
    rule = esc(words) if words else f"<code>{esc(schedule.cron)}</code>"
    return f'{rule}<br><span class="small">nästa: {time_element(schedule.next_run_at)}</span>'


def _scope(scope: Mapping[str, Sequence[str]], unit_names: Mapping[str, str]) -> str:
    parts = [
        *scope.get("areas", ()),
        *scope.get("services", ()),
        *(unit_names.get(u, u) for u in scope.get("units", ())),
    ]
    return esc(", ".join(parts)) if parts else "Hela kommunen"


def _last_run(schedule: DrillSchedule) -> str:
    """The last run, linked to its activation; or when it was last missed."""
    missed = schedule.last_missed_at
    if missed is not None and (schedule.last_run_at is None or missed > schedule.last_run_at):
        return f'<span class="missed">missad {time_element(missed)}</span>'
    if schedule.last_activation_id is not None:
        return (
            f'<a class="last-run" href="{esc(activation_path(schedule.last_activation_id))}">'
            f"{time_element(schedule.last_run_at)}</a>"
        )
    return "–"


def _row(schedule: DrillSchedule, unit_names: Mapping[str, str], can_cancel: bool) -> str:
    schedule_id = esc(schedule.id)
    state = schedule.state
    action = ""
    if can_cancel and state == "scheduled":
        action = (
            f'<button type="button" id="schedule-cancel-{schedule_id}" class="danger"'
            f' data-cancel="{schedule_id}" data-title="{esc(schedule.title)}">Ställ in</button>'
        )
    announced = "Aviserad" if schedule.announced else "Oaviserad"
    return (
        f'<tr data-schedule-id="{schedule_id}" data-state="{esc(state)}">'
        f'<th scope="row">{esc(schedule.title)}</th><td>{_when(schedule)}</td>'
        f"<td>{_scope(schedule.scope, unit_names)}</td><td>{announced}</td>"
        f'<td class="schedule-state state-{esc(state)}">'
        f"{esc(SCHEDULE_STATE_LABELS.get(state, state))}</td>"
        f"<td>{_last_run(schedule)}</td>" + (f"<td>{action}</td>" if can_cancel else "") + "</tr>"
    )


def _checkboxes(name: str, legend: str, choices: Sequence[tuple[str, str]]) -> str:
    boxes = "".join(
        f'<label class="choice"><input type="checkbox" name="{name}" value="{esc(value)}">'
        f" {esc(label)}</label>"
        for value, label in choices
    )
    return f'<fieldset id="schedule-{name}"><legend>{legend}</legend>{boxes}</fieldset>'


def _field_error(name: str) -> str:
    return f'<p id="schedule-error-{name}" class="error field-error" hidden></p>'


def _form(units: Sequence[Mapping[str, str]]) -> str:
    areas = sorted({u["area"] for u in units})
    services = sorted({u["service"] for u in units})
    return (
        '<section class="panel" aria-labelledby="schedule-form-heading">'
        '<h2 id="schedule-form-heading">Planera en övning</h2>'
        '<noscript><p class="error">Formuläret behöver JavaScript.</p></noscript>'
        '<form id="schedule-form" novalidate>'
        '<label for="schedule-title">Rubrik</label><input id="schedule-title" name="title"'
        ' required maxlength="60" autocomplete="off">'
        + _field_error("title")
        + '<fieldset id="schedule-timing"><legend>När (svensk tid)</legend>'
        '<label class="choice"><input type="radio" name="timing" value="at" checked>'
        " Ett tillfälle</label>"
        '<label class="choice"><input type="radio" name="timing" value="cron"> Återkommande'
        " (cron)</label>"
        '<div id="schedule-at-field"><label for="schedule-at">Datum och tid</label>'
        '<input id="schedule-at" name="at" type="datetime-local"></div>'
        '<div id="schedule-cron-field" hidden><label for="schedule-cron">Cron-uttryck'
        ' (minut timme dag månad veckodag)</label><input id="schedule-cron" name="cron"'
        ' placeholder="0 9 * * 1" autocomplete="off" spellcheck="false">'
        '<p class="small">Exempel: <code>0 9 * * 1</code> = varje måndag kl. 09:00.</p></div>'
        "</fieldset>"
        + _field_error("at")
        + _field_error("cron")
        + '<p class="small">Vilka ska kallas? Inget val betyder hela kommunen.</p>'
        + _checkboxes("areas", "Områden", [(a, a) for a in areas])
        + _checkboxes("services", "Verksamheter", [(s, s) for s in services])
        + '<details id="schedule-units-details"><summary>Enstaka enheter</summary>'
        + _checkboxes(
            "units", "Enheter", [(u["unit_id"], f"{u['name']} ({u['area']})") for u in units]
        )
        + "</details>"
        + _field_error("scope")
        + '<label for="schedule-message">Meddelande (valfritt)</label>'
        '<textarea id="schedule-message" name="message" rows="2" maxlength="300"></textarea>'
        + _field_error("message")
        + '<fieldset id="schedule-options"><legend>Inställningar</legend>'
        '<label class="choice"><input type="checkbox" name="announced" id="schedule-announced">'
        " Aviserad (de kallade vet om övningen i förväg)</label>"
        '<label class="choice"><input type="checkbox" name="reserves" id="schedule-reserves">'
        " Kalla reserver</label>"
        '<label class="choice"><input type="checkbox" name="gap_reports"'
        ' id="schedule-gap-reports"> Skicka lägesrapporter till krisledningsgruppen</label>'
        "</fieldset>"
        + _field_error("options")
        + '<button type="submit" id="schedule-submit">Planera övningen</button>'
        '<p id="schedule-error" class="error" role="alert" hidden></p></form></section>'
    )


_CONFIRM_DIALOG: Final = (
    '<dialog id="confirm-dialog" aria-labelledby="confirm-title"'
    ' aria-describedby="confirm-text"><h2 id="confirm-title"></h2><p id="confirm-text"></p>'
    '<div class="dialog-buttons"><button type="button" id="confirm-yes" class="danger">'
    'Ja</button><button type="button" id="confirm-no">Avbryt</button></div></dialog>'
)


def schedules_page(
    schedules: Sequence[DrillSchedule],
    units: Sequence[Mapping[str, str]],
    *,
    who: Caller,
    municipality: str,
    can_schedule: bool,
) -> web.Response:
    """The scheduled drills (coming first, as the store lists them) and, for leaders, the
    form; `units` are the roster's (`unit_id`, `name`, `service`, `area`)."""
    unit_names = {u["unit_id"]: u["name"] for u in units}
    head = "".join(
        f'<th scope="col">{label}</th>'
        for label in ("Rubrik", "När", "Vilka", "Förvarning", "Läge", "Senast")
    ) + ('<th scope="col"><span class="visually-hidden">Åtgärd</span></th>' if can_schedule else "")
    rows = "".join(_row(s, unit_names, can_schedule) for s in schedules)
    empty = "" if schedules else '<p id="schedule-empty" class="muted">Inga planerade övningar.</p>'
    body = (
        f'<link rel="stylesheet" href="{esc(static_url("schedules.css"))}">'
        '<h1>Övningar</h1><p class="meta">Planerade övningar startar av sig själva vid sin tid'
        " (svensk tid). De larmar ut som ÖVNING.</p>"
        '<section class="panel"><table id="schedule-table" class="schedules">'
        f'<thead><tr>{head}</tr></thead><tbody id="schedule-rows">{rows}</tbody></table>'
        f'{empty}<p id="schedule-list-error" class="error" role="alert" hidden></p></section>'
        + (_form(units) + _CONFIRM_DIALOG if can_schedule else "")
    )
    return page(
        "Övningar",
        body,
        who=who,
        municipality=municipality,
        current=DRILLS_PATH,
        scripts=("schedules.js",) if can_schedule else (),
    )
