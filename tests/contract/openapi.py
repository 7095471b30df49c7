"""Validate vendor requests and canned answers against the vendors' OpenAPI 3.0 documents."""

from __future__ import annotations

import copy
import email
import email.policy
import json
import os
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import jsonschema
import pytest
import yaml

SPECS = Path(__file__).resolve().parents[2] / ".." / "shared" / "specs"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


class ContractError(AssertionError):
    """A request the vendor would refuse, or a canned answer it would never send."""


def specs_dir() -> Path:
    """shared/specs beside the checkout: required under CI, else the test is skipped."""
    if not SPECS.is_dir():
        message = f"vendor specs not found at {SPECS.resolve()}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return SPECS


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads the `=` scalars of Zendesk's YAML (tag:yaml.org,2002:value)."""


_Loader.add_constructor("tag:yaml.org,2002:value",
                        lambda loader, node: loader.construct_scalar(node))  # type: ignore[arg-type]


def to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema objects as JSON Schema: `nullable: true` admits null."""
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: to_json_schema(value) for key, value in node.items()
                 if key not in {"example", "examples", "xml", "discriminator"}}
    if converted.pop("nullable", False):
        kind = converted.get("type")
        if isinstance(kind, str):
            converted["type"] = [kind, "null"]
            if "enum" in converted:
                converted["enum"] = [*converted["enum"], None]
        elif "$ref" in converted or "allOf" in converted or "anyOf" in converted:
            converted = {"anyOf": [converted, {"type": "null"}]}
    return converted


@dataclass
class Operation:
    method: str
    template: str
    operation_id: str
    spec: dict[str, Any]
    pattern: re.Pattern[str]
    path_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    literal_segments: int = 0


@dataclass
class Supplement:
    """What a vendor documents in prose but its spec leaves out (see the specs README)."""

    query: dict[str, dict[str, Any]] = field(default_factory=dict)
    required_query: tuple[str, ...] = ()
    raw_body_types: tuple[str, ...] = ()
    """The body is raw bytes of one of these content types (an upload)."""
    json_body: dict[str, Any] | None = None


class OpenAPI:
    base_path = ""
    """A prefix the spec's paths leave out (Confluence v2: /wiki/api/v2)."""
    check_headers = False
    """Check the header parameters the spec requires (From, X-Atlassian-Token...)."""

    def __init__(self, document: dict[str, Any], supplements: dict[str, Supplement],
                 extra_query: dict[str, dict[str, Any]], schema_patches: dict[str, Any]) -> None:
        self.document = to_json_schema(document)
        for path, patch in schema_patches.items():
            self._patch(path, patch)
        self.components = self.document.get("components", {})
        self.supplements = supplements
        self.extra_query = extra_query
        self.operations = [op for path, item in self.document["paths"].items()
                           for op in self._operations(path, item)]

    def _patch(self, pointer: str, value: Any) -> None:
        parts = pointer.strip("/").split("/")
        node = self.document
        for part in parts[:-1]:
            node = node[part]
        node[parts[-1]] = value

    def _operations(self, path: str, item: dict[str, Any]) -> list[Operation]:
        found = []
        shared = item.get("parameters", [])
        for method, spec in item.items():
            if method == "parameters" or not isinstance(spec, dict):
                continue
            params = [self.resolve(p) for p in [*shared, *spec.get("parameters", [])]]
            regex = "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path)) + "$"
            found.append(Operation(
                method.upper(), path, spec.get("operationId", f"{method} {path}"),
                {**spec, "parameters": params}, re.compile(regex),
                {p["name"]: p.get("schema", {}) for p in params if p.get("in") == "path"},
                sum(1 for s in path.split("/") if s and not s.startswith("{"))))
        return found

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            target: Any = self.document
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            node = target
        return node

    def operation(self, method: str, path: str) -> Operation:
        path = path.removesuffix(".json")
        if self.base_path:
            if not path.startswith(self.base_path + "/"):
                raise ContractError(f"{method} {path}: not under {self.base_path}")
            path = path.removeprefix(self.base_path)
        matches = [op for op in self.operations if op.method == method
                   and op.pattern.match(path)]
        if not matches:
            raise ContractError(f"{method} {path}: no such operation in the vendor's spec")
        return max(matches, key=lambda op: op.literal_segments)

    def validate(self, instance: Any, schema: dict[str, Any], where: str) -> None:
        root = {**schema, "components": self.components}
        errors = sorted(jsonschema.Draft4Validator(root).iter_errors(instance),
                        key=lambda e: list(e.absolute_path))
        if errors:
            first = errors[0]
            at = "/".join(str(p) for p in first.absolute_path)
            raise ContractError(f"{where}: {first.message} (at /{at})")

    def unknown_properties(self, instance: Any, schema: dict[str, Any], where: str) -> None:
        """Object keys the schema does not declare (JSON Schema alone lets them through)."""
        schema = self.resolve(schema)
        if isinstance(instance, list) and isinstance(schema.get("items"), dict):
            for item in instance:
                self.unknown_properties(item, schema["items"], where)
        if not isinstance(instance, dict) or "properties" not in schema:
            return
        if schema.get("additionalProperties"):
            return
        for key, value in instance.items():
            if key not in schema["properties"]:
                raise ContractError(f"{where}: property {key!r} is not in the spec")
            self.unknown_properties(value, schema["properties"][key], f"{where}.{key}")

    def check_request(self, request: httpx.Request) -> Operation:
        op = self.operation(request.method, request.url.path)
        where = f"{op.method} {op.template} ({op.operation_id})"
        supplement = self.supplements.get(op.operation_id, Supplement())
        path = request.url.path.removesuffix(".json")
        self._check_path(op, path.removeprefix(self.base_path) if self.base_path else path, where)
        self._check_query(op, supplement, request, where)
        if self.check_headers:
            self._check_headers(op, request, where)
        self._check_body(op, supplement, request, where)
        return op

    def _check_path(self, op: Operation, path: str, where: str) -> None:
        match = op.pattern.match(path)
        assert match is not None
        for name, value in match.groupdict().items():
            schema = op.path_params.get(name, {})
            if schema.get("type") == "integer" and not value.isdigit():
                raise ContractError(f"{where}: path parameter {name}={value!r} is not an integer")

    def _check_query(self, op: Operation, supplement: Supplement, request: httpx.Request,
                     where: str) -> None:
        declared = {p["name"]: p.get("schema", {}) for p in op.spec["parameters"]
                    if p.get("in") == "query"}
        allowed = {**declared, **supplement.query,
                   **(self.extra_query if op.method == "GET" else {})}
        given = dict(parse_qsl(request.url.query.decode()))
        for name in [*supplement.required_query,
                     *(p["name"] for p in op.spec["parameters"]
                       if p.get("in") == "query" and p.get("required"))]:
            if name not in given:
                raise ContractError(f"{where}: query parameter {name!r} is required")
        for name, value in given.items():
            if name not in allowed:
                raise ContractError(f"{where}: query parameter {name!r} is not in the spec")
            self.validate(_typed(value, allowed[name]), allowed[name], f"{where} ?{name}")

    def _check_headers(self, op: Operation, request: httpx.Request, where: str) -> None:
        """Required header parameters are sent (Content-Type only with a body), within enums."""
        for param in op.spec["parameters"]:
            if param.get("in") != "header":
                continue
            name, schema = param["name"], param.get("schema", {})
            value = request.headers.get(name)
            if value is None:
                if param.get("required") and (name.lower() != "content-type" or request.content):
                    raise ContractError(f"{where}: header {name!r} is required")
                continue
            if "enum" in schema and value.split(";")[0].strip() not in schema["enum"]:
                raise ContractError(f"{where}: header {name}={value!r} is not one of "
                                    f"{schema['enum']}")
            if schema.get("format") == "email" and not re.fullmatch(r"[^@\s]+@[^@\s]+", value):
                raise ContractError(f"{where}: header {name}={value!r} is not an e-mail address")

    def _check_multipart(self, schema: dict[str, Any], request: httpx.Request,
                         where: str) -> None:
        """A multipart/form-data body: its parts are the schema's properties, required ones
        present (file parts with a file name)."""
        kind = request.headers.get("content-type", "")
        message = email.message_from_bytes(
            f"Content-Type: {kind}\r\n\r\n".encode() + request.content,
            policy=email.policy.HTTP)
        if not message.is_multipart():
            raise ContractError(f"{where}: the body is not multipart/form-data")
        parts: dict[str, Any] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if not name:
                raise ContractError(f"{where}: a multipart part has no name")
            parts[str(name)] = part
        schema = self.resolve(schema)
        declared = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in parts:
                raise ContractError(f"{where}: multipart part {name!r} is required")
        for name, part in parts.items():
            if name not in declared:
                raise ContractError(f"{where}: multipart part {name!r} is not in the spec")
            if declared[name].get("format") == "binary" and name == "file" \
                    and not part.get_filename():
                raise ContractError(f"{where}: the file part has no file name")

    def _check_body(self, op: Operation, supplement: Supplement, request: httpx.Request,
                    where: str) -> None:
        content = request.content
        if supplement.raw_body_types:
            kind = request.headers.get("content-type", "").split(";")[0].strip()
            if kind not in supplement.raw_body_types or not content:
                raise ContractError(f"{where}: expected a raw body of {supplement.raw_body_types}")
            return
        request_body = self.resolve(op.spec.get("requestBody") or {})
        declared = request_body.get("content", {})
        schema = (declared.get("application/json") or {}).get("schema") or supplement.json_body
        if not content:
            if request_body.get("required"):
                raise ContractError(f"{where}: a request body is required")
            return
        if "multipart/form-data" in declared:
            self._check_multipart(declared["multipart/form-data"].get("schema") or {}, request,
                                  where)
            return
        if schema is None:
            raise ContractError(f"{where}: the spec declares no request body")
        try:
            body = json.loads(content)
        except ValueError:
            raise ContractError(f"{where}: the request body is not JSON") from None
        self.validate(body, schema, f"{where} request body")
        self.unknown_properties(body, schema, f"{where} request body")

    def check_response(self, op: Operation, status: int, body: Any) -> None:
        """A canned answer must match what the spec says this status carries."""
        responses = op.spec.get("responses", {})
        answer = responses.get(str(status)) or responses.get("default")
        where = f"{op.method} {op.template} ({op.operation_id}) answer {status}"
        if answer is None:
            if 200 <= status < 300:
                raise ContractError(f"{where}: the spec lists no such status")
            return
        schema = ((self.resolve(answer).get("content") or {})
                  .get("application/json") or {}).get("schema")
        if schema is not None and body is not None:
            self.validate(body, schema, where)


