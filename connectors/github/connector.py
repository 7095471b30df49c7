"""The GitHub connector: a document is a Markdown file in a repository, its images beside it.

The file's path follows from the document's key (`postmortem:inc_abc` →
`<path>/inc_abc/postmortem.md`), so publishing again commits a new version of the same file;
its version is the file's blob sha. Images the Markdown names by an attachment's file name
are committed next to it (relative links keep working on GitHub and in a clone), and `data:`
images (the chart) become files too, since GitHub does not show `data:` URIs. A file whose
content did not change is not committed again. GitHub has no comments on files in a branch:
this connector does not sync comments.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from typing import Any, ClassVar

import httpx

from connectors.github.client import GitHubClient
from connectors.github.settings import GitHubSettings
from replayhub.connector import Connector, Document, PublishDocument, PublishedDocument

IMAGE = re.compile(r"!\[(?P<alt>[^\]]*)\]\((?P<target>[^)\s]+)(?P<title>\s+\"[^\"]*\")?\)")
DATA_URI = re.compile(r"^data:image/(?P<kind>png|jpeg|gif|webp|svg\+xml);base64,(?P<data>.+)$")
EXTENSIONS = {"png": "png", "jpeg": "jpg", "gif": "gif", "webp": "webp", "svg+xml": "svg"}
UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def slug(text: str, fallback: str) -> str:
    """A file or folder name from free text: letters, digits, `.`, `_`, `-`."""
    return UNSAFE.sub("-", text).strip(".-") or fallback


def blob_sha(data: bytes) -> str:
    """Git's id of a file's content (what GitHub reports as the file's `sha`)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


class Files:
    """The Markdown as committed, and the files committed beside it (name → bytes)."""

    def __init__(self, document: Document) -> None:
        self.extra: dict[str, bytes] = {}
        self.names = {a.filename: slug(a.filename, "attachment") for a in document.attachments}
        for attachment in document.attachments:
            self.extra[self.names[attachment.filename]] = attachment.data
        self.charts = 0
        markdown = IMAGE.sub(self._image, document.markdown)
        if document.marker and document.marker not in markdown:
            markdown = markdown.rstrip("\n") + f"\n\n<!-- {document.marker} -->\n"
        self.markdown = markdown.encode()

    def _image(self, match: re.Match[str]) -> str:
        target = match.group("target")
        if target in self.names:
            target = self.names[target]
        else:
            found = DATA_URI.match(target)
            data = self._decode(found.group("data")) if found else None
            if found and data is not None:
                self.charts += 1
                target = f"chart-{self.charts}.{EXTENSIONS[found.group('kind')]}"
                self.extra[target] = data
        return f"![{match.group('alt')}]({target}{match.group('title') or ''})"

    @staticmethod
    def _decode(text: str) -> bytes | None:
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            return None


class GitHubConnector(Connector, PublishDocument):
    name: ClassVar[str] = "github"
    title: ClassVar[str] = "GitHub (Markdown in a repository)"
    settings_type = GitHubSettings
    default_rate_limit_per_minute: ClassVar[int] = 60
    """GitHub's secondary limit allows 80 content-creating requests a minute."""

    settings: GitHubSettings

    def __init__(self, settings: GitHubSettings,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__(settings)
        self.client = GitHubClient(settings, transport)

    @property
    def account(self) -> str:
        return f"github:{self.settings.repository}"

    async def check(self) -> str:
        repo = await self.client.repo()
        can_push = (repo.get("permissions") or {}).get("push")
        access = "can push" if can_push else "cannot push: give the token Contents write"
        return f"repository {repo.get('full_name', self.settings.repository)} ({access})"

    def file_path(self, key: str) -> str:
        """`<path>/<name>/<kind>.md` for the key `<kind>:<name>`."""
        kind, _, name = key.partition(":")
        if not name:
            kind, name = "document", kind
        parts = [self.settings.folder, slug(name, "document"), f"{slug(kind, 'document')}.md"]
        return "/".join(part for part in parts if part)

    async def publish_document(self, document: Document,
                               existing: PublishedDocument | None) -> PublishedDocument:
        """Commit the images, then the Markdown (each only if it changed); the file is found
        again by its path, so `existing` only confirms what the path already says."""
        path = self.file_path(document.key)
        folder = path.rsplit("/", 1)[0] if "/" in path else ""
        files = Files(document)
        for name, data in files.extra.items():
            await self._commit(f"{folder}/{name}" if folder else name, data,
                               f"{document.title}: {name}")
        content = await self._commit(path, files.markdown, document.title or document.key)
        return self.published(path, content)

    async def _commit(self, path: str, data: bytes, message: str) -> dict[str, Any]:
        """The file's content entry after making it hold `data` (no commit if it already
        does)."""
        branch = self.settings.branch
        current = await self.client.file(path, branch)
        if current is not None and current.get("sha") == blob_sha(data):
            return current
        verb = "Update" if current is not None else "Add"
        answer = await self.client.put_file(path, data, f"{verb} {message}", branch,
                                            current.get("sha") if current else None)
        return dict(answer.get("content") or {})

    def published(self, path: str, content: dict[str, Any]) -> PublishedDocument:
        url = content.get("html_url") or (
            f"https://github.com/{self.settings.repository}/blob/{self.settings.branch}/{path}")
        return PublishedDocument(external_id=path, url=str(url), version=str(content["sha"]))

    async def find_document(self, document: Document) -> PublishedDocument | None:
        """The file at the document's path, when it carries the marker."""
        path = self.file_path(document.key)
        current = await self.client.file(path, self.settings.branch)
        if current is None:
            return None
        if document.marker and current.get("encoding") == "base64":
            text = base64.b64decode(current.get("content") or "").decode("utf-8", "replace")
            if document.marker not in text:
                return None
        return self.published(path, current)

    async def close(self) -> None:
        await self.client.close()
