"""Turn an ingest request body into a validated batch, or refuse it whole with a clear reason."""

from __future__ import annotations

import zlib
from typing import Annotated, Any

import msgspec

from replayhub.config import LimitSettings

EVENT_TYPES = range(7)  # rrweb EventType: DomContentLoaded .. Plugin
MAX_TIMESTAMP = 10**14  # year 5138: anything above is not epoch milliseconds
_EMPTY: dict[str, Any] = {}


class IngestRefused(Exception):
    """The batch cannot be accepted; status and limit say why (a 413 or 422 problem)."""

    def __init__(self, status: int, title: str, detail: str, limit: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.limit = limit


Short = Annotated[str, msgspec.Meta(max_length=320)]


class IngestUser(msgspec.Struct, forbid_unknown_fields=False):
    id: Short | None = None
    email: Short | None = None
    name: Short | None = None


class IngestBody(msgspec.Struct, forbid_unknown_fields=False):
    session_id: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9._:-]{8,128}\Z")]
    seq: Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)]
    events: list[msgspec.Raw]
    app_key: Short | None = None
    user: IngestUser | None = None
    metadata: dict[str, Any] | None = None


class Batch(msgspec.Struct):
    """A batch that passed every check: events are plain dicts, in the order sent."""

    session_id: str
    seq: int
    app_key: str | None
    user: IngestUser | None
    metadata: dict[str, Any]
    events: list[dict[str, Any]]
    size_bytes: int
    first_ts: int | None = None
    """The earliest and latest event timestamps (None for a batch without events)."""
    last_ts: int | None = None


def decode_body(body: bytes, content_encoding: str, limits: LimitSettings) -> Batch:
    """Decompress, parse and check one ingest body against the limits."""
    if len(body) > limits.max_body_bytes:
        raise IngestRefused(413, "Body too large",
                            f"the body has {len(body)} bytes; the limit is {limits.max_body_bytes}",
                            "max_body_bytes")
    raw = _decompress(body, content_encoding, limits.max_decoded_bytes)
    try:
        parsed = msgspec.json.decode(raw, type=IngestBody)
    except msgspec.ValidationError as error:
        raise IngestRefused(422, "Invalid batch", f"the batch is malformed: {error}") from error
    except (msgspec.DecodeError, RecursionError) as error:
        raise IngestRefused(422, "Invalid JSON", f"the body is not valid JSON: {error}") from error
    if len(parsed.events) > limits.max_events_per_batch:
        raise IngestRefused(
            413, "Too many events",
            f"the batch has {len(parsed.events)} events; "
            f"the limit is {limits.max_events_per_batch}",
            "max_events_per_batch")
    try:
        events = _decode_events(parsed.events, limits)
        metadata = _check_metadata(parsed.metadata)
    except (msgspec.DecodeError, RecursionError) as error:
        raise IngestRefused(422, "Invalid event", f"an event cannot be read: {error}") from error
    stamps = [event["timestamp"] for event in events]
    return Batch(parsed.session_id, parsed.seq, parsed.app_key, parsed.user, metadata, events,
                 len(raw), int(min(stamps)) if stamps else None,
                 int(max(stamps)) if stamps else None)


def _decompress(body: bytes, content_encoding: str, limit: int) -> bytes:
    gzipped = "gzip" in content_encoding.lower() or body[:2] == b"\x1f\x8b"
    if not gzipped:
        return body
    inflater = zlib.decompressobj(wbits=47)  # gzip or zlib header
    try:
        raw = inflater.decompress(body, limit + 1)
    except zlib.error as error:
        raise IngestRefused(422, "Invalid gzip", f"the body is not valid gzip: {error}") from error
    if len(raw) > limit or inflater.unconsumed_tail:
        raise IngestRefused(413, "Body too large",
                            f"the decompressed body exceeds the limit of {limit} bytes",
                            "max_decoded_bytes")
    return raw


def _decode_events(raws: list[msgspec.Raw], limits: LimitSettings) -> list[dict[str, Any]]:
    """The events as dicts, decoded in one call (one call per event cost more than the
    decoding itself on large batches); the first bad event is the one reported."""
    too_big = max(map(len, raws), default=0) > limits.max_event_bytes
    events = msgspec.json.decode(b"[" + b",".join(raws) + b"]")
    for index, event in enumerate(events):
        if too_big and len(raws[index]) > limits.max_event_bytes:
            raise IngestRefused(
                413, "Event too large",
                f"events[{index}] has {len(raws[index])} bytes; "
                f"the limit is {limits.max_event_bytes}",
                "max_event_bytes")
        _check_event(index, event)
    return events


def _check_event(index: int, event: Any) -> None:
    if type(event) is not dict:
        raise IngestRefused(422, "Invalid event", f"events[{index}] is not an object")
    kind, timestamp = event.get("type"), event.get("timestamp")
    if type(kind) is not int or kind not in EVENT_TYPES:
        raise IngestRefused(422, "Invalid event",
                            f"events[{index}].type is {kind!r}; rrweb event types are 0 to 6")
    if type(timestamp) not in (int, float) or not 0 < timestamp < MAX_TIMESTAMP:
        raise IngestRefused(422, "Invalid event",
                            f"events[{index}].timestamp must be epoch milliseconds")
    if type(event.get("data", _EMPTY)) is not dict:
        raise IngestRefused(422, "Invalid event", f"events[{index}].data must be an object")


def _check_metadata(metadata: dict[str, Any] | None) -> dict[str, Any]:
    if not metadata:
        return {}
    if len(msgspec.json.encode(metadata)) > 16_384:
        raise IngestRefused(413, "Metadata too large", "metadata may hold at most 16384 bytes",
                            "metadata")
    return metadata