def _typed(value: str, schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    if kind == "array":
        return [_typed(item, schema.get("items") or {}) for item in value.split(",")]
    if kind == "integer" and value.lstrip("-").isdigit():
        return int(value)
    if kind == "boolean" and value in {"true", "false"}:
        return value == "true"
    return value


PAGINATION = {name: {"type": "string"} for name in
              ("page", "per_page", "page[size]", "page[after]", "page[before]", "sort",
               "sort_order")}
"""Zendesk documents pagination in prose (Pagination guide), not per operation."""

ZENDESK_SUPPLEMENTS = {
    "UploadFiles": Supplement(query={"filename": {"type": "string", "minLength": 1},
                                     "token": {"type": "string"}},
                              required_query=("filename",),
                              raw_body_types=("image/png", "image/jpeg", "application/pdf",
                                              "text/plain", "application/octet-stream")),
    "PutTagsTicket": Supplement(json_body={
        "type": "object", "required": ["tags"], "properties": {
            "tags": {"type": "array", "items": {"type": "string"}},
            "updated_stamp": {"type": "string"}, "safe_update": {"type": "string"}}}),
}
"""Upload Files: `filename` query and raw body, from the operation's description.
Add Tags: `{"tags": [...]}`, from the operation's description example."""

ZENDESK_PATCHES = {
    "/components/schemas/TicketUpdateInput/properties/custom_fields/items": {
        "type": "object", "required": ["id", "value"],
        "properties": {"id": {"type": "integer"}, "value": {}}},
}
"""TicketUpdateInput.custom_fields points at the ticket-field *definition* (key, type, title
required); updating a ticket takes `{"id", "value"}` ("Setting custom field values")."""


@cache
def zendesk() -> OpenAPI:
    """The Zendesk Support spec, parsed once per test session."""
    path = specs_dir() / "zendesk" / "openapi_src.yaml"
    with path.open("rb") as handle:
        document = yaml.load(handle, Loader=_Loader)  # a SafeLoader subclass
    return OpenAPI(copy.deepcopy(document), ZENDESK_SUPPLEMENTS, PAGINATION, ZENDESK_PATCHES)


def _load_json(relative: str) -> dict[str, Any]:
    return json.loads((specs_dir() / relative).read_text())


CONFLUENCE_V2_PATCHES = {
    f"/components/schemas/{name}/additionalProperties": False
    for name in ("PageBodyWrite", "PageNestedBodyWrite", "CommentBodyWrite",
                 "CommentNestedBodyWrite")
}
"""Page and comment bodies are `oneOf` a flat body and a nested one whose schemas declare no
`additionalProperties`, so every body matches both and `oneOf` fails; closing them keeps what
the docs say ("Only one body format should be specified")."""


@cache
def confluence_v2() -> OpenAPI:
    """Confluence Cloud REST API v2; its paths sit under /wiki/api/v2."""
    spec = OpenAPI(_load_json("confluence/confluence-v2.json"), {}, {}, CONFLUENCE_V2_PATCHES)
    spec.base_path = "/wiki/api/v2"
    spec.check_headers = True
    return spec


@cache
def confluence_v1() -> OpenAPI:
    """Confluence Cloud REST API v1 (attachments, users); its paths carry /wiki/rest/api."""
    spec = OpenAPI(_load_json("confluence/swagger.v3.json"), {}, {}, {})
    spec.check_headers = True
    return spec


@cache
def pagerduty_rest() -> OpenAPI:
    """PagerDuty REST API v2 (headers checked: `Accept`, and `From` on writes)."""
    spec = OpenAPI(_load_json("pagerduty/reference/REST/openapiv3.json"), {}, {}, {})
    spec.check_headers = True
    return spec
