"""Error groups over a time range: occurrences, distinct sessions and users, a histogram."""

from __future__ import annotations

import msgspec
from sqlalchemy import distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from replayhub.db.models import ErrorEvent, ErrorGroup
from replayhub.index.sessions import iso

HOUR = 3_600_000
DAY = 24 * HOUR


class Bucket(msgspec.Struct):
    start: str
    count: int


class ErrorGroupSummary(msgspec.Struct):
    fingerprint: str
    app_id: str
    type: str
    message: str
    count: int
    """Occurrences in the range."""
    sessions: int
    users: int
    """Distinct users affected in the range (user id, else email, else session)."""
    first_seen: str
    last_seen: str
    histogram: list[Bucket]
    sessions_url: str


def bucket_size(since: int, until: int) -> int:
    """An hour for ranges up to two days, else a day."""
    return HOUR if until - since <= 2 * DAY else DAY


async def error_groups(tx: AsyncSession, since: int, until: int, *, app_id: str | None = None,
                       limit: int = 50, base_url: str = "") -> list[ErrorGroupSummary]:
    """The groups with occurrences in [since, until), most frequent first."""
    query = (select(ErrorEvent.group_id, func.count().label("n"),
                    func.count(distinct(ErrorEvent.session_id)),
                    func.count(distinct(ErrorEvent.user_key)))
             .where(ErrorEvent.t >= since, ErrorEvent.t < until)
             .group_by(ErrorEvent.group_id)
             .order_by(func.count().desc(), ErrorEvent.group_id).limit(limit))
    if app_id:
        app_groups = select(ErrorGroup.id).where(ErrorGroup.app_id == app_id)
        query = query.where(ErrorEvent.group_id.in_(app_groups))
    figures = (await tx.execute(query)).all()
    if not figures:
        return []
    ids = [row[0] for row in figures]
    groups = {group.id: group for group in (await tx.execute(
        select(ErrorGroup).where(ErrorGroup.id.in_(ids)))).scalars()}
    size = bucket_size(since, until)
    histograms = await _histograms(tx, ids, since, until, size)
    return [
        ErrorGroupSummary(
            fingerprint=groups[group_id].fingerprint, app_id=groups[group_id].app_id,
            type=groups[group_id].type, message=groups[group_id].message, count=count,
            sessions=sessions, users=users, first_seen=iso(groups[group_id].first_seen),
            last_seen=iso(groups[group_id].last_seen),
            histogram=_fill(histograms.get(group_id, {}), since - since % size, until, size),
            sessions_url=f"{base_url}/api/v1/sessions?error={groups[group_id].fingerprint}")
        for group_id, count, sessions, users in figures
    ]


async def _histograms(tx: AsyncSession, ids: list[int], since: int, until: int,
                      size: int) -> dict[int, dict[int, int]]:
    """Counts per group and bucket; buckets start on whole hours or days (UTC)."""
    bucket = (ErrorEvent.t - (since - since % size)) // size
    rows = (await tx.execute(
        select(ErrorEvent.group_id, bucket, func.count())
        .where(ErrorEvent.group_id.in_(ids), ErrorEvent.t >= since, ErrorEvent.t < until)
        .group_by(ErrorEvent.group_id, bucket))).all()
    result: dict[int, dict[int, int]] = {}
    for group_id, index, count in rows:
        result.setdefault(group_id, {})[int(index)] = count
    return result


def _fill(counts: dict[int, int], since: int, until: int, size: int) -> list[Bucket]:
    total = max(1, -(-(until - since) // size))
    return [Bucket(iso(since + index * size), counts.get(index, 0)) for index in range(total)]
