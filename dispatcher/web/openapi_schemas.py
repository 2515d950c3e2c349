"""The JSON Schemas (OpenAPI 3.1, JSON Schema 2020-12) of the API's resources: `SCHEMAS`, the
security schemes, and the helpers that spell schemas (also for `openapi_reports`).

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
SCHEMAS: Final[Json] = {  # the API's own resources; the reports are in openapi_reports
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
            "options": {"anyOf": [ref("ActivationOptions"), {"type": "null"}]},
        },
    },
    "ActivationOptions": {
        "type": "object",
        "description": (
            "defaults: a crisis calls reserves and reports gaps to the crisis team; a drill"
            " calls no reserves and reports gaps only to `report_to` (with `gap_reports: true`"
            " and no `report_to`: to the crisis team)"
        ),
        "properties": {
            "reserves": {"type": ["boolean", "null"]},
            "gap_reports": {"type": ["boolean", "null"]},
            "report_to": {
                "type": ["array", "null"],
                "maxItems": 10,
                "items": ref("ReportRecipient"),
            },
        },
        "additionalProperties": False,
    },
    "ReportRecipient": {
        "type": "object",
        "description": "an exercise leader: a mobile number (any Swedish form) and/or e-mail",
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "pattern": r"\S", "maxLength": 100},
            "phone": {"type": ["string", "null"]},
            "email": {"type": ["string", "null"]},
        },
        "additionalProperties": False,
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
        options=record(reserves=BOOLEAN, gap_reports=BOOLEAN, report_to=array(STRING)),
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

SECURITY_SCHEMES: Final[Json] = {
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
}
