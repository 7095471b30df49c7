"""Notion's OpenAPI 3.1 document (2025-09-03), with what its partial schemas leave out.

The document in shared/specs comes from Notion's MCP server and is partial: its block request
schema has only paragraphs and bulleted list items, its rich text has no annotations, `POST
/v1/pages` types `children` as strings (the MCP server passes JSON text), and no answer has a
real schema. Its `parentRequest` also lacks the data source parent that 2025-09-03 creates
database pages under (its `dataSourceIdParentRequest` holds the legacy `database_id`). The
patches below add, from Notion's reference ("Block", "Rich text", "Request limits", "Page",
"Comment", "Pagination", "Create a page", "Database", "Data source"), the block types the
connector sends, with the limits Notion enforces: 2,000 characters per text, 100 objects per
array, children nested two levels below a request's top blocks; and the `data_source_id`
parent. Everything is validated with JSON Schema 2020-12 (what
OpenAPI 3.1 uses), formats checked (`uuid` parents).
"""

from __future__ import annotations

import copy
import json
from functools import cache
from typing import Any

import jsonschema

from tests.contract.openapi import ContractError, OpenAPI, Operation, specs_dir

NOTION_VERSION = "2025-09-03"
REF = "#/components/schemas/"
CODE_LANGUAGES = [
    "abap", "agda", "arduino", "ascii art", "assembly", "bash", "basic", "bnf", "c", "c#", "c++",
    "clojure", "coffeescript", "coq", "css", "dart", "dhall", "diff", "docker", "ebnf",
    "elixir", "elm", "erlang", "f#", "flow", "fortran", "gherkin", "glsl", "go", "graphql",
    "groovy", "haskell", "hcl", "html", "idris", "java", "javascript", "json", "julia",
    "kotlin", "latex", "less", "lisp", "livescript", "llvm ir", "lua", "makefile", "markdown",
    "markup", "matlab", "mathematica", "mermaid", "nix", "notion formula", "objective-c",
    "ocaml", "pascal", "perl", "php", "plain text", "powershell", "prolog", "protobuf",
    "purescript", "python", "r", "racket", "reason", "ruby", "rust", "sass", "scala", "scheme",
    "scss", "shell", "smalltalk", "solidity", "sql", "swift", "toml", "typescript", "vb.net",
    "verilog", "vhdl", "visual basic", "webassembly", "xml", "yaml", "java/c/c++/c#"]
"""The `code.language` values Notion's Block reference lists."""


def obj(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required,
            "additionalProperties": False}


RICH_TEXT = {"type": "array", "maxItems": 100, "items": {"$ref": REF + "richTextRequest"}}
RICH_TEXT_REQUEST = obj({
    "type": {"enum": ["text"], "type": "string"},
    "text": obj({"content": {"type": "string", "maxLength": 2000},
                 "link": {"anyOf": [{"type": "null"}, obj({"url": {
                     "type": "string", "maxLength": 2000,
                     "pattern": "^(https?|mailto):[^\\s]+$"}}, ["url"])]}}, ["content"]),
    "annotations": obj({**{name: {"type": "boolean"} for name in
                           ("bold", "italic", "strikethrough", "underline", "code")},
                        "color": {"type": "string"}}, []),
}, ["text"])
"""The spec's richTextRequest plus `annotations` and the length limits."""


