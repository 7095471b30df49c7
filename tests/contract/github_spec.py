"""GitHub's REST description (OpenAPI 3.0.3, July 2020) for the calls the GitHub connector makes.

Its `{path}` parameter is a "path+" parameter (the description says so): the file's path,
slashes included, so the operation's pattern takes slashes there. Its own examples serve as
canned answers (`example(name)`), so they come from GitHub, not from us.
"""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from typing import Any

from tests.contract.openapi import OpenAPI, specs_dir

FILE = "rest-api-description-2020-07-30/api.github.com.json"


class GitHubOpenAPI(OpenAPI):
    def __init__(self, document: dict[str, Any]) -> None:
        super().__init__(document, {}, {}, {})
        for op in self.operations:
            if op.template.endswith("/{path}"):
                op.pattern = re.compile(op.pattern.pattern.replace("(?P<path>[^/]+)",
                                                                   "(?P<path>.+)"))

    def example(self, name: str) -> Any:
        """A copy of one of the description's examples (`components/examples/<name>`)."""
        return copy.deepcopy(self.raw["components"]["examples"][name]["value"])


@cache
def github() -> GitHubOpenAPI:
    """The GitHub REST description, parsed once per test session."""
    document = json.loads((specs_dir() / "github" / FILE).read_text())
    spec = GitHubOpenAPI(copy.deepcopy(document))
    spec.raw = document  # type: ignore[attr-defined]
    return spec
