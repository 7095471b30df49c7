"""Validate Slack requests and canned answers against ../shared/specs/slack.

- Web API methods in the 2020 Swagger 2.0 spec (chat.*, users.*, conversations.*, auth.test):
  form fields or query parameters must be declared (or documented later, see SUPPLEMENTS),
  required ones present, typed; JSON-encoded fields (blocks, metadata, unfurls) must parse;
  success answers must match the 200 schema, `ok: false` answers the error schema.
- files.getUploadURLExternal, files.completeUploadExternal and files.info: the java-slack-sdk
  shape samples (every key an answer may have, with placeholder values): a canned answer may
  only use keys the sample has, with the sample's types.
- Event payloads: the Events API wrapper schema plus the java-slack-sdk sample of the event.
- Block Kit: the limits Slack enforces (invalid_blocks) that the JSON schema lacks: 50 blocks,
  header text 150, section text 3000, fields 10 of 2000, non-empty actions (25 at most) and
  context (10 at most), button text 75, URLs 3000, alt_text 2000 (api.slack.com/reference/
  block-kit/blocks).
- chat.unfurl takes channel+ts or (for links typed in the composer) unfurl_id+source.
- response_url bodies (interactivity): JSON with text or blocks, as Slack documents them.

Where the 2020 spec predates what Slack documents today, SUPPLEMENTS and PATCHES say so.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from typing import Any
from urllib.parse import parse_qsl

import httpx
import jsonschema

from tests.contract.openapi import ContractError, specs_dir

METADATA = {"type": "object", "required": ["event_type", "event_payload"],
            "additionalProperties": False,
            "properties": {"event_type": {"type": "string", "pattern": "^[a-z0-9_]+$"},
                           "event_payload": {"type": "object"}}}
"""Message metadata (2022): `metadata` of chat.postMessage, messages' `metadata`."""
BLOCKS = {"type": "array", "maxItems": 50,
          "items": {"type": "object", "required": ["type"]}}
FILES = {"type": "array", "minItems": 1, "items": {
    "type": "object", "required": ["id"], "additionalProperties": False,
    "properties": {"id": {"type": "string"}, "title": {"type": "string"}}}}

SUPPLEMENTS: dict[str, dict[str, dict[str, Any]]] = {
    "chat.postMessage": {"metadata": {"type": "string", "json": METADATA}},
    "chat.unfurl": {"unfurl_id": {"type": "string"}, "source": {"type": "string"},
                    "channel": {"type": "string"}, "ts": {"type": "string"}},
    "conversations.history": {"include_all_metadata": {"type": "boolean"}},
    "conversations.replies": {"include_all_metadata": {"type": "boolean"}},
    "files.getUploadURLExternal": {
        "filename": {"type": "string", "required": True},
        "length": {"type": "integer", "required": True},
        "alt_txt": {"type": "string"}, "snippet_type": {"type": "string"}},
    "files.completeUploadExternal": {
        "files": {"type": "string", "required": True, "json": FILES},
        "channel_id": {"type": "string"}, "channels": {"type": "string"},
        "thread_ts": {"type": "string"}, "initial_comment": {"type": "string"}},
    "files.info": {"file": {"type": "string", "required": True}},
}
"""Arguments documented at api.slack.com after the 2020 spec (metadata and
include_all_metadata in 2022; unfurl_id/source; the two external upload methods in 2024,
which replaced files.upload)."""
JSON_FIELDS = {"blocks": BLOCKS, "unfurls": {"type": "object", "minProperties": 1}}
EXTRA_ERRORS = {"chat.postMessage": ["invalid_blocks", "invalid_metadata_format",
                                     "ratelimited"],
                "chat.update": ["invalid_blocks"]}
"""Errors Slack documents today that the 2020 enums lack."""
SHAPE_METHODS = {"files.getUploadURLExternal", "files.completeUploadExternal", "files.info"}
RETIRED = {"files.upload": "files.upload stopped working on 2025-11-12: use "
                           "files.getUploadURLExternal and files.completeUploadExternal"}


