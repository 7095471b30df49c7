"""BlobStore: put/get/delete of compressed replay segments (a local folder by default)."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from pathlib import Path
from typing import Protocol


class BlobNotFound(KeyError):
    """No blob is stored under that key."""


class BlobStore(Protocol):
    async def put(self, key: str, data: bytes) -> None: ...
    async def get(self, key: str) -> bytes: ...
    async def delete_prefix(self, prefix: str) -> None: ...


async def get_or_none(blobs: BlobStore, key: str) -> bytes | None:
    """The blob under `key`, or None when nothing is stored there (a cache miss)."""
    try:
        return await blobs.get(key)
    except BlobNotFound:
        return None


class LocalBlobStore:
    """Blobs as files under a root folder; a put is durable (fsync) before it returns."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self._root_prefix = os.path.join(str(self.root), "")

    def _path(self, key: str) -> Path:
        """The file of a key, checked lexically: resolve() cost a few stat calls per put,
        and the hub never makes symlinks under the root (a key with .. is refused)."""
        return Path(self._file(key))

    def _file(self, key: str) -> str:
        """_path as a plain string (no pathlib objects on the ingest path)."""
        path = os.path.normpath(os.path.join(self._root_prefix, key))
        if not path.startswith(self._root_prefix):
            raise ValueError(f"blob key {key!r} leaves the blob folder")
        return path

    async def put(self, key: str, data: bytes) -> None:
        await asyncio.to_thread(self._put, self._file(key), data)

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self._get, key)

    async def delete_prefix(self, prefix: str) -> None:
        await asyncio.to_thread(shutil.rmtree, self._path(prefix), True)

    def _get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as error:
            raise BlobNotFound(key) from error

    @staticmethod
    def _put(path: str, data: bytes) -> None:
        folder = os.path.dirname(path)
        os.makedirs(folder, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp_name, path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
