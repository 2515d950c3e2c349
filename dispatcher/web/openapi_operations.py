"""What each documented operation takes and answers: `OPERATIONS`, the catalogue that
`dispatcher.web.openapi` turns into the OpenAPI document.

An entry says nothing about who may call it: the document takes that from the route's
handler (`required_role`), with the 401 and 403 it brings. A request body brings 400 and
413 on its own. Every body has a minimal valid `example`: tests/test_role_matrix.py sends
it to tell "allowed" from "refused".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from dispatcher.web.openapi_schemas import STRING, Json, error, form_body, json_body, ref

TWILIO_SIGNATURE: Final = "twilioSignature"
"""The security scheme of Twilio's webhooks: their credential is the signature header."""


@dataclass(frozen=True, slots=True)
class Operation:
    """One documented route. Who may call it (and so 401 and 403) comes from the router;
    a request body adds 400 and 413 on its own."""

    route: str  # "METHOD /path", the path as the router spells it: /api/activations/{id}
    operation_id: str
    summary: str
    responses: Mapping[int, Json]
    parameters: tuple[Json, ...] = ()
    body: Json | None = None
    security: tuple[str, ...] = ()  # a public route's own credential

    @property
    def method(self) -> str:
        return self.route.partition(" ")[0]

    @property
    def path(self) -> str:
        return self.route.partition(" ")[2]

    @property
    def tag(self) -> str:
        """The first word of the path after /api/ (`/api/me` is about tokens)."""
        parts = self.path.strip("/").split("/")
        if parts[0] == "webhooks":
            return "twilio"
        if parts[0] != "api" or parts[1] == "openapi.json":
            return "service"
        return "tokens" if parts[1] == "me" else parts[1]


def _ok(description: str, schema: Json, headers: Json | None = None) -> Json:
    answer: Json = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        answer["headers"] = headers
    return answer


def _parameter(where: str, name: str, schema: Json, description: str, **more: Any) -> Json:
    return {"name": name, "in": where, "schema": schema, "description": description, **more}


def _header(description: str) -> Json:
    return {"description": description, "schema": STRING}


