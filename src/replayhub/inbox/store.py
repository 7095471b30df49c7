"""Inbound webhook rows: stored once per (connector, event key), processed, retried if need be."""

from __future__ import annotations

from sqlalchemy import select, update

from replayhub.clock import now_ms
from replayhub.db.engine import Database
from replayhub.db.models import WebhookDelivery
from replayhub.db.upsert import insert_ignore

RECEIVED, RETRYING, PROCESSED, FAILED = "received", "retrying", "processed", "failed"
STATUSES = (RECEIVED, RETRYING, PROCESSED, FAILED)
WAITING = (RECEIVED, RETRYING)
"""A row in one of these states is taken up again once its next_attempt_at has passed."""


async def store_webhook(db: Database, connector: str, event_key: str, body: bytes,
                        lease_ms: int = 120_000) -> bool:
    """Keep the webhook; False when the same delivery was stored before (a redelivery).

    The first attempt runs right after the answer; should this process die before it ends,
    the row is due again `lease_ms` later.
    """
    now = now_ms()
    async with db.write() as tx:
        return await insert_ignore(tx, WebhookDelivery, connector=connector,
                                   event_key=event_key, body=body.decode("utf-8", "replace"),
                                   status=RECEIVED, received_at=now, attempts=1,
                                   next_attempt_at=now + lease_ms)


async def mark_webhook(db: Database, connector: str, event_key: str, status: str,
                       error: str | None = None, next_attempt_ms: int | None = None) -> None:
    async with db.write() as tx:
        await tx.execute(update(WebhookDelivery).where(
            WebhookDelivery.connector == connector, WebhookDelivery.event_key == event_key)
            .values(status=status, error=error, processed_at=now_ms(),
                    next_attempt_at=next_attempt_ms))


async def claim_due_webhooks(db: Database, now: int, lease_ms: int,
                             limit: int) -> list[WebhookDelivery]:
    """Take up to `limit` rows due for another attempt; one another process took is skipped."""
    due = (WebhookDelivery.status.in_(WAITING), WebhookDelivery.next_attempt_at <= now)
    async with db.read() as tx:
        ids = list((await tx.execute(
            select(WebhookDelivery.id).where(*due)
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(limit)))
            .scalars())
    if not ids:
        return []  # the common case: no write transaction (on SQLite it holds ingest's lock)
    claimed: list[int] = []
    async with db.write() as tx:
        for row_id in ids:
            result = await tx.execute(
                update(WebhookDelivery).where(WebhookDelivery.id == row_id, *due)
                .values(status=RECEIVED, attempts=WebhookDelivery.attempts + 1,
                        next_attempt_at=now + lease_ms))
            if result.rowcount == 1:  # type: ignore[attr-defined]
                claimed.append(row_id)
    if not claimed:
        return []
    async with db.read() as tx:
        rows = (await tx.execute(select(WebhookDelivery)
                                 .where(WebhookDelivery.id.in_(claimed)))).scalars()
        return sorted(rows, key=lambda row: claimed.index(row.id or 0))


async def list_webhooks(db: Database, status: str | None, limit: int) -> list[WebhookDelivery]:
    """Newest first."""
    query = select(WebhookDelivery).order_by(WebhookDelivery.received_at.desc(),
                                             WebhookDelivery.id.desc())
    if status:
        query = query.where(WebhookDelivery.status == status)
    async with db.read() as tx:
        return list((await tx.execute(query.limit(limit))).scalars())


async def get_webhook(db: Database, row_id: int) -> WebhookDelivery | None:
    async with db.read() as tx:
        return await tx.get(WebhookDelivery, row_id)


async def retry_failed_webhook(db: Database, row_id: int, now: int) -> bool:
    """Give a failed webhook a fresh budget of attempts, due now; False if it is not failed."""
    async with db.write() as tx:
        result = await tx.execute(
            update(WebhookDelivery).where(WebhookDelivery.id == row_id,
                                          WebhookDelivery.status == FAILED)
            .values(status=RETRYING, attempts=0, next_attempt_at=now))
    return result.rowcount == 1  # type: ignore[attr-defined]
