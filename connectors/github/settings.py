"""The `[connectors.github]` settings table."""

from __future__ import annotations

import re
from typing import ClassVar

from replayhub.connector import ConnectorSettings

REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


class GitHubSettings(ConnectorSettings, kw_only=True, forbid_unknown_fields=True):
    """One repository that documents are committed to, as Markdown files."""

    token: str = ""
    """A fine-grained personal access token (or an app installation token) with
    "Contents: read and write" on the repository."""
    repository: str = ""
    """`owner/name` of the repository."""
    branch: str = "main"
    """The branch the files are committed to."""
    path: str = "postmortems"
    """The folder documents go in: `<path>/<incident>/postmortem.md` and its images beside it."""

    SECRETS: ClassVar[tuple[str, ...]] = ("token",)
    REQUIRED: ClassVar[tuple[str, ...]] = ("token", "repository")

    def __post_init__(self) -> None:
        if self.repository and not REPOSITORY.match(self.repository):
            raise ValueError("repository must be owner/name")
        if not self.branch:
            raise ValueError("branch must not be empty")

    @property
    def api_url(self) -> str:
        """https://api.github.com, or a GitHub Enterprise Server's `https://HOST/api/v3`."""
        return (self.base_url or "https://api.github.com").rstrip("/")

    @property
    def folder(self) -> str:
        return "/".join(part for part in self.path.split("/") if part and part != "..")