def _patch(document: dict[str, Any]) -> dict[str, Any]:
    """The 2020 spec, with what it gets wrong or predates (each change says why)."""
    definitions = document["definitions"]
    # Message metadata (2022) on messages read back with include_all_metadata.
    definitions["objs_message"]["properties"]["metadata"] = METADATA
    history = document["paths"]["/conversations.history"]["get"]["responses"]["200"]["schema"]
    history["properties"]["messages"]["minItems"] = 0  # an empty channel answers []
    history["properties"]["response_metadata"] = {"type": "object"}
    replies = document["paths"]["/conversations.replies"]["get"]["responses"]["200"]["schema"]
    replies["properties"]["response_metadata"] = {"type": "object"}
    for item in replies["properties"]["messages"]["items"]["items"]:
        # The 2020 items describe people's messages only; the hub's are bot messages.
        item["properties"].update({"metadata": METADATA, "bot_id": {"type": "string"},
                                   "blocks": BLOCKS, "app_id": {"type": "string"}})
    update = document["paths"]["/chat.update"]["post"]["responses"]["200"]["schema"]
    update["properties"]["message"]["properties"]["blocks"] = BLOCKS  # an array, not an object
    for method, errors in EXTRA_ERRORS.items():
        spec = document["paths"][f"/{method}"]["post"]["responses"]["default"]["schema"]
        spec["properties"]["error"]["enum"] += errors
    return document


@cache
def web_api() -> dict[str, Any]:
    path = specs_dir() / "slack" / "web-api" / "slack_web_openapi_v2.json"
    return _patch(copy.deepcopy(json.loads(path.read_text())))


@cache
def shape_sample(kind: str, name: str) -> Any:
    path = specs_dir() / "slack" / "java-slack-sdk-json-logs" / kind / f"{name}.json"
    return json.loads(path.read_text())


@cache
def event_wrapper() -> dict[str, Any]:
    path = specs_dir() / "slack" / "events-api" / "slack_common_event_wrapper_schema.json"
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def _validate(instance: Any, schema: dict[str, Any], where: str) -> None:
    root = {**schema, "definitions": web_api()["definitions"]}
    errors = sorted(jsonschema.Draft4Validator(root).iter_errors(instance),
                    key=lambda e: list(e.absolute_path))
    if errors:
        at = "/".join(str(p) for p in errors[0].absolute_path)
        raise ContractError(f"{where}: {errors[0].message} (at /{at})")