ACTIVATION_ID: Final = _parameter(
    "path",
    "id",
    {**STRING, "minLength": 1},
    "activation id",
    required=True,
    example="20260302-AB12",
)
TOKEN_ID: Final = _parameter(
    "path",
    "id",
    {"type": "integer", "minimum": 0, "maximum": 10**18 - 1},
    "access token id",
    required=True,
    example=999999,
)
IF_NONE_MATCH: Final = _parameter("header", "If-None-Match", STRING, "the ETag of the copy held")
AUDIT_FILTERS: Final = (
    _parameter("query", "action", {**STRING, "maxLength": 64}, "e.g. token.created"),
    _parameter("query", "since", STRING, "ISO 8601 date or time; without an offset, UTC"),
    _parameter(
        "query", "limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "1–1000, default 100"
    ),
    _parameter(
        "query",
        "before",
        {"type": "integer", "minimum": 0, "maximum": 10**18 - 1},
        "only entries older than this id",
    ),
)
ETAG: Final = {"ETag": _header("a strong validator of the body")}
NO_CACHE: Final = {"Cache-Control": _header("`no-cache`: ask again with If-None-Match")}
NO_STORE: Final = {"Cache-Control": _header("`no-store`")}
NO_ACTIVATION: Final = error("no such activation")
TWILIO_ANSWERS: Final = {
    200: {
        "description": "TwiML: `<Response/>`, or a `<Message>` to the sender",
        "content": {"application/xml": {}},
    },
    400: error("a required field is missing, or the body is no form"),
    403: error(
        "`X-Twilio-Signature` missing or wrong, or `[sms] provider` is not `twilio`; "
        "nothing changed"
    ),
}
SID: Final = "SM" + "0" * 32
DECLARATION_EXAMPLE: Final = {"kind": "drill", "title": "Övning", "scope": {}}

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "GET /healthz",
        "health",
        "Is the service up and its database answering?",
        {200: _ok("up", ref("Health")), 503: _ok("database unavailable", ref("Unhealthy"))},
    ),
    Operation(
        "GET /metrics",
        "metrics",
        "Prometheus metrics, text format 0.0.4: counts and durations, no names or numbers",
        {200: {"description": "the metrics", "content": {"text/plain": {"schema": STRING}}}},
    ),
    Operation(
        "GET /api/openapi.json",
        "openapi",
        "This document",
        {200: _ok("the OpenAPI document", ref("OpenApiDocument"))},
    ),
    Operation(
        "GET /api/me",
        "whoami",
        "The token this request was made with",
        {200: _ok("its id, name and role", ref("Me"))},
    ),
    Operation(
        "GET /api/tokens",
        "listTokens",
        "Every access token, revoked ones too, oldest first; never a secret",
        {200: _ok("the tokens", ref("TokenList"))},
    ),
    Operation(
        "POST /api/tokens",
        "createToken",
        "Create an access token; `token` in the answer is its secret, shown this once",
        {201: _ok("the new token", ref("NewToken"), NO_STORE)},
        body=json_body(ref("TokenRequest"), {"name": "Väggskärm", "role": "viewer"}),
    ),
    Operation(
        "POST /api/tokens/{id}/revoke",
        "revokeToken",
        "Revoke a token: it fails from its next request. Revoking twice is harmless",
        {200: _ok("the revoked token", ref("Token")), 404: error("no such token")},
        parameters=(TOKEN_ID,),
    ),
    Operation(
        "POST /api/activations",
        "declareActivation",
        "Declare a crisis or drill. A crisis under the two-person rule waits in "
        "`awaiting_approval`; the same `idempotency_key` again returns the first (200)",
        {201: _ok("declared", ref("Activation")), 200: _ok("declared before", ref("Activation"))},
        body=json_body(ref("Declaration"), DECLARATION_EXAMPLE),
    ),
    Operation(
        "POST /api/activations/preview",
        "previewActivation",
        "What a declaration would do: people per unit, the unreachable, SMS and sending time. "
        "Nothing is stored or sent",
        {200: _ok("the preview", ref("Preview"))},
        body=json_body(ref("Declaration"), DECLARATION_EXAMPLE),
    ),
    Operation(
        "GET /api/activations",
        "listActivations",
        "Every activation",
        {200: _ok("the activations", ref("ActivationList"))},
    ),
    Operation(
        "GET /api/activations/{id}",
        "getActivation",
        "One activation",
        {200: _ok("the activation", ref("Activation")), 404: NO_ACTIVATION},
        parameters=(ACTIVATION_ID,),
    ),
    Operation(
        "GET /api/activations/{id}/callups",
        "listCallUps",
        "Everyone called, with answer, ETA and message state; protected people unnamed",
        {200: _ok("the call-ups", ref("CallUpList")), 404: NO_ACTIVATION},
        parameters=(ACTIVATION_ID,),
    ),
    Operation(
        "GET /api/activations/{id}/status",
        "getStatus",
        "Coverage per unit and totals, with an `ETag`: poll with `If-None-Match`",
        {
            200: _ok("the status", ref("Status"), NO_CACHE | ETAG),
            304: {"description": "unchanged since that ETag", "headers": NO_CACHE | ETAG},
            404: NO_ACTIVATION,
        },
        parameters=(ACTIVATION_ID, IF_NONE_MATCH),
    ),
    Operation(
        "GET /api/activations/{id}/report",
        "getReport",
        "The drill (or crisis) report: JSON, or CSV with `?format=csv` or `Accept: text/csv`; "
        "lists people not reached, so every read is audited",
        {
            200: {
                "description": "the report",
                "content": {"application/json": {"schema": ref("DrillReport")}, "text/csv": {}},
            },
            400: error("`format` is neither json nor csv"),
            404: NO_ACTIVATION,
        },
        parameters=(
            ACTIVATION_ID,
            _parameter("query", "format", {"type": "string", "enum": ["json", "csv"]}, "json"),
        ),
    ),
    Operation(
        "GET /api/activations/{id}/report/chart.svg",
        "getReportChart",
        "Cumulative confirmations over time, per unit and in total; names nobody",
        {
            200: {"description": "the chart", "content": {"image/svg+xml": {}}},
            404: NO_ACTIVATION,
        },
        parameters=(ACTIVATION_ID,),
    ),
    Operation(
        "GET /api/activations/{id}/export.csv",
        "exportCallList",
        "The call list as CSV, one row per call-up by unit, with phone and e-mail (the "
        "fallback when SMS and e-mail are down); protected people masked; audited",
        {
            200: {"description": "the call list", "content": {"text/csv": {}}},
            404: NO_ACTIVATION,
        },
        parameters=(ACTIVATION_ID,),
    ),
    Operation(
        "POST /api/activations/{id}/approve",
        "approveActivation",
        "Approve a crisis awaiting approval (a leader other than the declarer): it goes out",
        {
            200: _ok("the activation, now active", ref("Activation")),
            404: NO_ACTIVATION,
            409: error(
                "not awaiting approval (`state`), approved by the declarer's own token, "
                "or the scope no longer fits the roster"
            ),
        },
        parameters=(ACTIVATION_ID,),
    ),
    Operation(
        "POST /api/activations/{id}/stand-down",
        "standDown",
        "Close an activation and tell everyone called (again: harmless)",
        {
            200: _ok("the activation, stood down", ref("Activation")),
            404: NO_ACTIVATION,
            409: error("neither open nor stood down; `state` says what it is"),
        },
        parameters=(ACTIVATION_ID,),
    ),
    Operation(
        "GET /api/roster/readiness",
        "readiness",
        "Readiness and data quality: units at risk before any crisis, people to fix",
        {200: _ok("the report", ref("Readiness"))},
    ),
    Operation(
        "GET /api/roster/training-needs",
        "trainingNeeds",
        "Who needs a training week this term, per host unit, and whether it fits",
        {200: _ok("the training plan", ref("TrainingNeeds"))},
    ),
    Operation(
        "GET /api/audit",
        "listAudit",
        "The audit log, newest first; `next` is the following page",
        {
            200: _ok("a page of entries", ref("AuditPage"), NO_STORE),
            400: error("an unknown filter, or a bad value; `field` names it"),
        },
        parameters=AUDIT_FILTERS,
    ),
    Operation(
        "POST /webhooks/twilio/sms",
        "twilioInboundSms",
        "Twilio's inbound-message webhook: an answer to a call-up, or not",
        TWILIO_ANSWERS,
        body=form_body(ref("TwilioInboundSms"), {"MessageSid": SID, "From": "+46701234567"}),
        security=(TWILIO_SIGNATURE,),
    ),
    Operation(
        "POST /webhooks/twilio/status",
        "twilioStatusCallback",
        "Twilio's message status callback",
        TWILIO_ANSWERS,
        body=form_body(
            ref("TwilioStatusCallback"), {"MessageSid": SID, "MessageStatus": "delivered"}
        ),
        security=(TWILIO_SIGNATURE,),
    ),
)
