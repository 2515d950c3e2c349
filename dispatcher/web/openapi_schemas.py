"""The JSON Schemas (OpenAPI 3.1, JSON Schema 2020-12) of the API's bodies: `COMPONENTS`.

Response objects are closed (`additionalProperties: false`) and list every field as
required, as the handlers always send each one: a field added to a response without
being added here fails the fuzz test (tests/test_fuzz_api.py). Request schemas say what
the handlers accept, no more and no less, so generated requests that break them are
rejected and those that keep them are not refused for their shape.
"""

from __future__ import annotations

from typing import Any, Final

Json = dict[str, Any]

STRING: Final[Json] = {"type": "string"}
NON_BLANK: Final[Json] = {"type": "string", "pattern": r"\S"}
COUNT: Final[Json] = {"type": "integer", "minimum": 0}
INTEGER: Final[Json] = {"type": "integer"}
NUMBER: Final[Json] = {"type": "number"}
BOOLEAN: Final[Json] = {"type": "boolean"}
TIME: Final[Json] = {"type": "string", "format": "date-time"}
ROLE: Final[Json] = {"type": "string", "enum": ["viewer", "leader", "admin"]}
KIND: Final[Json] = {"type": "string", "enum": ["crisis", "drill"]}
CHANNEL: Final[Json] = {"type": "string", "enum": ["sms", "email"]}


def ref(name: str) -> Json:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Json) -> Json:
    """`schema` or null."""
    widened = {**schema, "type": [schema["type"], "null"]}
    if "enum" in schema:
        widened["enum"] = [*schema["enum"], None]
    return widened


def array(items: Json) -> Json:
    return {"type": "array", "items": items}


def record(**fields: Json) -> Json:
    """A response object: exactly these fields, each always present."""
    return {
        "type": "object",
        "required": list(fields),
        "properties": fields,
        "additionalProperties": False,
    }


def error(description: str) -> Json:
    """An error response: `{"error": "…"}` (with `field` or `state` where they apply)."""
    return {"description": description, "content": {"application/json": {"schema": ref("Error")}}}


def json_body(schema: Json, example: Json) -> Json:
    """A required JSON request body; `example` is a minimal valid one."""
    return {
        "required": True,
        "content": {"application/json": {"schema": schema, "example": example}},
    }


def form_body(schema: Json, example: Json) -> Json:
    """A required form-encoded request body (Twilio's webhooks)."""
    return {
        "required": True,
        "content": {"application/x-www-form-urlencoded": {"schema": schema, "example": example}},
    }