def block_schemas() -> dict[str, Any]:
    """blockLevel1 (top) → blockLevel2 → blockLevel3: only the first two may have children."""
    schemas = {}
    for level in (1, 2, 3):
        def kind(name: str, body: dict[str, Any], required: list[str],
                 nests: bool = True, level: int = level) -> dict[str, Any]:
            properties = dict(body)
            if nests and level < 3:
                properties["children"] = {"type": "array", "maxItems": 100, "minItems": 1,
                                          "items": {"$ref": f"{REF}blockLevel{level + 1}"}}
            return obj({"object": {"const": "block"}, "type": {"const": name},
                        name: obj(properties, required)}, [name])
        text = {"rich_text": RICH_TEXT, "color": {"type": "string"}}
        table_rows = {"type": "array", "minItems": 1, "maxItems": 100,
                      "items": {"$ref": REF + "tableRowRequest"}}
        variants = [
            kind("paragraph", text, ["rich_text"]),
            kind("bulleted_list_item", text, ["rich_text"]),
            kind("numbered_list_item", text, ["rich_text"]),
            kind("quote", text, ["rich_text"]),
            *(kind(f"heading_{n}", {**text, "is_toggleable": {"type": "boolean"}},
                   ["rich_text"], nests=False) for n in (1, 2, 3)),
            kind("code", {"rich_text": RICH_TEXT, "caption": RICH_TEXT,
                          "language": {"enum": CODE_LANGUAGES}}, ["rich_text"], nests=False),
            kind("divider", {}, [], nests=False),
            kind("image", {"type": {"const": "external"}, "caption": RICH_TEXT,
                           "external": obj({"url": {"type": "string", "maxLength": 2000,
                                                    "pattern": "^https?://"}}, ["url"])},
                 ["type", "external"], nests=False),
        ]
        if level < 3:
            variants.append(obj({"object": {"const": "block"}, "type": {"const": "table"},
                                 "table": obj({"table_width": {"type": "integer", "minimum": 1},
                                               "has_column_header": {"type": "boolean"},
                                               "has_row_header": {"type": "boolean"},
                                               "children": table_rows},
                                              ["table_width", "children"])}, ["table"]))
        schemas[f"blockLevel{level}"] = {"oneOf": variants}
    schemas["tableRowRequest"] = obj({
        "object": {"const": "block"}, "type": {"const": "table_row"},
        "table_row": obj({"cells": {"type": "array", "items": RICH_TEXT}}, ["cells"])},
        ["table_row"])
    return schemas


def top_blocks() -> dict[str, Any]:
    return {"type": "array", "maxItems": 100, "items": {"$ref": REF + "blockLevel1"}}


def date_time() -> dict[str, Any]:
    return {"type": "string", "format": "date-time"}


ID = {"type": "string", "format": "uuid"}
USER = {"type": "object", "required": ["object", "id"],
        "properties": {"object": {"const": "user"}, "id": ID, "name": {"type": ["string", "null"]},
                       "type": {"enum": ["person", "bot"]}}}
PAGE = {"type": "object", "required": ["object", "id", "created_time", "last_edited_time",
                                       "archived", "in_trash", "parent", "properties", "url"],
        "properties": {"object": {"const": "page"}, "id": ID, "created_time": date_time(),
                       "last_edited_time": date_time(), "archived": {"type": "boolean"},
                       "in_trash": {"type": "boolean"}, "parent": {"type": "object"},
                       "properties": {"type": "object"}, "url": {"type": "string"}}}
BLOCK = {"type": "object", "required": ["object", "id", "type", "has_children", "parent",
                                        "created_time", "last_edited_time"],
         "properties": {"object": {"const": "block"}, "id": ID, "type": {"type": "string"},
                        "has_children": {"type": "boolean"}, "parent": {"type": "object"},
                        "created_time": date_time(), "last_edited_time": date_time(),
                        "in_trash": {"type": "boolean"}, "archived": {"type": "boolean"}}}
COMMENT = {"type": "object", "required": ["object", "id", "parent", "discussion_id",
                                          "created_time", "created_by", "rich_text"],
           "properties": {"object": {"const": "comment"}, "id": ID, "parent": {"type": "object"},
                          "discussion_id": ID, "created_time": date_time(),
                          "last_edited_time": date_time(), "created_by": USER,
                          "rich_text": {"type": "array", "items": {
                              "type": "object", "required": ["type", "plain_text"],
                              "properties": {"type": {"const": "text"},
                                             "plain_text": {"type": "string"}}}}}}
DATABASE = {"type": "object", "required": ["object", "id", "title", "data_sources"],
            "properties": {"object": {"const": "database"}, "id": ID,
                           "title": {"type": "array"},
                           "data_sources": {"type": "array", "items": {
                               "type": "object", "required": ["id", "name"],
                               "properties": {"id": ID, "name": {"type": "string"}}}}}}
