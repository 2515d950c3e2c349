"""The OpenAPI document: valid, served without a token, and true to the router: every route
under /api/ or /webhooks/ is in it, everything in it is routed, and its roles are the
handlers' own. That the bodies and status codes are true is the fuzzer's job
(test_fuzz_api.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import jsonschema_rs
import pytest
import schemathesis
from aiohttp import web
from aiohttp.test_utils import TestClient
from schemathesis.core.result import Ok

from dispatcher.domain.access import AccessRole
from dispatcher.web.auth import public, required_role
from dispatcher.web.openapi import (
    BROWSER_PAGES,
    OPERATIONS,
    documentation_gaps,
    openapi_document,
    routed_handlers,
)

Client = TestClient[web.Request, web.Application]
Json = dict[str, Any]

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
MACHINE_PREFIXES = ("/api/", "/webhooks/")


@pytest.fixture
def document(app: web.Application) -> Json:
    return openapi_document(app)


def operations(document: Json) -> Iterator[tuple[str, str, Json]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert method in METHODS, f"{path}: {method!r} is not an HTTP method"
            yield method.upper(), path, operation


def resolve(document: Json, reference: str) -> Json:
    assert reference.startswith("#/"), reference
    node: Any = document
    for part in reference[2:].split("/"):
        assert isinstance(node, dict) and part in node, f"{reference} does not resolve"
        node = node[part]
    assert isinstance(node, dict)
    return node


def walk(node: Any, where: str = "#") -> Iterator[tuple[str, Any]]:
    yield where, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, f"{where}/{index}")


def schemas_in(document: Json) -> Iterator[tuple[str, Json]]:
    """Every JSON Schema the document holds: components, parameters, headers, media types."""
    for name, schema in document["components"]["schemas"].items():
        yield f"components/schemas/{name}", schema
    for method, path, operation in operations(document):
        for where, node in walk(operation, f"{method} {path}"):
            if isinstance(node, dict) and isinstance(node.get("schema"), dict):
                yield where, node["schema"]


def validator(document: Json, schema: Json) -> jsonschema_rs.Validator:
    """`schema` with its `$ref`s resolved against the document's components."""
    return jsonschema_rs.validator_for(
        {**schema, "components": document["components"]}, validate_formats=True
    )


# --- a valid OpenAPI 3.1 document ---------------------------------------------------------


def test_the_document_has_the_openapi_3_1_shape(document: Json) -> None:
    assert re.fullmatch(r"3\.1\.\d+", document["openapi"])
    assert document["info"]["title"] and document["info"]["version"]
    schemes = document["components"]["securitySchemes"]
    operation_ids: list[str] = []
    for method, path, operation in operations(document):
        label = f"{method} {path}"
        assert path.startswith("/"), label
        operation_ids.append(operation["operationId"])
        assert operation["summary"] and operation["tags"], label
        assert operation["responses"], label
        for code, response in operation["responses"].items():
            assert re.fullmatch(r"[1-5]\d\d", code), f"{label}: response {code!r}"
            assert response["description"], f"{label} {code}"
        for requirement in operation["security"]:
            assert set(requirement) <= set(schemes), label
        parameters = operation.get("parameters", [])
        named = [(p["in"], p["name"]) for p in parameters]
        assert len(named) == len(set(named)), f"{label}: a parameter twice"
        in_path = {p["name"] for p in parameters if p["in"] == "path"}
        assert in_path == set(re.findall(r"\{(\w+)\}", path)), label
        assert all(p["required"] for p in parameters if p["in"] == "path"), label
        assert all(p["in"] in ("path", "query", "header", "cookie") for p in parameters), label
    assert len(operation_ids) == len(set(operation_ids)), "operationIds must be unique"


def test_every_reference_resolves(document: Json) -> None:
    references = [node["$ref"] for _, node in walk(document) if isinstance(node, dict)
                  and "$ref" in node]  # fmt: skip
    assert references
    for reference in references:
        resolve(document, reference)


def test_every_schema_is_valid_json_schema_2020_12(document: Json) -> None:
    found = list(schemas_in(document))
    assert len(found) > len(document["components"]["schemas"])
    for where, schema in found:
        try:
            jsonschema_rs.meta.validate(schema)
        except jsonschema_rs.ValidationError as error:
            pytest.fail(f"{where}: {error}")


def test_every_request_example_fits_its_schema(document: Json) -> None:
    examples = 0
    for method, path, operation in operations(document):
        for parameter in operation.get("parameters", []):
            if "example" in parameter:
                assert validator(document, parameter["schema"]).is_valid(parameter["example"])
                examples += 1
        for media_type in operation.get("requestBody", {}).get("content", {}).values():
            assert "example" in media_type, f"{method} {path}: a body needs a minimal example"
            errors = list(validator(document, media_type["schema"]).iter_errors(
                media_type["example"]))  # fmt: skip
            assert not errors, f"{method} {path}: {errors[0]}"
            examples += 1
    assert examples >= 5


