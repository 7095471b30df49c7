"""BlobStore: put/get/delete of compressed replay segments (a local folder by default, or an
S3-compatible bucket shared by several hub processes)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from replayhub.config import BlobSettings


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
        self._folders: set[str] = set()
        """Folders known to exist (a session's folder is made by its first put)."""

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

    def _put(self, path: str, data: bytes) -> None:
        """Write a temporary file, fsync it, rename it into place and fsync the folder: a
        reader sees the whole blob or none, and once put returns the blob survives a power
        cut (the rename is durable only once its folder is). Kept to a few system calls:
        each one lets go of the GIL, and getting it back from a busy event loop is what a
        put on a thread mostly waits for."""
        folder, name = os.path.split(path)
        tmp_name = os.path.join(folder, f".tmp-{os.getpid()}-{threading.get_ident()}-{name}")
        fd = self._create(folder, tmp_name)
        try:
            try:
                _write_all(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp_name, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
            raise
        _fsync_folder(folder)

    def _create(self, folder: str, file: str) -> int:
        """Open a new file for writing, making its folder the first time (or again, after
        a deletion removed it)."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
        if folder in self._folders:
            try:
                return os.open(file, flags, 0o644)
            except FileNotFoundError:
                self._folders.discard(folder)
        self._make_folder(folder)
        if len(self._folders) >= 10_000:
            self._folders.clear()
        self._folders.add(folder)
        return os.open(file, flags, 0o644)

    def _make_folder(self, folder: str) -> None:
        """Make `folder` and its missing parents, each made durable in its own parent."""
        parent = os.path.dirname(folder)
        if not os.path.isdir(parent) and folder != str(self.root):
            self._make_folder(parent)
        with contextlib.suppress(FileExistsError):  # another thread made it: sync it too
            os.mkdir(folder)
        _fsync_folder(parent)


def _fsync_folder(folder: str) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    """os.write until every byte is written (a single write may be short)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class S3BlobStore:
    """Blobs as objects in an S3-compatible bucket (AWS, MinIO, R2, ...), through obstore.

    A put returns once the object store has acknowledged the whole object, which S3 makes
    durable; keys live under `prefix` so one bucket can serve several hubs.
    """

    def __init__(self, settings: BlobSettings) -> None:
        from obstore.store import S3Store

        options: dict[str, object] = {}
        if settings.endpoint:
            options["endpoint"] = settings.endpoint
        if settings.region:
            options["region"] = settings.region
        if settings.access_key_id:
            options["access_key_id"] = settings.access_key_id
            options["secret_access_key"] = settings.secret_access_key
        client = {"allow_http": True} if settings.endpoint.startswith("http://") else {}
        self.prefix = settings.prefix.strip("/")
        self.store = S3Store(settings.bucket, client_options=client, **options)  # type: ignore[arg-type]

    def _key(self, key: str) -> str:
        if ".." in key.split("/"):
            raise ValueError(f"blob key {key!r} leaves the blob prefix")
        return f"{self.prefix}/{key}" if self.prefix else key

    async def put(self, key: str, data: bytes) -> None:
        import obstore

        await obstore.put_async(self.store, self._key(key), data)

    async def get(self, key: str) -> bytes:
        import obstore

        try:
            result = await obstore.get_async(self.store, self._key(key))
        except FileNotFoundError as error:
            raise BlobNotFound(key) from error
        return bytes(await result.bytes_async())

    async def delete_prefix(self, prefix: str) -> None:
        import obstore

        paths: list[str] = []
        async for batch in obstore.list(self.store, prefix=self._key(prefix.rstrip("/"))):
            paths.extend(item["path"] for item in batch)
        for start in range(0, len(paths), 1000):
            await obstore.delete_async(self.store, paths[start:start + 1000])


def blob_store(settings: BlobSettings, data_path: Path) -> BlobStore:
    """The store the settings name: `[blobs] backend = "local"` (default) or `"s3"`."""
    if settings.backend == "s3":
        return S3BlobStore(settings)
    return LocalBlobStore(Path(settings.path) if settings.path else data_path / "blobs")
