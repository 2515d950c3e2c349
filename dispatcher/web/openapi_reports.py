"""The JSON Schemas of the reports the API serves: readiness, training needs, the drill
report and the audit log (`REPORT_SCHEMAS`). Closed, like every response schema: see
`dispatcher.web.openapi_schemas`."""

from __future__ import annotations

from typing import Final

from dispatcher.web.openapi_schemas import (
    BOOLEAN,
    COUNT,
    INTEGER,
    KIND,
    NUMBER,
    STRING,
    TIME,
    Json,
    array,
    nullable,
    record,
    ref,
)

DATE: Final[Json] = {"type": "string", "format": "date"}

_PERSON_FIELDS: Final = {
    "person_id": nullable(STRING),
    "name": STRING,
    "protected": BOOLEAN,
    "phone": nullable(STRING),
    "email": nullable(STRING),
    "unit_id": nullable(STRING),
    "unit_name": nullable(STRING),
}
_ANSWERS: Final = {
    **dict.fromkeys(("called", "answered", "confirmed", "declined", "no_answer", "failed"), COUNT),
    "response_rate": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
}
_NOT_REACHED: Final = (
    "no_contact",
    "opted_out",
    "invalid_number",
    "bounced_email",
    "not_sent",
    "no_answer",
)
_READINESS_TOTALS: Final = [
    "units",
    "people",
    "needed",
    "placed",
    "reachable",
    "trained",
    "reserves",
    "gap_now",
    "units_at_risk",
    "unreachable",
    "sms_unreachable",
    "lapsed",
    "unplaced_units",
    "unplaced_people",
    "refused_contacts",
]
REPORT_SCHEMAS: Final[Json] = {
    "ReadinessUnit": record(
        unit_id=STRING,
        name=STRING,
        service=STRING,
        area=STRING,
        **dict.fromkeys(("needed", "placed", "reachable", "trained", "reserves"), COUNT),
        gap_now=COUNT,
        at_risk=BOOLEAN,
    ),
    "ReadinessPerson": record(**_PERSON_FIELDS),
    "Readiness": record(
        today=DATE,
        valid_terms=COUNT,
        terms=array(STRING),
        totals=record(**dict.fromkeys(_READINESS_TOTALS, COUNT)),
        units=array(ref("ReadinessUnit")),
        unreachable=array(ref("ReadinessPerson")),
        sms_unreachable=array(ref("ReadinessPerson")),
        lapsed=array(record(**_PERSON_FIELDS, last_trained=nullable(STRING))),
        unplaced_units=array(ref("ReadinessUnit")),
        unplaced_people=array(ref("ReadinessPerson")),
        refused_contacts=array(
            record(
                **_PERSON_FIELDS,
                channel=STRING,
                address=nullable(STRING),
                error_code=STRING,
                detail=STRING,
            )
        ),
    ),
    "TrainingNeeds": record(
        today=DATE,
        term=STRING,
        term_ends=DATE,
        valid_terms=COUNT,
        weeks_left=COUNT,
        totals=record(
            **dict.fromkeys(("people", "lapsed", "due", "units", "units_not_fitting"), COUNT)
        ),
        units=array(
            record(
                unit_id=STRING,
                name=STRING,
                service=STRING,
                area=STRING,
                capacity=COUNT,
                people=COUNT,
                weeks_needed=nullable(COUNT),
                fits=BOOLEAN,
                trainees=array(
                    record(
                        person_id=nullable(STRING),
                        name=STRING,
                        protected=BOOLEAN,
                        phone=nullable(STRING),
                        email=nullable(STRING),
                        need={"type": "string", "enum": ["lapsed", "due"]},
                        last_trained=nullable(STRING),
                    )
                ),
            )
        ),
    ),
    "Percentiles": record(
        count=COUNT, p50=nullable(NUMBER), p90=nullable(NUMBER), max=nullable(NUMBER)
    ),
    "DrillReport": record(
        activation=record(
            id=STRING,
            kind=KIND,
            title=STRING,
            state=STRING,
            scope=ref("Scope"),
            declared_at=TIME,
            called_at=nullable(TIME),
            stood_down_at=nullable(TIME),
        ),
        generated_at=TIME,
        method=record(percentiles=STRING, minutes_from=STRING, no_answer=STRING),
        totals=record(needed=COUNT, **_ANSWERS),
        first_answer_minutes=ref("Percentiles"),
        confirmation_minutes=ref("Percentiles"),
        coverage=record(
            units_covered=COUNT, units=COUNT, all_covered_after_minutes=nullable(NUMBER)
        ),
        units=array(
            record(
                unit_id=STRING,
                name=STRING,
                needed=COUNT,
                **_ANSWERS,
                covered=BOOLEAN,
                covered_after_minutes=nullable(NUMBER),
            )
        ),
        departments=array(record(department=STRING, **_ANSWERS)),
        not_reached=record(
            count=COUNT,
            by_reason=record(**dict.fromkeys(_NOT_REACHED, COUNT)),
            people=array(
                record(
                    person_id=nullable(STRING),
                    name=STRING,
                    department=nullable(STRING),
                    unit_id=STRING,
                    unit_name=STRING,
                    state=STRING,
                    reasons=array({"type": "string", "enum": list(_NOT_REACHED)}),
                )
            ),
        ),
        confirmations_over_time=record(
            span_minutes=NUMBER,
            total=array(ref("ChartPoint")),
            units=array(
                record(unit_id=STRING, name=STRING, needed=COUNT, points=array(ref("ChartPoint")))
            ),
        ),
        chart=STRING,
        trend=array(
            record(
                activation_id=STRING,
                title=STRING,
                declared_at=TIME,
                current=BOOLEAN,
                needed=COUNT,
                **_ANSWERS,
                first_answer_minutes=ref("Percentiles"),
                confirmation_minutes=ref("Percentiles"),
                units_covered=COUNT,
                units=COUNT,
                all_covered_after_minutes=nullable(NUMBER),
            )
        ),
    ),
    "ChartPoint": record(minutes=NUMBER, confirmed=COUNT),
    "AuditEntry": record(
        id=INTEGER,
        at=TIME,
        actor=STRING,
        actor_token_id=nullable(INTEGER),
        action=STRING,
        subject=nullable(STRING),
        detail={"type": "object"},
        source=STRING,
        request_id=nullable(STRING),
    ),
    "AuditPage": record(entries=array(ref("AuditEntry")), next=nullable(STRING)),
}