def test_schemathesis_reads_every_operation(document: Json) -> None:
    schema = schemathesis.openapi.from_dict(document)
    results = list(schema.get_all_operations())
    assert [r.err() for r in results if not isinstance(r, Ok)] == []
    assert len(results) == sum(1 for _ in operations(document))


def test_a_schema_error_is_caught() -> None:
    with pytest.raises(jsonschema_rs.ValidationError):
        jsonschema_rs.meta.validate({"type": "object", "required": "error"})


# --- true to the router -------------------------------------------------------------------


def test_every_api_and_webhook_route_is_documented_and_every_documented_one_routed(
    app: web.Application, document: Json
) -> None:
    routed = {
        route
        for route in routed_handlers(app)
        if route.partition(" ")[2].startswith(MACHINE_PREFIXES)
    }
    documented = {f"{method} {path}" for method, path, _ in operations(document)}
    assert routed - documented == set(), "routes missing from dispatcher.web.openapi_operations"
    assert documented <= set(routed_handlers(app))
    assert {"GET /healthz", "GET /metrics"} <= documented
    assert documentation_gaps(app) == []


def test_browser_pages_never_excuse_an_api_or_webhook_route() -> None:
    assert not [prefix for prefix in BROWSER_PAGES if prefix.startswith(MACHINE_PREFIXES)]
    assert not [page for page in BROWSER_PAGES if "/api/".startswith(page)]


def test_an_undocumented_route_is_named_as_a_gap(app: web.Application) -> None:
    @public
    async def novelty(request: web.Request) -> web.Response:
        return web.json_response({})

    before = documentation_gaps(app)
    app.router.add_get("/api/novelty/{id}", novelty)
    app.router.add_post("/webhooks/other", novelty)
    app.router.add_get("/dashboard/anything", novelty)  # a page: not the document's business

    assert [gap for gap in documentation_gaps(app) if gap not in before] == [
        "GET /api/novelty/{id}: routed, not documented in dispatcher.web.openapi_operations",
        "POST /webhooks/other: routed, not documented in dispatcher.web.openapi_operations",
    ]
    assert "/api/novelty/{id}" not in openapi_document(app)["paths"]


def test_a_documented_route_that_is_gone_is_named_as_a_gap() -> None:
    bare = web.Application()
    assert len(documentation_gaps(bare)) == len(OPERATIONS)
    assert openapi_document(bare)["paths"] == {}


def test_roles_in_the_document_are_the_handlers_own(app: web.Application, document: Json) -> None:
    handlers = routed_handlers(app)
    for method, path, operation in operations(document):
        label = f"{method} {path}"
        role = required_role(handlers[label])
        responses = operation["responses"]
        if role is None:
            assert "x-required-role" not in operation, label
            assert {"bearer": []} not in operation["security"], label
            assert "401" not in responses, label
        else:
            assert operation["x-required-role"] == role.value, label
            assert operation["security"] == [{"bearer": []}], label
            assert "401" in responses, label
            assert ("403" in responses) == (role > AccessRole.VIEWER), label


def test_public_routes_are_the_expected_few(document: Json) -> None:
    public_routes = {
        f"{method} {path}"
        for method, path, operation in operations(document)
        if "x-required-role" not in operation
    }
    assert public_routes == {
        "GET /healthz",
        "GET /metrics",
        "GET /api/openapi.json",
        "POST /webhooks/twilio/sms",
        "POST /webhooks/twilio/status",
    }


def test_bodies_bring_400_and_413_and_the_status_poll_its_etag(document: Json) -> None:
    for method, path, operation in operations(document):
        if "requestBody" in operation:
            assert {"400", "413"} <= set(operation["responses"]), f"{method} {path}"
    status = document["paths"]["/api/activations/{id}/status"]["get"]
    assert "ETag" in status["responses"]["200"]["headers"]
    assert "ETag" in status["responses"]["304"]["headers"]
    assert "content" not in status["responses"]["304"]
    assert {"name": "If-None-Match", "in": "header"}.items() <= status["parameters"][1].items()
    webhook = document["paths"]["/webhooks/twilio/sms"]["post"]
    assert webhook["security"] == [{"twilioSignature": []}]
    assert "application/x-www-form-urlencoded" in webhook["requestBody"]["content"]
    assert "403" in webhook["responses"]


# --- served -------------------------------------------------------------------------------


async def test_the_document_is_served_without_a_token(client: Client, app: web.Application) -> None:
    response = await client.get("/api/openapi.json")
    assert response.status == 200
    assert response.content_type == "application/json"
    assert await response.json() == openapi_document(app)
