"""Delivery rows: enqueue once per idempotency key, claim with a compare-and-set, finish."""

from __future__ import annotations

import json
import secrets
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from replayhub.db.engine import Database
from replayhub.db.models import Delivery
from replayhub.db.upsert import insert_ignore

PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"
STATUSES = (PENDING, SENDING, SENT, FAILED)


class LeaseLost(Exception):
    """Another process claimed the delivery (our lease ran out): stop working on it."""


def new_delivery_id() -> str:
    return f"dlv_{secrets.token_hex(8)}"


async def enqueue(db: Database, *, delivery_id: str, connector: str, account: str,
                  action: str, payload: dict[str, Any], key: str, now_ms: int,
                  session_id: str | None = None) -> tuple[str, bool]:
    """Store the delivery unless its key is already there; (its id, whether it is new)."""
    async with db.write() as tx:
        await insert_ignore(
            tx, Delivery, id=delivery_id, connector=connector, account=account, action=action,
            payload=json.dumps(payload), progress="{}", idempotency_key=key, status=PENDING,
            attempts=0, next_attempt_at=now_ms, session_id=session_id, created_at=now_ms,
            updated_at=now_ms)
        found = (await tx.execute(select(Delivery.id).where(
            Delivery.idempotency_key == key))).scalar_one()
    return found, found == delivery_id


def _due(now_ms: int) -> ColumnElement[bool]:
    return or_(and_(Delivery.status == PENDING, Delivery.next_attempt_at <= now_ms),
               and_(Delivery.status == SENDING, Delivery.lease_until < now_ms))


async def claim_due(db: Database, owner: str, now_ms: int, lease_ms: int,
                    limit: int) -> list[Delivery]:
    """Take up to `limit` due deliveries; a row another process took first is skipped."""
    async with db.read() as tx:
        ids = list((await tx.execute(
            select(Delivery.id).where(_due(now_ms))
            .order_by(Delivery.next_attempt_at, Delivery.id).limit(limit))).scalars())
    if not ids:
        return []
    claimed: list[str] = []
    async with db.write() as tx:
        for delivery_id in ids:
            result = await tx.execute(
                update(Delivery).where(Delivery.id == delivery_id, _due(now_ms))
                .values(status=SENDING, lease_until=now_ms + lease_ms, lease_owner=owner,
                        attempts=Delivery.attempts + 1, updated_at=now_ms))
            if result.rowcount == 1:  # type: ignore[attr-defined]
                claimed.append(delivery_id)
    if not claimed:
        return []
    async with db.read() as tx:
        rows = (await tx.execute(select(Delivery).where(Delivery.id.in_(claimed)))).scalars()
        return sorted(rows, key=lambda row: claimed.index(row.id))


async def _update_held(db: Database, delivery_id: str, owner: str, **values: Any) -> None:
    """Change a delivery this process still holds; LeaseLost if another took it over."""
    async with db.write() as tx:
        result = await tx.execute(
            update(Delivery).where(Delivery.id == delivery_id, Delivery.lease_owner == owner,
                                   Delivery.status == SENDING).values(**values))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise LeaseLost(delivery_id)


async def save_progress(db: Database, delivery_id: str, owner: str, progress: dict[str, Any],
                        now_ms: int, lease_ms: int) -> None:
    """Record the finished steps (and renew the lease) before going on."""
    await _update_held(db, delivery_id, owner, progress=json.dumps(progress),
                       lease_until=now_ms + lease_ms, updated_at=now_ms)


async def mark_sent(db: Database, delivery_id: str, owner: str, external_id: str | None,
                    progress: dict[str, Any], now_ms: int) -> None:
    await _update_held(db, delivery_id, owner, status=SENT, external_id=external_id,
                       progress=json.dumps(progress), sent_at=now_ms, updated_at=now_ms,
                       lease_until=None, last_error=None)


async def mark_retry(db: Database, delivery_id: str, owner: str, error: str,
                     progress: dict[str, Any], next_attempt_ms: int, now_ms: int) -> None:
    await _update_held(db, delivery_id, owner, status=PENDING, last_error=error[:2000],
                       progress=json.dumps(progress), next_attempt_at=next_attempt_ms,
                       lease_until=None, updated_at=now_ms)


async def mark_failed(db: Database, delivery_id: str, owner: str, error: str,
                      progress: dict[str, Any], now_ms: int) -> None:
    await _update_held(db, delivery_id, owner, status=FAILED, last_error=error[:2000],
                       progress=json.dumps(progress), lease_until=None, updated_at=now_ms)


async def list_deliveries(db: Database, status: str | None, limit: int) -> list[Delivery]:
    """Newest first."""
    query = select(Delivery).order_by(Delivery.created_at.desc(), Delivery.id.desc())
    if status:
        query = query.where(Delivery.status == status)
    async with db.read() as tx:
        return list((await tx.execute(query.limit(limit))).scalars())


async def get_delivery(db: Database, delivery_id: str) -> Delivery | None:
    async with db.read() as tx:
        return await tx.get(Delivery, delivery_id)


async def retry_failed(db: Database, delivery_id: str, now_ms: int) -> bool:
    """Give a failed delivery a fresh budget of attempts; False if it is not failed."""
    async with db.write() as tx:
        result = await tx.execute(
            update(Delivery).where(Delivery.id == delivery_id, Delivery.status == FAILED)
            .values(status=PENDING, attempts=0, next_attempt_at=now_ms, updated_at=now_ms))
    return result.rowcount == 1  # type: ignore[attr-defined]


async def sent_external_ids(db: Database, connector: str, ids: list[str]) -> set[str]:
    """Which of these vendor ids are notes the hub itself posted."""
    if not ids:
        return set()
    async with db.read() as tx:
        return set((await tx.execute(select(Delivery.external_id).where(
            Delivery.connector == connector, Delivery.external_id.in_(ids)))).scalars())
