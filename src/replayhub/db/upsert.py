"""Insert-if-missing helpers that work the same on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from replayhub.db.models import ErrorGroup, Url
from replayhub.ingest.indexer import ErrorRecord


def _insert(tx: AsyncSession, model: type[SQLModel]) -> Any:
    dialect = tx.bind.dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


async def insert_ignore(tx: AsyncSession, model: type[SQLModel], **values: Any) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING; whether a row was inserted."""
    result = await tx.execute(_insert(tx, model).values(**values).on_conflict_do_nothing())
    return result.rowcount == 1  # type: ignore[attr-defined,no-any-return]


async def insert_ignore_many(tx: AsyncSession, model: type[SQLModel],
                             rows: list[dict[str, Any]]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING for many rows at once."""
    await tx.execute(_insert(tx, model).on_conflict_do_nothing(), rows)


async def ensure_url(tx: AsyncSession, url: str) -> int:
    await insert_ignore(tx, Url, url=url)
    return (await tx.execute(select(Url.id).where(Url.url == url))).scalar_one()


async def ensure_error_group(tx: AsyncSession, app_id: str, error: ErrorRecord) -> int:
    """The group of this error's fingerprint in the app, created on first sight."""
    await insert_ignore(tx, ErrorGroup, app_id=app_id, fingerprint=error.fingerprint,
                        type=error.type[:200], message=error.message[:4000],
                        first_seen=error.t, last_seen=error.t)
    group_id = (await tx.execute(
        select(ErrorGroup.id).where(ErrorGroup.app_id == app_id,
                                    ErrorGroup.fingerprint == error.fingerprint))).scalar_one()
    await tx.execute(update(ErrorGroup).where(ErrorGroup.id == group_id).values(
        first_seen=case((ErrorGroup.first_seen > error.t, error.t), else_=ErrorGroup.first_seen),
        last_seen=case((ErrorGroup.last_seen < error.t, error.t), else_=ErrorGroup.last_seen)))
    return group_id
