"""The local blob folder: whole files or none, durable once put returns, folders made again
after a deletion."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from replayhub.blobs import BlobNotFound, LocalBlobStore


async def test_a_put_can_be_read_back_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    await store.put("sessions/s1/segments/0000000000.json.gz", b"first")
    await store.put("sessions/s1/segments/0000000000.json.gz", b"second")  # replaced whole
    assert await store.get("sessions/s1/segments/0000000000.json.gz") == b"second"
    assert sorted(os.listdir(tmp_path / "sessions" / "s1" / "segments")) == [
        "0000000000.json.gz"]


async def test_a_folder_deleted_after_a_put_is_made_again(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    await store.put("sessions/s2/segments/0000000000.json.gz", b"a")
    await store.delete_prefix("sessions/s2")
    with pytest.raises(BlobNotFound):
        await store.get("sessions/s2/segments/0000000000.json.gz")
    await store.put("sessions/s2/segments/0000000001.json.gz", b"b")
    assert await store.get("sessions/s2/segments/0000000001.json.gz") == b"b"


async def test_a_large_blob_is_written_whole(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    data = os.urandom(3 * 1024 * 1024)
    await store.put("sessions/s3/segments/0000000000.json.gz", data)
    assert await store.get("sessions/s3/segments/0000000000.json.gz") == data


async def test_a_failed_write_leaves_nothing_behind(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    store = LocalBlobStore(tmp_path)
    await store.put("sessions/s4/segments/0000000000.json.gz", b"kept")

    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space left"):
        await store.put("sessions/s4/segments/0000000000.json.gz", b"lost")
    assert await store.get("sessions/s4/segments/0000000000.json.gz") == b"kept"
    assert os.listdir(tmp_path / "sessions" / "s4" / "segments") == ["0000000000.json.gz"]


async def test_a_put_makes_the_file_and_every_folder_it_made_durable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A rename or a new folder survives a power cut only once its parent folder is synced."""
    store = LocalBlobStore(tmp_path)
    synced: list[str] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    await store.put("sessions/s5/segments/0000000000.json.gz", b"a")
    root, segments = str(store.root), str(store.root / "sessions" / "s5" / "segments")
    assert synced[:3] == [root, f"{root}/sessions", f"{root}/sessions/s5"]  # new folders
    assert synced[3].startswith(f"{segments}/.tmp-")  # the file, before its rename
    assert synced[4:] == [segments]  # the rename
    synced.clear()
    await store.put("sessions/s5/segments/0000000001.json.gz", b"b")
    assert len(synced) == 2 and synced[0].startswith(f"{segments}/.tmp-")
    assert synced[1] == segments  # a known folder: only the file and the rename