_TOKEN_FIELDS: Final = {
    "id": INTEGER,
    "name": STRING,
    "role": ROLE,
    "created_at": TIME,
    "revoked_at": nullable(TIME),
    "last_used_at": nullable(TIME),
}
_SCOPE_LIST: Final = {
    "type": ["array", "null"],
    "items": NON_BLANK,
    "description": "matched ignoring case; null = none",
}
_PERSON_FIELDS: Final = {
    "person_id": nullable(STRING),
    "name": STRING,
    "protected": BOOLEAN,
    "phone": nullable(STRING),
    "email": nullable(STRING),
    "unit_id": nullable(STRING),
    "unit_name": nullable(STRING),
}
_COVERAGE: Final = ("confirmed", "declined", "awaiting", "no_answer", "failed")
_CALLUP_STATES: Final = {"type": "string", "enum": list(_COVERAGE)}
_MESSAGE_STATES: Final = {
    "type": "string",
    "enum": [
        "queued",
        "sending",
        "sent",
        "delivered",
        "failed_temporary",
        "failed_permanent",
        "cancelled",
    ],
}
_ANSWERS: Final = {
    **dict.fromkeys(("called", "answered", *_COVERAGE[:2], "no_answer", "failed"), COUNT),
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

SCHEMAS: Final[Json] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {"type": "string", "description": "what is wrong, for people"},
            "field": {"type": "string", "description": "the input that is wrong (400)"},
            "state": {"type": "string", "description": "the activation's state (409)"},
        },
        "additionalProperties": False,
    },
    "Health": record(status={"const": "ok"}, database={"const": "ok"}, schema_version=COUNT),
    "Unhealthy": record(status={"const": "unavailable"}, database={"const": "unavailable"}),
    "OpenApiDocument": {"type": "object", "required": ["openapi", "info", "paths"]},
    "Me": record(id=INTEGER, name=STRING, role=ROLE),
    "Token": record(**_TOKEN_FIELDS),
    "NewToken": record(**_TOKEN_FIELDS, token={"type": "string", "pattern": "^kd_"}),
    "TokenList": record(tokens=array(ref("Token"))),
    "TokenRequest": {
        "type": "object",
        "required": ["name", "role"],
        "properties": {
            "name": {
                "type": "string",
                "pattern": r"\S",
                "maxLength": 100,
                "description": "trimmed; at most 100 characters, no control characters",
            },
            "role": ROLE,
        },
        "additionalProperties": False,
    },
    "Scope": record(areas=array(STRING), units=array(STRING), services=array(STRING)),
    "ScopeRequest": {
        "type": "object",
        "description": "empty (or null) = the whole municipality",
        "properties": {"areas": _SCOPE_LIST, "units": _SCOPE_LIST, "services": _SCOPE_LIST},
        "additionalProperties": False,
    },
    "Declaration": {
        "type": "object",
        "required": ["kind", "title"],
        "properties": {
            "kind": KIND,
            "title": {"type": "string", "pattern": r"\S", "maxLength": 60},
            "message": {"type": ["string", "null"], "maxLength": 300},
            "scope": {"anyOf": [ref("ScopeRequest"), {"type": "null"}]},
            "idempotency_key": {
                "type": ["string", "null"],
                "minLength": 1,
                "maxLength": 200,
                "description": "the same key again returns the first activation (200)",
            },
        },
    },
    "Activation": record(
        id=STRING,
        kind=KIND,
        title=STRING,
        message=STRING,
        scope=ref("Scope"),
        state={
            "type": "string",
            "enum": ["awaiting_approval", "active", "stood_down", "cancelled"],
        },
        reply_code=STRING,
        idempotency_key=nullable(STRING),
        declared_by=STRING,
        declared_at=TIME,
        approved_by=nullable(STRING),
        approved_at=nullable(TIME),
        stood_down_by=nullable(STRING),
        stood_down_at=nullable(TIME),
    ),
    "ActivationList": record(activations=array(ref("Activation"))),
    "CallUp": record(
        id=INTEGER,
        person_id=nullable(STRING),
        name=STRING,
        department=nullable(STRING),
        unit_id=STRING,
        unit_name=STRING,
        placement_kind={"type": "string", "enum": ["crisis", "reserve", "trained"]},
        state=_CALLUP_STATES,
        eta_minutes=nullable(COUNT),
        reason=nullable(STRING),
        answered_at=nullable(TIME),
        channel=nullable(CHANNEL),
        message_state=nullable(_MESSAGE_STATES),
        error_code=nullable(STRING),
    ),
    "CallUpList": record(activation_id=STRING, callups=array(ref("CallUp"))),
    "Status": record(
        activation=record(id=STRING, kind=KIND, title=STRING, state=STRING),
        totals=record(called=COUNT, needed=COUNT, **dict.fromkeys(_COVERAGE, COUNT), gap=COUNT),
        units=array(
            record(
                unit_id=STRING,
                name=STRING,
                needed=COUNT,
                called=COUNT,
                **dict.fromkeys(_COVERAGE, COUNT),
                gap={**COUNT, "description": "max(0, needed − confirmed)"},
            )
        ),
    ),
    "Preview": record(
        scope=ref("Scope"),
        people=COUNT,
        units=array(record(unit_id=STRING, name=STRING, people=COUNT)),
        unreachable=array(record(person_id=nullable(STRING), name=STRING, unit_id=STRING)),
        sms=record(count=COUNT, segments=COUNT, longest_segments=COUNT),
        emails=COUNT,
        send_seconds={"type": "number", "minimum": 0},
    ),
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
        today={"type": "string", "format": "date"},
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
        today={"type": "string", "format": "date"},
        term=STRING,
        term_ends={"type": "string", "format": "date"},
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
    "TwilioInboundSms": {
        "type": "object",
        "description": "Twilio's fields (more may come and are ignored)",
        "required": ["MessageSid", "From"],
        "properties": {
            "MessageSid": NON_BLANK,
            "From": NON_BLANK,
            "Body": STRING,
            "To": STRING,
            "AccountSid": STRING,
            "OptOutType": STRING,
        },
    },
    "TwilioStatusCallback": {
        "type": "object",
        "description": "Twilio's fields (more may come and are ignored)",
        "required": ["MessageSid", "MessageStatus"],
        "properties": {
            "MessageSid": NON_BLANK,
            "MessageStatus": NON_BLANK,
            "ErrorCode": STRING,
            "To": STRING,
            "AccountSid": STRING,
        },
    },
}

COMPONENTS: Final[Json] = {
    "schemas": SCHEMAS,
    "securitySchemes": {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "an access token from `dispatcher token create` or POST /api/tokens",
        },
        "twilioSignature": {
            "type": "apiKey",
            "in": "header",
            "name": "X-Twilio-Signature",
            "description": "Twilio's HMAC-SHA1 of `service.public_url` + path + sorted form "
            "fields, keyed with the account's auth token",
        },
    },
}