"""A database of 2025-09-03: its data sources listed by id and name."""
PROPERTY = {"type": "object", "required": ["id", "name", "type"],
            "properties": {"id": {"type": "string"}, "name": {"type": "string"},
                           "type": {"type": "string"}}}
DATA_SOURCE = {"type": "object", "required": ["object", "id", "properties", "parent"],
               "properties": {"object": {"const": "data_source"}, "id": ID,
                              "parent": {"type": "object", "required": ["type", "database_id"],
                                         "properties": {"type": {"const": "database_id"},
                                                        "database_id": ID}},
                              "properties": {"type": "object",
                                             "additionalProperties": PROPERTY},
                              "title": {"type": "array"}}}
DATA_SOURCE_PARENT = obj({"type": {"const": "data_source_id"}, "data_source_id": ID},
                         ["data_source_id"])
"""The parent of a page created in a data source (Notion's "Create a page" reference)."""
ERROR = {"type": "object", "required": ["object", "status", "code", "message"],
         "properties": {"object": {"const": "error"}, "status": {"type": "integer"},
                        "code": {"type": "string"}, "message": {"type": "string"}}}


def listing(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": ["object", "results", "next_cursor", "has_more"],
            "properties": {"object": {"const": "list"}, "results": {"type": "array",
                                                                     "items": item},
                           "next_cursor": {"type": ["string", "null"]},
                           "has_more": {"type": "boolean"}}}


ANSWERS = {"get-self": USER, "get-user": USER, "post-page": PAGE, "retrieve-a-page": PAGE,
           "patch-page": PAGE, "get-block-children": listing(BLOCK),
           "patch-block-children": listing(BLOCK), "delete-a-block": BLOCK,
           "post-search": listing(PAGE), "retrieve-a-comment": listing(COMMENT),
           "create-a-comment": COMMENT, "retrieve-a-database": DATABASE,
           "retrieve-a-data-source": DATA_SOURCE}
"""What each answer holds (from Notion's object references and the spec's own examples)."""


class NotionOpenAPI(OpenAPI):
    """Validates with JSON Schema 2020-12 (OpenAPI 3.1) and checks formats."""

    def validate(self, instance: Any, schema: dict[str, Any], where: str) -> None:
        root = {**schema, "components": self.components}
        validator = jsonschema.Draft202012Validator(
            root, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
        best = jsonschema.exceptions.best_match(validator.iter_errors(instance))
        if best is not None:
            at = "/".join(str(p) for p in best.absolute_path)
            raise ContractError(f"{where}: {best.message[:300]} (at /{at})")

    def check_response(self, op: Operation, status: int, body: Any) -> None:
        super().check_response(op, status, body)
        schema = ANSWERS.get(op.operation_id) if 200 <= status < 300 else ERROR
        if schema is not None and body is not None:
            self.validate(body, schema, f"{op.method} {op.template} answer {status}")


def patched(document: dict[str, Any]) -> dict[str, Any]:
    schemas = document["components"]["schemas"]
    schemas["richTextRequest"] = RICH_TEXT_REQUEST
    schemas.update(block_schemas())
    schemas["blockObjectRequest"] = {"$ref": REF + "blockLevel1"}
    schemas["parentRequest"]["oneOf"].append(DATA_SOURCE_PARENT)
    pages = document["paths"]["/v1/pages"]["post"]["requestBody"]["content"]
    pages["application/json"]["schema"]["properties"]["children"] = top_blocks()
    append = document["paths"]["/v1/blocks/{block_id}/children"]["patch"]["requestBody"]
    append["content"]["application/json"]["schema"]["properties"]["children"] = top_blocks()
    comment = document["paths"]["/v1/comments"]["post"]["requestBody"]["content"]
    text = comment["application/json"]["schema"]["properties"]["rich_text"]
    text["maxItems"] = 100
    text["items"]["properties"]["text"]["properties"]["content"]["maxLength"] = 2000
    return document


@cache
def notion() -> NotionOpenAPI:
    """The Notion spec, parsed and patched once per test session."""
    path = specs_dir() / "notion" / "notion-openapi.json"
    document = patched(copy.deepcopy(json.loads(path.read_text())))
    return NotionOpenAPI(document, {}, {}, {})
