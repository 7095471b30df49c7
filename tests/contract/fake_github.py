"""An in-memory GitHub repository behind respx: files on branches, commits, injected faults.

Every request is checked against GitHub's REST description (tests/contract/github_spec.py)
and every answer too; answers are built from the description's own examples. Like GitHub, a
PUT over an existing file without its `sha` is refused (422), and with a stale one too (409).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import httpx
import respx

from tests.contract.github_spec import GitHubOpenAPI, github

BASE_URL = "https://api.github.test"
TOKEN = "ghp_secret_that_must_not_leak"
REPOSITORY = "acme/incidents"
Fault = Callable[[httpx.Request], httpx.Response | None]


def blob_sha(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


class FakeGitHub:
    """One repository's branches (path → bytes) and the commits made to them."""

    def __init__(self, spec: GitHubOpenAPI | None = None) -> None:
        self.spec = spec or github()
        self.branches: dict[str, dict[str, bytes]] = {"main": {}}
        self.commits: list[dict[str, Any]] = []
        self.faults: dict[str, list[Fault]] = {}
        self.calls: list[str] = []
        self.bodies: list[tuple[str, Any]] = []
        self.ids = itertools.count(1)

    def fail(self, operation_id: str, *faults: Fault) -> None:
        self.faults.setdefault(operation_id, []).extend(faults)

    def router(self) -> respx.MockRouter:
        router = respx.mock(base_url=BASE_URL, assert_all_called=False)
        router.route().mock(side_effect=self.handle)
        return router

    def handle(self, request: httpx.Request) -> httpx.Response:
        op = self.spec.check_request(request)
        self.calls.append(op.operation_id)
        if request.content:
            self.bodies.append((op.operation_id, json.loads(request.content)))
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._answer(op, 401, {"message": "Bad credentials",
                                          "documentation_url": "https://docs.github.com/rest"})
        queued = self.faults.get(op.operation_id)
        if queued:
            answer = queued.pop(0)(request)
            if answer is not None:
                self.spec.check_response(op, answer.status_code, answer.json())
                return answer
        status, body = self.run(request)
        return self._answer(op, status, body)

    def _answer(self, op: Any, status: int, body: Any) -> httpx.Response:
        self.spec.check_response(op, status, body)
        return httpx.Response(status, json=body)

    def run(self, request: httpx.Request) -> tuple[int, Any]:
        op = self.spec.operation(request.method, request.url.path)
        handler = getattr(self, "op_" + op.operation_id.replace("/", "_").replace("-", "_"))
        return handler(request)  # type: ignore[no-any-return]

    # answers -----------------------------------------------------------------------
    def _path(self, request: httpx.Request) -> str:
        owner, repo, *rest = request.url.path.split("/")[2:]
        assert f"{owner}/{repo}" == REPOSITORY, request.url.path
        assert rest[0] == "contents"
        return "/".join(unquote(part) for part in rest[1:])

    def file_body(self, path: str, data: bytes, branch: str) -> dict[str, Any]:
        body = self.spec.example("content-file-response-if-content-is-a-file")
        sha = blob_sha(data)
        api = f"https://api.github.com/repos/{REPOSITORY}"
        html = f"https://github.com/{REPOSITORY}/blob/{branch}/{path}"
        body.update(size=len(data), name=path.rsplit("/", 1)[-1], path=path, sha=sha,
                    content=base64.encodebytes(data).decode(), url=f"{api}/contents/{path}",
                    git_url=f"{api}/git/blobs/{sha}", html_url=html,
                    download_url=f"https://raw.githubusercontent.com/{REPOSITORY}/{branch}/{path}",
                    _links={"git": f"{api}/git/blobs/{sha}", "self": f"{api}/contents/{path}",
                            "html": html})
        return body

    def not_found(self) -> tuple[int, Any]:
        return 404, {"message": "Not Found",
                     "documentation_url": "https://docs.github.com/rest/repos/contents"}

    # operations --------------------------------------------------------------------
    def op_repos_get(self, request: httpx.Request) -> tuple[int, Any]:
        body = self.spec.example("full-repository-default-response")
        body.update(full_name=REPOSITORY, name=REPOSITORY.split("/")[1],
                    permissions={"admin": False, "push": True, "pull": True})
        return 200, body

    def op_repos_get_content(self, request: httpx.Request) -> tuple[int, Any]:
        path = self._path(request)
        branch = request.url.params.get("ref", "main")
        files = self.branches.get(branch)
        if files is None or path not in files:
            return self.not_found()
        return 200, self.file_body(path, files[path], branch)

    def op_repos_create_or_update_file_contents(self, request: httpx.Request,
                                                ) -> tuple[int, Any]:
        path = self._path(request)
        body = json.loads(request.content)
        branch = body.get("branch", "main")
        files = self.branches.get(branch)
        if files is None:
            return 404, {"message": "Branch not found", "documentation_url": ""}
        current = files.get(path)
        if current is not None and "sha" not in body:
            return 422, {"message": 'Invalid request.\n\n"sha" wasn\'t supplied.',
                         "documentation_url": "https://docs.github.com/rest"}
        if current is not None and body["sha"] != blob_sha(current):
            return 409, {"message": f"{path} does not match {body['sha']}",
                         "documentation_url": "https://docs.github.com/rest"}
        data = base64.b64decode(body["content"], validate=True)
        files[path] = data
        commit = self.spec.example("file-commit-example-for-creating-a-file")
        content = self.file_body(path, data, branch)
        for key in ("content", "encoding"):
            content.pop(key)
        commit["content"] = content
        commit["commit"].update(sha=f"{next(self.ids):040x}", message=body["message"])
        self.commits.append({"path": path, "message": body["message"], "sha": blob_sha(data)})
        return (201 if current is None else 200), commit


def answer(status: int, headers: dict[str, str] | None = None,
           message: str = "injected") -> Fault:
    """A fault: answer `status` (with headers) without doing anything."""
    return lambda _request: httpx.Response(status, headers=headers, json={
        "message": message, "documentation_url": "https://docs.github.com/rest"})


def timeout_after_sending(fake: FakeGitHub) -> Fault:
    """A fault: GitHub commits, but the answer never arrives."""
    def fault(request: httpx.Request) -> httpx.Response | None:
        fake.run(request)
        raise httpx.ReadTimeout("timed out after sending", request=request)
    return fault
