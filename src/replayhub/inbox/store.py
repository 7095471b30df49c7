"""Inbound webhook rows: stored once per (connector, event key), then marked processed."""

from __future__ import annotations

import time

from sqlalchemy import update

from replayhub.db.engine import Database
from replayhub.db.models import WebhookDelivery
from replayhub.db.upsert import insert_ignore

RECEIVED, PROCESSED, FAILED = "received", "processed", "failed"


async def store_webhook(db: Database, connector: str, event_key: str, body: bytes) -> bool:
    """Keep the webhook; False when the same delivery was stored before (a redelivery)."""
    now = int(time.time() * 1000)
    async with db.write() as tx:
        return await insert_ignore(tx, WebhookDelivery, connector=connector,
                                   event_key=event_key, body=body.decode("utf-8", "replace"),
                                   status=RECEIVED, received_at=now)


async def mark_webhook(db: Database, connector: str, event_key: str, status: str,
                       error: str | None = None) -> None:
    async with db.write() as tx:
        await tx.execute(update(WebhookDelivery).where(
            WebhookDelivery.connector == connector, WebhookDelivery.event_key == event_key)
            .values(status=status, error=error, processed_at=int(time.time() * 1000)))