def check_shape(value: Any, sample: Any, where: str) -> None:
    """`value` uses only keys the sample has, each with the sample's JSON type."""
    if isinstance(sample, dict):
        if not isinstance(value, dict):
            raise ContractError(f"{where}: expected an object")
        for key, item in value.items():
            if key not in sample:
                if len(sample) and all(k.startswith(("C0", "U0", "T0")) for k in sample):
                    check_shape(item, next(iter(sample.values())), f"{where}.{key}")
                    continue
                raise ContractError(f"{where}: key {key!r} is not in the sample")
            check_shape(item, sample[key], f"{where}.{key}")
    elif isinstance(sample, list):
        if not isinstance(value, list):
            raise ContractError(f"{where}: expected an array")
        for index, item in enumerate(value):
            problems = []
            for candidate in sample or [item]:
                try:
                    check_shape(item, candidate, f"{where}[{index}]")
                    break
                except ContractError as error:
                    problems.append(str(error))
            else:
                raise ContractError(problems[0])
    elif isinstance(sample, bool):
        if not isinstance(value, bool):
            raise ContractError(f"{where}: expected a boolean")
    elif isinstance(sample, int | float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ContractError(f"{where}: expected a number")
    elif isinstance(sample, str) and not isinstance(value, str):
        raise ContractError(f"{where}: expected a string")


BLOCK_LIMITS = {"header": 150, "section": 3000, "field": 2000, "fields": 10, "actions": 25,
                "context": 10, "button": 75, "url": 3000, "value": 2000, "alt_text": 2000,
                "block_id": 255, "blocks": 50}


def _text_of(element: Any, where: str) -> str:
    if not isinstance(element, dict) or not isinstance(element.get("text"), str):
        raise ContractError(f"{where}: a text object needs a string `text`")
    if not element["text"]:
        raise ContractError(f"{where}: empty text")
    return str(element["text"])


def _limit(value: str, limit: int, where: str) -> None:
    if len(value) > limit:
        raise ContractError(f"{where}: {len(value)} characters, Slack allows {limit} "
                            "(invalid_blocks)")


def _check_element(element: dict[str, Any], where: str) -> None:
    if element.get("type") == "button":
        _limit(_text_of(element.get("text"), where), BLOCK_LIMITS["button"], f"{where} text")
        _limit(str(element.get("url", "")), BLOCK_LIMITS["url"], f"{where} url")
        _limit(str(element.get("value", "")), BLOCK_LIMITS["value"], f"{where} value")


def _check_block(block: dict[str, Any], where: str) -> None:
    kind = block.get("type")
    _limit(str(block.get("block_id", "")), BLOCK_LIMITS["block_id"], f"{where} block_id")
    if kind == "header":
        _limit(_text_of(block.get("text"), where), BLOCK_LIMITS["header"], f"{where} text")
    elif kind == "section":
        fields = block.get("fields") or []
        if "text" not in block and not fields:
            raise ContractError(f"{where}: a section needs text or fields")
        if "text" in block:
            _limit(_text_of(block["text"], where), BLOCK_LIMITS["section"], f"{where} text")
        if len(fields) > BLOCK_LIMITS["fields"]:
            raise ContractError(f"{where}: {len(fields)} fields, Slack allows 10")
        for index, field in enumerate(fields):
            _limit(_text_of(field, where), BLOCK_LIMITS["field"], f"{where} field {index}")
    elif kind in ("actions", "context"):
        elements = block.get("elements") or []
        if not elements or len(elements) > BLOCK_LIMITS[kind]:
            raise ContractError(f"{where}: {kind} needs 1 to {BLOCK_LIMITS[kind]} elements, "
                                f"has {len(elements)}")
        for index, element in enumerate(elements):
            if kind == "context" and element.get("type") in ("mrkdwn", "plain_text"):
                _limit(_text_of(element, where), BLOCK_LIMITS["section"],
                       f"{where} element {index}")
            _check_element(element, f"{where} element {index}")
    elif kind == "image":
        _limit(str(block.get("alt_text", "")), BLOCK_LIMITS["alt_text"], f"{where} alt_text")
        _limit(str(block.get("image_url", "")), BLOCK_LIMITS["url"], f"{where} image_url")


def check_blocks(blocks: Any, where: str) -> None:
    """Block Kit's limits, as Slack enforces them (a breach is `invalid_blocks`)."""
    _validate(blocks, BLOCKS, where)
    if len(blocks) > BLOCK_LIMITS["blocks"]:
        raise ContractError(f"{where}: {len(blocks)} blocks, Slack allows 50")
    for index, block in enumerate(blocks):
        _check_block(block, f"{where} block {index} ({block.get('type')})")


def check_response_url_body(request: httpx.Request) -> dict[str, Any]:
    """A POST to a click's response_url: JSON with text or blocks; response_type ephemeral or
    in_channel; replace_original/delete_original booleans (api.slack.com/interactivity/
    handling#message_responses)."""
    if request.method != "POST":
        raise ContractError("response_url: POST only")
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    if kind != "application/json":
        raise ContractError(f"response_url: body must be JSON, not {kind!r}")
    body = json.loads(request.content)
    allowed = {"text", "blocks", "response_type", "replace_original", "delete_original",
               "thread_ts", "mrkdwn"}
    if not isinstance(body, dict) or set(body) - allowed:
        raise ContractError(f"response_url: unknown keys {sorted(set(body) - allowed)}")
    if not (body.get("text") or body.get("blocks")):
        raise ContractError("response_url: text or blocks is required")
    if body.get("response_type", "ephemeral") not in ("ephemeral", "in_channel"):
        raise ContractError("response_url: response_type is ephemeral or in_channel")
    for name in ("replace_original", "delete_original"):
        if name in body and not isinstance(body[name], bool):
            raise ContractError(f"response_url: {name} must be a boolean")
    if "blocks" in body:
        check_blocks(body["blocks"], "response_url blocks")
    return body


def _typed(value: str, kind: str | None) -> Any:
    if kind == "integer" and value.lstrip("-").isdigit():
        return int(value)
    if kind == "number":
        try:
            return float(value)
        except ValueError:
            return value
    if kind == "boolean" and value in {"true", "false", "1", "0"}:
        return value in {"true", "1"}
    return value


def _parameters(method: str, verb: str) -> tuple[dict[str, dict[str, Any]], str]:
    """Declared arguments of a method (name → schema-ish) and where they go."""
    where = "query" if verb == "GET" else "formData"
    found: dict[str, dict[str, Any]] = {}
    item = web_api()["paths"].get(f"/{method}")
    if item is not None:
        spec = item.get(verb.lower())
        if spec is None:
            raise ContractError(f"{verb} {method}: the spec has no such HTTP method")
        for param in spec["parameters"]:
            if param["name"] == "token":
                continue  # sent as `Authorization: Bearer` (what Slack recommends)
            if param["in"] == where:
                found[param["name"]] = {"type": param.get("type"),
                                        "required": param.get("required", False)}
    elif method not in SUPPLEMENTS:
        raise ContractError(f"{method}: no such method in the spec")
    found.update(SUPPLEMENTS.get(method, {}))
    return found, where


def check_request(request: httpx.Request) -> str:
    """The Web API method a request calls, after checking it as Slack would; else raise."""
    method = request.url.path.rsplit("/", 1)[-1]
    if method in RETIRED:
        raise ContractError(RETIRED[method])
    if not request.headers.get("authorization", "").startswith("Bearer xoxb-"):
        raise ContractError(f"{method}: no bot token (Authorization: Bearer xoxb-…)")
    declared, where = _parameters(method, request.method)
    if where == "query":
        given = dict(parse_qsl(request.url.query.decode()))
    else:
        kind = request.headers.get("content-type", "").split(";")[0].strip()
        if kind != "application/x-www-form-urlencoded":
            raise ContractError(f"{method}: body must be form-encoded, not {kind!r}")
        given = dict(parse_qsl(request.content.decode(), keep_blank_values=True))
    for name, spec in declared.items():
        if spec.get("required") and name not in given:
            raise ContractError(f"{method}: argument {name!r} is required")
    for name, value in given.items():
        if name not in declared:
            raise ContractError(f"{method}: argument {name!r} is not in the spec")
        spec = declared[name]
        _validate(_typed(value, spec.get("type")), {"type": spec.get("type") or "string"},
                  f"{method} {name}")
        schema = spec.get("json") or JSON_FIELDS.get(name)
        if schema is not None:
            try:
                decoded = json.loads(value)
            except ValueError:
                raise ContractError(f"{method} {name}: not JSON") from None
            _validate(decoded, schema, f"{method} {name}")
    if method == "chat.postMessage" and not (given.get("text") or given.get("blocks")):
        raise ContractError("chat.postMessage: text or blocks is required")
    if "blocks" in given:
        check_blocks(json.loads(given["blocks"]), f"{method} blocks")
    if method == "chat.unfurl":
        _check_unfurl(given)
    return method


def _check_unfurl(given: dict[str, str]) -> None:
    by_message = "channel" in given and "ts" in given
    by_composer = "unfurl_id" in given and "source" in given
    if by_message == by_composer:
        raise ContractError("chat.unfurl: channel and ts, or unfurl_id and source (one pair)")
    for url, unfurl in json.loads(given["unfurls"]).items():
        if "blocks" in unfurl:
            check_blocks(unfurl["blocks"], f"chat.unfurl {url[:60]} blocks")


def check_response(method: str, verb: str, body: Any) -> None:
    """A canned answer must be one Slack could send for this method."""
    if method in SHAPE_METHODS:
        check_shape(body, shape_sample("api", method), f"{method} answer")
        return
    responses = web_api()["paths"][f"/{method}"][verb.lower()]["responses"]
    schema = responses["200"]["schema"] if body.get("ok") else responses["default"]["schema"]
    _validate(body, schema, f"{method} answer")


EVENT_SAMPLES = {("message", ""): "MessagePayload", ("message", "bot_message"): "MessageBotPayload",
                 ("message", "message_changed"): "MessageChangedPayload",
                 ("message", "message_deleted"): "MessageDeletedPayload",
                 ("message", "thread_broadcast"): "MessageThreadBroadcastPayload",
                 ("link_shared", ""): "LinkSharedPayload"}


def check_event(payload: dict[str, Any]) -> None:
    """An Events API delivery: the wrapper schema, then the java-slack-sdk event sample."""
    errors = list(jsonschema.Draft7Validator(event_wrapper()).iter_errors(payload))
    if errors:
        raise ContractError(f"event wrapper: {errors[0].message}")
    event = payload["event"]
    name = EVENT_SAMPLES.get((event["type"], event.get("subtype", "")))
    if name is None:
        raise ContractError(f"no sample for the event {event['type']}/{event.get('subtype')}")
    check_shape(payload, shape_sample("events", name), name)
