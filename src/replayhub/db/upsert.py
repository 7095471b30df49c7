"""Insert-if-missing helpers that work the same on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, case, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from replayhub.db.engine import execute_rows
from replayhub.db.models import ErrorGroup, Url
from replayhub.ingest.indexer import ErrorRecord


def _insert(tx: AsyncSession | Connection, model: type[SQLModel]) -> Any:
    dialect = tx.dialect.name if isinstance(tx, Connection) else tx.bind.dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


async def insert_ignore(tx: AsyncSession, model: type[SQLModel], **values: Any) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING; whether a row was inserted."""
    result = await tx.execute(_insert(tx, model).values(**values).on_conflict_do_nothing())
    return result.rowcount == 1  # type: ignore[attr-defined,no-any-return]


_INSERT_IGNORE: dict[tuple[str, type[SQLModel]], Any] = {}


def insert_ignore_many(tx: Connection, model: type[SQLModel], rows: list[dict[str, Any]]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING for many rows at once (one statement per dialect)."""
    key = (tx.dialect.name, model)
    statement = _INSERT_IGNORE.get(key)
    if statement is None:
        statement = _INSERT_IGNORE[key] = _insert(tx, model).on_conflict_do_nothing()
    execute_rows(tx, statement, rows)


def upsert(tx: Connection, model: type[SQLModel], key: list[str], values: dict[str, Any]) -> None:
    """INSERT, or UPDATE the row with the same `key` columns: one statement either way."""
    changes = {name: value for name, value in values.items() if name not in key}
    tx.execute(_insert(tx, model).values(**values)
               .on_conflict_do_update(index_elements=key, set_=changes))


def ensure_url(tx: Connection, url: str) -> int:
    tx.execute(_insert(tx, Url).values(url=url).on_conflict_do_nothing())
    return tx.execute(select(Url.id).where(Url.url == url)).scalar_one()


def ensure_error_group(tx: Connection, app_id: str, error: ErrorRecord) -> int:
    """The group of this error's fingerprint in the app, created on first sight."""
    tx.execute(_insert(tx, ErrorGroup).values(
        app_id=app_id, fingerprint=error.fingerprint, type=error.type[:200],
        message=error.message[:4000], first_seen=error.t, last_seen=error.t,
    ).on_conflict_do_nothing())
    group_id: int = tx.execute(
        select(ErrorGroup.id).where(ErrorGroup.app_id == app_id,
                                    ErrorGroup.fingerprint == error.fingerprint)).scalar_one()
    tx.execute(update(ErrorGroup).where(ErrorGroup.id == group_id).values(
        first_seen=case((ErrorGroup.first_seen > error.t, error.t), else_=ErrorGroup.first_seen),
        last_seen=case((ErrorGroup.last_seen < error.t, error.t), else_=ErrorGroup.last_seen)))
    return group_id
