"""The contract validator itself: it passes what Zendesk takes and refuses what it would not."""

from __future__ import annotations

import httpx
import pytest

from tests.contract.openapi import ContractError, zendesk

URL = "https://acme.zendesk.test"


def request(method: str, path: str, **options: object) -> httpx.Request:
    return httpx.Request(method, URL + path, **options)  # type: ignore[arg-type]


def test_good_requests_pass() -> None:
    spec = zendesk()
    assert spec.check_request(request("GET", "/api/v2/users/me")).operation_id == \
        "ShowCurrentUser"
    note = {"ticket": {"comment": {"html_body": "<p>hi</p>", "public": False,
                                   "uploads": ["tok"]}}}
    assert spec.check_request(request("PUT", "/api/v2/tickets/12", json=note)).operation_id \
        == "UpdateTicket"
    upload = request("POST", "/api/v2/uploads?filename=a.png", content=b"png",
                     headers={"Content-Type": "image/png"})
    assert spec.check_request(upload).operation_id == "UploadFiles"


@pytest.mark.parametrize("bad", [
    request("PUT", "/api/v2/tickets/12", json={"ticket": {"additional_tags": ["x"]}}),
    request("PUT", "/api/v2/tickets/twelve", json={"ticket": {}}),
    request("PUT", "/api/v2/tickets/12", json={"ticket": {"comment": {"public": "no"}}}),
    request("POST", "/api/v2/uploads", content=b"png", headers={"Content-Type": "image/png"}),
    request("GET", "/api/v2/tickets/1/comments?sort_by=nothing"),
    request("DELETE", "/api/v2/users/me"),
    request("PUT", "/api/v2/tickets/1/tags", json={"tags": "one"}),
], ids=["unknown-property", "path-type", "body-type", "upload-filename", "unknown-query",
        "no-operation", "tags-type"])
def test_requests_zendesk_would_refuse_fail(bad: httpx.Request) -> None:
    with pytest.raises(ContractError):
        zendesk().check_request(bad)


def test_answers_are_checked_too() -> None:
    spec = zendesk()
    op = spec.operation("GET", "/api/v2/users/5")
    spec.check_response(op, 200, {"user": {"id": 5, "name": "Ada", "external_id": None}})
    with pytest.raises(ContractError):
        spec.check_response(op, 200, {"user": {"id": "five"}})
    with pytest.raises(ContractError):
        spec.check_response(op, 201, {"user": {"id": 5, "name": "Ada"}})
