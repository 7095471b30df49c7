"""Alert rules: which event (a new, regressed or spiking error, frustration on a page, new
sessions in a playlist) tells whom, in chat and by e-mail, once per cool-down, or in digests.

The tick reads the index tables past a cursor, and each rule that matches a subject (an
error group, a page element, a playlist) moves that subject's AlertState: a new message when
the rule fires outside its cool-down, else "dirty" so the posted message's counts are updated
in place. A second step turns states into outbox deliveries: `chat_alert` (Slack, Teams) and
e-mail, each under an idempotency key (rule, subject, cool-down episode, target), so a crash or
a second hub process never posts twice.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

import msgspec
import structlog
from sqlalchemy import distinct, exists, func, or_, select, update

from replayhub import people
from replayhub.clock import now_ms as current_ms
from replayhub.config import AlertRule, ConfigError
from replayhub.connector import ChatAlert, ChatPerson, SnapshotRef
from replayhub.db.models import (
    AlertCursor,
    AlertDigest,
    AlertMessage,
    AlertState,
    App,
    Delivery,
    ErrorEvent,
    ErrorGroup,
    ErrorResolution,
    Frustration,
    ReplaySession,
)
from replayhub.db.upsert import insert_ignore
from replayhub.index.sessions import iso
from replayhub.outbox.store import FAILED, SENT, enqueue, new_delivery_id
from replayhub.templating import render

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from replayhub.hub import Hub

log = structlog.get_logger(__name__)

HOUR = 3_600_000
DAY = 24 * HOUR
CHAT_ALERT = "chat_alert"
"""The outbox action that posts (or updates) an alert in a chat channel."""
UPDATABLE = ("slack",)
"""Chat connectors whose posted messages can be edited and replied to (Teams Workflows
webhooks can do neither)."""
ERROR_LEAD_MS = 500
"""A replay opens this long before the error: what the user did just before."""
SESSION_SPAN = DAY
"""Frustration signals are counted in sessions that started up to this long before."""
BASELINE_DAYS = 7
MAX_MENTIONS = 20
MAX_GROUPS_PER_TICK = 500
STATES_PER_PASS = 200
DIGEST_LINES = 20
REPLY = "reply"
"""AlertState.thread_of for a regression: reply under the earlier message of each target."""
TITLES = {"error.new": "New error", "error.regressed": "Error is back",
          "error.spike": "Error spike", "frustration": "Frustration",
          "playlist.new_sessions": "New sessions"}
SIGNAL_NAMES = {"rage_click": "rage click", "dead_click": "dead click",
                "error_click": "error click"}
PLAYLIST_RULE = AlertRule(name="playlist", on="playlist.new_sessions")
"""Used for a playlist's watchers when no `[[alerts]]` rule is on playlist.new_sessions."""


class UnknownError(LookupError):
    """No error group has this fingerprint."""


# --- rules ---------------------------------------------------------------------------------


def alert_rules(settings_rules: list[AlertRule]) -> dict[str, AlertRule]:
    """The rules by name; two rules with one name would share their state: refused."""
    found: dict[str, AlertRule] = {}
    for rule in settings_rules:
        if rule.name in found:
            raise ConfigError(f"alert rule {rule.name!r} is defined twice (names must differ)")
        found[rule.name] = rule
    return found


_patterns: dict[tuple[str, str], dict[str, list[people.Pattern]]] = {}


def rule_conditions(rule: AlertRule) -> dict[str, list[people.Pattern]]:
    """The rule's match, compiled once (case-insensitive globs, `re:` regexes)."""
    cache_key = (rule.name, json.dumps(rule.match.patterns(), sort_keys=True))
    if cache_key not in _patterns:
        _patterns[cache_key] = {key: [people.Pattern(p) for p in patterns]
                                for key, patterns in rule.match.patterns().items()}
    return _patterns[cache_key]


def rule_matches(rule: AlertRule, subject: people.Subject) -> bool:
    """Every key of the rule's match has a pattern matching one of the subject's values."""
    return all(any(pattern.matches(value) for pattern in patterns
                   for value in subject.values(key))
               for key, patterns in rule_conditions(rule).items())


def in_cooldown(rule: AlertRule, fired_at: int, now: int) -> bool:
    """Whether a message posted at `fired_at` still speaks for the rule at `now`."""
    return now - fired_at < rule.cooldown_ms


def next_digest_at(rule: AlertRule, after_ms: int) -> int | None:
    """The digest's next occurrence after `after_ms` (epoch ms, read in the rule's timezone)."""
    from replayhub.schedules import next_fire

    return next_fire(rule.digest, rule.timezone, after_ms)


PRIVATE_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa")
RESOLVED_SECONDS = 600.0
_resolved: dict[str, tuple[float, tuple[str, ...]]] = {}


def _numeric_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a numeric host means, short and hex IPv4 forms included (127.1, 0x7f.1,
    2130706433 are all 127.0.0.1 to a resolver); None for a name."""
    bare = host.strip("[]")
    try:
        return ipaddress.ip_address(bare.split("%")[0])
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(bare))
    except (OSError, ValueError):
        return None


def _addresses_of(host: str) -> tuple[str, ...]:
    """What the name resolves to (cached a few minutes); () when it does not resolve."""
    now = time.monotonic()
    cached = _resolved.get(host)
    if cached is not None and now - cached[0] < RESOLVED_SECONDS:
        return cached[1]
    try:
        found = tuple(sorted({str(info[4][0]) for info in socket.getaddrinfo(
            host, None, proto=socket.IPPROTO_TCP)}))
    except (OSError, UnicodeError):
        found = ()
    _resolved[host] = (now, found)
    return found


def is_public_url(url: str) -> bool:
    """An http(s) URL a vendor's servers can fetch: its host is no loopback, private or
    link-local address, in any spelling, and a name resolves to none (a name that does not
    resolve here may still resolve for the vendor: it is kept)."""
    parts = urlsplit(url or "")
    try:
        host = (parts.hostname or "").lower().rstrip(".")
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not host:
        return False
    if host == "localhost" or host.endswith(PRIVATE_SUFFIXES):
        return False
    numeric = _numeric_address(host)
    if numeric is not None:
        return numeric.is_global
    if "." not in host:
        return False
    return all(_numeric_address(address) is not None
               and bool(_numeric_address(address).is_global)  # type: ignore[union-attr]
               for address in _addresses_of(host))


# --- targets -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    connector: str
    """slack, teams or email."""
    channel: str
    """The Slack channel, `team:NAME` for Teams, or the e-mail address."""

    @property
    def key(self) -> str:
        return f"{self.connector}:{self.channel}"


def owners_named(entries: Iterable[str]) -> people.Owners:
    """`team:NAME` entries and e-mail addresses as Owners."""
    teams = [entry[5:].strip() for entry in entries if entry.startswith("team:")]
    emails = [entry.strip().lower() for entry in entries
              if not entry.startswith("team:") and "@" in entry]
    return people.Owners(teams=list(dict.fromkeys(teams)), emails=list(dict.fromkeys(emails)))


async def _owners_of_state(hub: Hub, state: AlertState, detail: dict[str, Any]) -> people.Owners:
    if state.kind.startswith("error."):
        found = await people.owners_of_error_groups(hub, [state.fingerprint])
        return found.get((state.app_id, state.fingerprint), people.Owners())
    if state.kind == "frustration":
        return await people.owners_for(hub, app=state.app_id, url=detail.get("url", ""))
    return owners_named(detail.get("watchers", []))


async def recipients(hub: Hub, rule: AlertRule, state: AlertState,
                     detail: dict[str, Any]) -> people.Owners:
    """Who the rule tells about this subject: its owners and/or the teams and e-mails named."""
    named = [entry for entry in rule.targets() if entry != "owners"]
    parts = [owners_named(named)]
    if "owners" in rule.targets():
        parts.append(await _owners_of_state(hub, state, detail))
    return people.merge(parts)


_disabled_warned: set[tuple[int, str]] = set()


def _enabled(hub: Hub, connector: str) -> bool:
    """Whether a chat connector is on; a target on a disabled one would fail forever, so it
    is skipped (said once)."""
    if connector == "email" or hub.connectors.get(connector) is not None:
        return True
    if (id(hub), connector) not in _disabled_warned:  # once per running hub
        _disabled_warned.add((id(hub), connector))
        log.warning("alerts.connector_disabled", connector=connector,
                    detail="teams name this chat but the connector is off: skipped")
    return False


async def targets_of(hub: Hub, owners: people.Owners) -> list[Target]:
    """Each owning team's Slack channel, Teams webhook and e-mail; each e-mail owner (chat
    targets of a disabled connector are left out)."""
    return [target for target in await _all_targets(hub, owners)
            if _enabled(hub, target.connector)]


async def _all_targets(hub: Hub, owners: people.Owners) -> list[Target]:
    found: list[Target] = []
    for name in owners.teams:
        record = await people.team(hub, name)
        if record is None:
            log.warning("alerts.unknown_team", team=name)
            continue
        if record.slack_channel:
            found.append(Target("slack", record.slack_channel))
        if record.teams_webhook:
            found.append(Target("teams", f"team:{record.name}"))
        if record.email:
            found.append(Target("email", record.email.lower()))
    found.extend(Target("email", email) for email in owners.emails)
    return list(dict.fromkeys(found))


async def mentions_of(hub: Hub, owners: people.Owners) -> list[ChatPerson]:
    """The owners named directly, then the owning teams' members (at most MAX_MENTIONS)."""
    emails = await people.members_of(hub, owners)
    return await people.chat_people(hub, emails[:MAX_MENTIONS])


# --- cursors over the index tables --------------------------------------------------------


@dataclass(frozen=True)
class Window:
    floor: int
    """Rows with a larger id are read (the last two ticks' rows, for late commits)."""
    fresh_after: int
    """Rows with a larger id arrived since the last tick: only they may start a message."""
    top: int
    previous_last: int


async def _window(hub: Hub, name: str, column: Any, now: int) -> Window | None:
    """The rows to read this tick; None on the very first tick (history never alerts)."""
    async with hub.db.read() as tx:
        top = (await tx.execute(select(func.max(column)))).scalar_one_or_none() or 0
        cursor = await tx.get(AlertCursor, name)
    if cursor is None:
        async with hub.db.write() as tx:
            await insert_ignore(tx, AlertCursor, name=name, last_id=top, previous_id=top,
                                updated_at=now)
        return None
    return Window(cursor.previous_id, cursor.last_id, max(top, cursor.last_id),
                  cursor.last_id)


async def _advance(hub: Hub, name: str, window: Window, now: int) -> None:
    async with hub.db.write() as tx:
        await tx.execute(update(AlertCursor).where(
            AlertCursor.name == name, AlertCursor.last_id == window.previous_last).values(
            previous_id=window.previous_last, last_id=window.top, updated_at=now))


# --- states --------------------------------------------------------------------------------


@dataclass
class Hit:
    """A rule matched a subject in this tick's rows."""

    rule: AlertRule
    subject: str
    kind: str
    fresh: bool
    """Rows that arrived since the last tick: may start a new message."""
    since: int
    fingerprint: str = ""
    app_id: str = ""
    detail: dict[str, Any] | None = None
    regression: bool = False
    start: bool = True
    """False: only refresh an existing state (never create one)."""
    once: bool = False
    """The subject can fire only once (an error is new once): never a second message."""


async def record_hit(hub: Hub, hit: Hit, now: int) -> bool:
    """Start a new message (no state, or the cool-down is over) or mark the state dirty;
    True when a new message was started."""
    async with hub.db.write() as tx:
        state = (await tx.execute(select(AlertState).where(
            AlertState.rule == hit.rule.name, AlertState.subject == hit.subject))
        ).scalar_one_or_none()
        detail = json.dumps(hit.detail or {})
        if state is None:
            if not (hit.fresh and hit.start):
                return False
            return await insert_ignore(
                tx, AlertState, rule=hit.rule.name, subject=hit.subject, kind=hit.kind,
                fingerprint=hit.fingerprint, app_id=hit.app_id, episode=1, fired_at=now,
                since=hit.since, sessions=0, users=0, occurrences=0, needs_post=True,
                dirty=False, revision=0, resolved=False,
                thread_of=REPLY if hit.regression else "", detail=detail, created_at=now,
                updated_at=now)
        if hit.fresh and hit.start and not hit.once and \
                not in_cooldown(hit.rule, state.fired_at, now):
            moved = await tx.execute(update(AlertState).where(
                AlertState.id == state.id, AlertState.episode == state.episode).values(
                episode=state.episode + 1, fired_at=now, since=hit.since, needs_post=True,
                dirty=False, revision=0, resolved=False,
                thread_of=REPLY if hit.regression else "", detail=detail, updated_at=now))
            return bool(moved.rowcount)  # type: ignore[attr-defined]
        changes: dict[str, Any] = {"dirty": True, "updated_at": now}
        if hit.detail is not None and hit.kind == "playlist.new_sessions":
            changes["detail"] = json.dumps({**json.loads(state.detail or "{}"), **hit.detail})
        if hit.regression:
            changes["resolved"] = False
        await tx.execute(update(AlertState).where(AlertState.id == state.id).values(**changes))
    return False


# --- detection: errors ---------------------------------------------------------------------


async def _app_names(tx: AsyncSession) -> dict[str, str]:
    return dict((await tx.execute(select(App.id, App.name))).all())


def _error_values(group: ErrorGroup) -> list[str]:
    return [group.fingerprint, group.message,
            *([f"{group.type}: {group.message}"] if group.type else [])]


async def _touched_groups(hub: Hub, window: Window) -> list[tuple[ErrorGroup, int]]:
    """The error groups with rows in the window, each with its highest new row id."""
    async with hub.db.read() as tx:
        rows = (await tx.execute(
            select(ErrorEvent.group_id, func.max(ErrorEvent.id))
            .where(ErrorEvent.id > window.floor, ErrorEvent.id <= window.top)
            .group_by(ErrorEvent.group_id).order_by(ErrorEvent.group_id)
            .limit(MAX_GROUPS_PER_TICK))).all()
        if not rows:
            return []
        groups = {g.id: g for g in (await tx.execute(select(ErrorGroup).where(
            ErrorGroup.id.in_([row[0] for row in rows])))).scalars()}
    return [(groups[group_id], top) for group_id, top in rows if group_id in groups]


async def _regression(hub: Hub, group: ErrorGroup, window: Window, now: int) -> int | None:
    """When a resolved group occurred again (its resolution is reopened), else None."""
    async with hub.db.read() as tx:
        resolution = await tx.get(ErrorResolution, group.id)
        if resolution is None or resolution.resolved_at is None:
            return None
        again = (await tx.execute(select(func.min(ErrorEvent.t)).where(
            ErrorEvent.group_id == group.id, ErrorEvent.id > window.floor,
            ErrorEvent.id <= window.top, ErrorEvent.t > resolution.resolved_at))).scalar()
    if again is None:
        return None
    async with hub.db.write() as tx:
        await tx.execute(update(ErrorResolution).where(
            ErrorResolution.group_id == group.id,
            ErrorResolution.resolved_at == resolution.resolved_at).values(
            resolved_at=None, regressed_at=again, updated_at=now))
        await tx.execute(update(AlertState).where(
            AlertState.fingerprint == group.fingerprint, AlertState.app_id == group.app_id,
            AlertState.resolved.is_(True)).values(  # type: ignore[attr-defined]
            resolved=False, dirty=True, updated_at=now))
    log.info("alerts.regressed", fingerprint=group.fingerprint, app=group.app_id)
    return int(again)


async def _is_new(hub: Hub, group: ErrorGroup, window: Window) -> bool:
    """No occurrence of the group was read before this window: the fingerprint is new."""
    async with hub.db.read() as tx:
        older = (await tx.execute(select(exists().where(
            ErrorEvent.group_id == group.id, ErrorEvent.id <= window.floor)))).scalar()
    return not older


async def _error_subject(hub: Hub, group: ErrorGroup, window: Window,
                         apps: dict[str, str]) -> people.Subject:
    async with hub.db.read() as tx:
        urls = (await tx.execute(select(ErrorEvent.url).distinct().where(
            ErrorEvent.group_id == group.id, ErrorEvent.id > window.floor,
            ErrorEvent.id <= window.top, ErrorEvent.url != "").limit(20))).scalars().all()
    app = [group.app_id, *([apps[group.app_id]] if group.app_id in apps else [])]
    return people.Subject(apps=app, urls=list(urls), errors=_error_values(group))


async def _spiking(hub: Hub, rule: AlertRule, group: ErrorGroup, now: int) -> bool:
    """The last hour's occurrences against the mean of the same hour on the week before."""
    async with hub.db.read() as tx:
        async def count(start: int) -> int:
            return int((await tx.execute(select(func.count()).where(
                ErrorEvent.group_id == group.id, ErrorEvent.t >= start,
                ErrorEvent.t < start + HOUR))).scalar_one())

        current = await count(now - HOUR)
        if current < max(rule.spike_min, 1):
            return False
        baseline = [await count(now - HOUR - day * DAY) for day in range(1, BASELINE_DAYS + 1)]
    mean = sum(baseline) / len(baseline)
    return mean == 0 or current >= rule.spike_ratio * mean


async def _detect_errors(hub: Hub, rules: list[AlertRule], window: Window, now: int) -> int:
    started = 0
    error_rules = [rule for rule in rules if rule.on.startswith("error.")]
    groups = await _touched_groups(hub, window)
    async with hub.db.read() as tx:
        apps = await _app_names(tx)
    for group, top in groups:
        fresh = top > window.fresh_after
        regressed_at = await _regression(hub, group, window, now) if fresh else None
        subject = await _error_subject(hub, group, window, apps)
        for rule in (rule for rule in error_rules if rule_matches(rule, subject)):
            hit = await _error_hit(hub, rule, group, window, fresh, regressed_at, now)
            if hit is not None:
                started += await record_hit(hub, hit, now)
    return started


async def _error_hit(hub: Hub, rule: AlertRule, group: ErrorGroup, window: Window, fresh: bool,
                     regressed_at: int | None, now: int) -> Hit | None:
    subject = f"error:{group.app_id}:{group.fingerprint}"
    common = {"kind": rule.on, "fresh": fresh, "fingerprint": group.fingerprint,
              "app_id": group.app_id}
    if rule.on == "error.new":
        return Hit(rule, subject, since=group.first_seen, once=True,
                   start=await _is_new(hub, group, window), **common)
    if rule.on == "error.regressed":
        if regressed_at is not None:
            return Hit(rule, subject, since=regressed_at, regression=True, **common)
        return Hit(rule, subject, since=now, start=False, **common)
    if rule.on == "error.spike":
        spiking = fresh and await _spiking(hub, rule, group, now)
        return Hit(rule, f"spike:{group.app_id}:{group.fingerprint}", since=now - HOUR,
                   start=spiking, **common)
    return None


# --- detection: frustration ----------------------------------------------------------------


def frustration_subject(app_id: str, url: str, selector: str) -> str:
    digest = hashlib.sha256(f"{app_id}\n{url}\n{selector}".encode()).hexdigest()[:32]
    return f"frustration:{digest}"


async def _detect_frustrations(hub: Hub, rules: list[AlertRule], window: Window,
                               now: int) -> int:
    frustration_rules = [rule for rule in rules if rule.on == "frustration"]
    if not frustration_rules:
        return 0
    async with hub.db.read() as tx:
        rows = (await tx.execute(
            select(Frustration.id, Frustration.t, Frustration.kind, Frustration.selector,
                   Frustration.url, Frustration.error_fingerprint, ReplaySession.app_id)
            .join(ReplaySession, ReplaySession.id == Frustration.session_id)
            .where(Frustration.id > window.floor, Frustration.id <= window.top)
            .order_by(Frustration.id).limit(20 * MAX_GROUPS_PER_TICK))).all()
        apps = await _app_names(tx)
    started = 0
    for rule in frustration_rules:
        spots: dict[tuple[str, str, str], list[Any]] = {}
        for row in rows:
            if not rule.signals or row[2] in rule.signals:
                spots.setdefault((row[6], row[4], row[3]), []).append(row)
        for (app_id, url, selector), found in spots.items():
            errors = [row[5] for row in found if row[5]]
            subject = people.Subject(
                apps=[app_id, *([apps[app_id]] if app_id in apps else [])],
                urls=[url] if url else [], errors=errors)
            if not rule_matches(rule, subject):
                continue
            fresh_rows = [row for row in found if row[0] > window.fresh_after]
            since = min(row[1] for row in (fresh_rows or found))
            hit = Hit(rule, frustration_subject(app_id, url, selector), "frustration",
                      fresh=bool(fresh_rows), since=since, app_id=app_id,
                      fingerprint=(errors[0] if errors else "")[:32],
                      detail={"url": url, "selector": selector})
            started += await record_hit(hub, hit, now)
    return started


# --- counts, snapshot and the message -----------------------------------------------------


@dataclass
class Counts:
    sessions: int = 0
    users: int = 0
    occurrences: int = 0

    def signature(self, resolved: bool) -> str:
        return f"{self.sessions}-{self.users}-{self.occurrences}-{int(resolved)}"


def _user_key() -> Any:
    return func.coalesce(ReplaySession.user_id, ReplaySession.user_email, ReplaySession.id)


async def _group_ids(tx: AsyncSession, state: AlertState) -> list[int]:
    return list((await tx.execute(select(ErrorGroup.id).where(
        ErrorGroup.app_id == state.app_id, ErrorGroup.fingerprint == state.fingerprint))
    ).scalars())


def _signals(rules: dict[str, AlertRule], state: AlertState) -> list[str]:
    rule = rules.get(state.rule)
    return list(rule.signals) if rule and rule.signals else list(SIGNAL_NAMES)


def _frustration_filters(state: AlertState, detail: dict[str, Any],
                         signals: list[str]) -> list[Any]:
    return [ReplaySession.app_id == state.app_id,
            ReplaySession.started_at >= state.since - SESSION_SPAN,
            Frustration.session_id == ReplaySession.id, Frustration.t >= state.since,
            Frustration.url == detail.get("url", ""),
            Frustration.selector == detail.get("selector", ""), Frustration.kind.in_(signals)]


async def counts_of(hub: Hub, state: AlertState, detail: dict[str, Any],
                    signals: list[str]) -> Counts:
    """Sessions, users and occurrences of the subject since the message's episode began."""
    async with hub.db.read() as tx:
        if state.kind.startswith("error."):
            row = (await tx.execute(
                select(func.count(distinct(ErrorEvent.session_id)),
                       func.count(distinct(ErrorEvent.user_key)), func.count())
                .where(ErrorEvent.group_id.in_(await _group_ids(tx, state)),
                       ErrorEvent.t >= state.since))).one()
            return Counts(int(row[0]), int(row[1]), int(row[2]))
        if state.kind == "frustration":
            row = (await tx.execute(
                select(func.count(distinct(Frustration.session_id)),
                       func.count(distinct(_user_key())), func.count())
                .select_from(ReplaySession).join(
                    Frustration, Frustration.session_id == ReplaySession.id)
                .where(*_frustration_filters(state, detail, signals)))).one()
            return Counts(int(row[0]), int(row[1]), int(row[2]))
        ids = detail.get("session_ids", [])
        users = (await tx.execute(select(func.count(distinct(_user_key())))
                                  .where(ReplaySession.id.in_(ids)))).scalar_one()
        return Counts(len(ids), int(users), len(ids))


async def _snapshot(hub: Hub, state: AlertState, detail: dict[str, Any],
                    signals: list[str]) -> tuple[str, int, str] | None:
    """(session, ms from its start, page) of the most telling moment: the latest occurrence
    in a session where the user clicked (an error click first), just before it happened."""
    async with hub.db.read() as tx:
        if state.kind.startswith("error."):
            rows = (await tx.execute(
                select(ErrorEvent.session_id, ErrorEvent.t, ErrorEvent.url, ReplaySession)
                .join(ReplaySession, ReplaySession.id == ErrorEvent.session_id)
                .where(ErrorEvent.group_id.in_(await _group_ids(tx, state)),
                       ErrorEvent.t >= state.since)
                .order_by(ErrorEvent.t.desc()).limit(50))).all()
        elif state.kind == "frustration":
            rows = (await tx.execute(
                select(Frustration.session_id, Frustration.t, Frustration.url, ReplaySession)
                .select_from(ReplaySession).join(
                    Frustration, Frustration.session_id == ReplaySession.id)
                .where(*_frustration_filters(state, detail, signals))
                .order_by(Frustration.t.desc()).limit(50))).all()
        else:
            rows = (await tx.execute(
                select(ReplaySession.id, ReplaySession.started_at, ReplaySession.first_url,
                       ReplaySession).where(ReplaySession.id.in_(
                           detail.get("session_ids", [])[-50:])))).all()
    if not rows:
        return None
    session_id, t, url, session = max(rows, key=lambda row: (
        row[3].error_click_count > 0, row[3].click_count > 0, row[1]))
    return session_id, max(0, t - session.started_at - ERROR_LEAD_MS), url


def alert_link_seconds(hub: Hub) -> int:
    """How long an alert's replay link works (`alert_link_days`, 1 to 90 days): a message
    stays in the channel far longer than a shared link usually does."""
    days = min(max(int(hub.settings.alert_link_days), 1), 90)
    return days * DAY // 1000


def _links(hub: Hub, session_id: str, t: int) -> tuple[str, str]:
    """A fresh signed replay link at the moment, and its PNG when the hub is publicly
    reachable (made again on each update, so a message edited later has a living link)."""
    from replayhub.replay.share import make_share_token

    token, _ = make_share_token(hub.secret_key, session_id, t, alert_link_seconds(hub))
    replay_url = f"{hub.settings.base_url}/share/{token}"
    public = is_public_url(hub.settings.public_url)
    return replay_url, (f"{replay_url}/snapshot.png" if public else "")


async def _moment(hub: Hub, state: AlertState, detail: dict[str, Any],
                  signals: list[str]) -> dict[str, Any]:
    """The replay the message presents, chosen once per episode (updates keep it, with a
    fresh link)."""
    if detail.get("moment", {}).get("episode") == state.episode:
        moment = dict(detail["moment"])
        if moment.get("session_id"):
            moment["replay_url"], moment["snapshot_url"] = _links(
                hub, moment["session_id"], int(moment.get("t", 0)))
        return moment
    found = await _snapshot(hub, state, detail, signals)
    if found is None:
        return {"episode": state.episode}
    session_id, t, url = found
    replay_url, snapshot_url = _links(hub, session_id, t)
    return {"episode": state.episode, "session_id": session_id, "t": t, "page": url,
            "replay_url": replay_url, "snapshot_url": snapshot_url}


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


async def _about(hub: Hub, state: AlertState, detail: dict[str, Any]) -> dict[str, str]:
    """What the message is about: title, what went wrong, the hub page for it."""
    base = hub.settings.base_url
    if state.kind.startswith("error."):
        async with hub.db.read() as tx:
            group = (await tx.execute(select(ErrorGroup).where(
                ErrorGroup.app_id == state.app_id,
                ErrorGroup.fingerprint == state.fingerprint))).scalar_one_or_none()
            app = await tx.get(App, state.app_id)
        message = f"{group.type}: {group.message}" if group and group.type else (
            group.message if group else state.fingerprint)
        return {"what": message, "app": app.name if app else state.app_id,
                "first_seen": iso(group.first_seen) if group else "",
                "hub_url": f"{base}/?{urlencode({'error': state.fingerprint})}"}
    if state.kind == "frustration":
        async with hub.db.read() as tx:
            app = await tx.get(App, state.app_id)
        query = urlencode({"url": detail.get("url", ""), "frustration": "any"})
        return {"what": detail.get("selector", ""), "app": app.name if app else state.app_id,
                "hub_url": f"{base}/?{query}"}
    return {"what": detail.get("name", ""), "app": "",
            "hub_url": f"{base}/playlists/{detail.get('playlist_id', '')}"}


async def build_alert(hub: Hub, rule: AlertRule, state: AlertState, counts: Counts,
                      moment: dict[str, Any], mentions: list[ChatPerson]) -> ChatAlert:
    """The alert as every chat connector receives it (each lays it out its own way)."""
    detail = json.loads(state.detail or "{}")
    about = await _about(hub, state, detail)
    page = moment.get("page") or detail.get("url", "")
    affected = f"{_plural(counts.users, 'user')}, {_plural(counts.sessions, 'session')}"
    facts = {"Rule": rule.name}
    if about["app"]:
        facts["App"] = about["app"]
    if state.kind.startswith("error."):
        title = f"{TITLES[state.kind]}: {about['what']}"
        when = "in the last hour" if state.kind == "error.spike" else "so far"
        summary = (f"{about['what']}{' on ' + page if page else ''}: "
                   f"{_plural(counts.occurrences, 'time')} {when}, {affected}")
        facts.update({"Error": about["what"][:500], "fingerprint": state.fingerprint})
        if about.get("first_seen"):
            facts["First seen"] = about["first_seen"]
    elif state.kind == "frustration":
        kinds = ", ".join(SIGNAL_NAMES[s] + "s" for s in _signals({rule.name: rule}, state))
        title = f"Frustration on {about['what']}"
        summary = (f"{_plural(counts.occurrences, 'frustration signal')} ({kinds}) on "
                   f"{about['what']}{' at ' + page if page else ''}: {affected} so far")
        facts["Element"] = about["what"][:500]
    else:
        title = f"New sessions in {about['what']}"
        summary = f"{_plural(counts.sessions, 'new session')} in {about['what']} ({affected})"
    if state.resolved and detail.get("resolved_by"):
        facts["resolved_by"] = detail["resolved_by"]
    snapshot = (SnapshotRef(moment["session_id"], moment["t"])
                if moment.get("session_id") else None)
    return ChatAlert(
        key=f"{rule.name}:{state.subject}", kind=state.kind, title=title[:300],
        summary=summary[:2000], page_url=page, sessions=counts.sessions, users=counts.users,
        mentions=mentions, replay_url=moment.get("replay_url", ""), hub_url=about["hub_url"],
        session_id=moment.get("session_id", ""), snapshot=snapshot,
        snapshot_url=moment.get("snapshot_url", ""), facts=facts, resolved=state.resolved)


# --- deliveries ----------------------------------------------------------------------------


def delivery_key(*parts: object) -> str:
    """An idempotency key that fits the outbox column whatever the rule and target names."""
    text = "\n".join(str(part) for part in parts)
    return f"alert:{str(parts[0])[:60]}:{hashlib.sha256(text.encode()).hexdigest()[:40]}"


def _account(hub: Hub, connector: str) -> str:
    found = hub.connectors.get(connector)
    return found.account if found is not None else connector


async def _enqueue_chat(hub: Hub, target: Target, alert: ChatAlert, key: str, now: int, *,
                        message_id: str | None = None, thread_of: str | None = None,
                        state: AlertState | None = None) -> str:
    """A chat_alert delivery. An update names its AlertState: the sender builds the message
    from the state as it is when it sends, so an edit delayed by a retry can never put back
    an older state over a newer one (resolved, counts)."""
    payload: dict[str, Any] = {"channel": target.channel, "alert": msgspec.to_builtins(alert),
                               "message_id": message_id, "thread_of": thread_of}
    if state is not None:
        payload["state"] = {"id": state.id, "episode": state.episode}
    delivery_id, _ = await enqueue(
        hub.db, delivery_id=new_delivery_id(), connector=target.connector,
        account=_account(hub, target.connector), action=CHAT_ALERT, payload=payload, key=key,
        now_ms=now, session_id=alert.session_id or None)
    return delivery_id


async def _enqueue_mail(hub: Hub, target: Target, alert: ChatAlert, key: str) -> str:
    from replayhub.mail import enqueue_mail

    context = {"alert": alert, "mentions": ", ".join(p.name or p.email for p in alert.mentions)}
    return await enqueue_mail(
        hub, key=key, to=[target.channel], subject=f"[ReplayHub] {alert.title}"[:300],
        text=render("alerts/email.txt.j2", **context),
        html=render("alerts/email.html.j2", **context), session_id=alert.session_id or None)


async def send(hub: Hub, target: Target, alert: ChatAlert, key: str, now: int,
               thread_of: str | None = None) -> str | None:
    """Enqueue a new message to the target; the delivery's id (None: a bad address)."""
    if target.connector == "email":
        try:
            return await _enqueue_mail(hub, target, alert, key)
        except ValueError as error:
            log.warning("alerts.mail_refused", error=str(error))
            return None
    return await _enqueue_chat(hub, target, alert, key, now, thread_of=thread_of)


async def _earlier_message(hub: Hub, state: AlertState, target: Target) -> str | None:
    """The vendor id of the thread's root: the latest earlier message about the same error to
    this target, or the message that one replied under (Slack threads under a root only)."""
    async with hub.db.read() as tx:
        found = (await tx.execute(
            select(Delivery.external_id, Delivery.payload).join(AlertMessage,
                                              AlertMessage.delivery_id == Delivery.id)
            .where(AlertMessage.fingerprint == state.fingerprint,
                   AlertMessage.target == target.key, Delivery.status == SENT,
                   Delivery.external_id.is_not(None),
                   or_(AlertMessage.state_id != state.id,
                       AlertMessage.episode < state.episode))
            .order_by(AlertMessage.id.desc()).limit(1))).one_or_none()
    if found is None:
        return None
    external_id, payload = found
    root = json.loads(payload or "{}").get("thread_of")
    return str(root) if root else external_id


async def _post(hub: Hub, rule: AlertRule, state: AlertState, alert: ChatAlert,
                targets: list[Target], now: int) -> int:
    sent = 0
    for target in targets:
        thread_of = None
        if state.thread_of == REPLY and target.connector in UPDATABLE:
            thread_of = await _earlier_message(hub, state, target)
        key = delivery_key(rule.name, state.subject, state.episode, target.key)
        delivery_id = await send(hub, target, alert, key, now, thread_of)
        if delivery_id is None:
            continue
        async with hub.db.write() as tx:
            await insert_ignore(tx, AlertMessage, state_id=state.id, episode=state.episode,
                                target=target.key, fingerprint=state.fingerprint,
                                delivery_id=delivery_id, created_at=now)
        sent += 1
    if not targets:
        log.warning("alerts.nobody_to_tell", rule=rule.name, subject=state.subject)
    return sent


async def _update(hub: Hub, state: AlertState, alert: ChatAlert, signature: str,
                  now: int) -> tuple[int, bool]:
    """Enqueue an edit of every posted chat message of the episode; (enqueued, all done)."""
    async with hub.db.read() as tx:
        rows = (await tx.execute(
            select(AlertMessage.target, Delivery.status, Delivery.external_id)
            .join(Delivery, Delivery.id == AlertMessage.delivery_id)
            .where(AlertMessage.state_id == state.id,
                   AlertMessage.episode == state.episode))).all()
    enqueued, waiting = 0, False
    for target_key, status, external_id in rows:
        connector, _, channel = target_key.partition(":")
        if connector not in UPDATABLE or status == FAILED:
            continue
        if status != SENT or not external_id:
            waiting = True
            continue
        key = delivery_key(state.rule, state.subject, state.episode, target_key, signature)
        await _enqueue_chat(hub, Target(connector, channel), alert, key, now,
                            message_id=external_id, state=state)
        enqueued += 1
    return enqueued, not waiting


async def _work(hub: Hub) -> list[AlertState]:
    async with hub.db.read() as tx:
        return list((await tx.execute(select(AlertState).where(or_(
            AlertState.needs_post.is_(True), AlertState.dirty.is_(True)))  # type: ignore[attr-defined]
            .order_by(AlertState.updated_at, AlertState.id).limit(STATES_PER_PASS))).scalars())


async def _save(hub: Hub, state: AlertState, **values: Any) -> None:
    """Change the state unless it moved to another episode meanwhile."""
    async with hub.db.write() as tx:
        await tx.execute(update(AlertState).where(
            AlertState.id == state.id, AlertState.episode == state.episode).values(**values))


async def deliver(hub: Hub, now: int | None = None,
                  extra_rules: Iterable[AlertRule] = ()) -> int:
    """Turn states with work into deliveries: new messages, then edits of posted ones."""
    now = current_ms() if now is None else now
    rules = {**{r.name: r for r in extra_rules}, **alert_rules(hub.settings.alerts)}
    done = 0
    for state in await _work(hub):
        rule = rules.get(state.rule)
        if rule is None:  # the rule was removed from the configuration
            await _save(hub, state, needs_post=False, dirty=False)
            continue
        done += await _deliver_state(hub, rule, state, now)
    if done:
        hub.dispatcher.notify()
    return done


@dataclass
class Composed:
    """An alert as its state says it now, with what deliver() keeps of it."""

    alert: ChatAlert
    counts: Counts
    detail: dict[str, Any]
    owners: people.Owners


async def _compose(hub: Hub, rule: AlertRule, state: AlertState,
                   counts: Counts | None = None) -> Composed:
    detail = json.loads(state.detail or "{}")
    signals = _signals({rule.name: rule}, state)
    if counts is None:
        counts = await counts_of(hub, state, detail, signals)
    moment = await _moment(hub, state, detail, signals)
    detail["moment"] = moment
    owners = await recipients(hub, rule, state, detail)
    alert = await build_alert(hub, rule, state, counts, moment, await mentions_of(hub, owners))
    return Composed(alert, counts, detail, owners)


async def current_alert(hub: Hub, state_id: int, episode: int) -> ChatAlert | None:
    """The alert as its state says it at this moment (the chat sender builds each update of a
    posted message from it when it sends); None when the state is gone, its rule removed, or
    it moved on to another episode (whose messages are new ones)."""
    async with hub.db.read() as tx:
        state = await tx.get(AlertState, state_id)
    if state is None or state.episode != episode:
        return None
    rule = {PLAYLIST_RULE.name: PLAYLIST_RULE, **alert_rules(hub.settings.alerts)}.get(
        state.rule)
    if rule is None:
        return None
    return (await _compose(hub, rule, state)).alert


async def _deliver_state(hub: Hub, rule: AlertRule, state: AlertState, now: int) -> int:
    detail = json.loads(state.detail or "{}")
    counts = await counts_of(hub, state, detail, _signals({rule.name: rule}, state))
    signature = counts.signature(state.resolved)
    figures = {"sessions": counts.sessions, "users": counts.users,
               "occurrences": counts.occurrences, "updated_at": now}
    if state.needs_post and rule.has_digest:
        await _save(hub, state, dirty=False, **figures)
        return 0
    composed = await _compose(hub, rule, state, counts)
    alert, detail, owners = composed.alert, composed.detail, composed.owners
    if state.needs_post:
        sent = await _post(hub, rule, state, alert, await targets_of(hub, owners), now)
        detail["reported"] = signature  # the post says these counts: no edit until they move
        await _save(hub, state, needs_post=False, dirty=False, detail=json.dumps(detail),
                    **figures)
        return sent
    if detail.get("reported") == signature:
        await _save(hub, state, dirty=False, **figures)
        return 0
    enqueued, finished = await _update(hub, state, alert, signature, now)
    if finished:
        detail["reported"] = signature
    await _save(hub, state, dirty=not finished, detail=json.dumps(detail),
                revision=state.revision + enqueued, **figures)
    return enqueued


# --- digests -------------------------------------------------------------------------------


async def _due_digest(hub: Hub, rule: AlertRule, now: int) -> int | None:
    """The occurrence to send now (claimed with a compare-and-set), else None."""
    async with hub.db.read() as tx:
        row = await tx.get(AlertDigest, rule.name)
    if row is None or (row.schedule, row.timezone) != (rule.digest, rule.timezone):
        following = next_digest_at(rule, now) or 2**62
        async with hub.db.write() as tx:
            if row is None:
                await insert_ignore(tx, AlertDigest, rule=rule.name, schedule=rule.digest,
                                    timezone=rule.timezone, next_run_at=following)
            else:
                await tx.execute(update(AlertDigest).where(AlertDigest.rule == rule.name)
                                 .values(schedule=rule.digest, timezone=rule.timezone,
                                         next_run_at=following))
        return None
    if row.next_run_at > now:
        return None
    following = next_digest_at(rule, now) or 2**62
    async with hub.db.write() as tx:
        moved = await tx.execute(update(AlertDigest).where(
            AlertDigest.rule == rule.name, AlertDigest.next_run_at == row.next_run_at)
            .values(next_run_at=following, last_run_at=row.next_run_at))
    return row.next_run_at if moved.rowcount == 1 else None  # type: ignore[attr-defined]


async def _digest_line(hub: Hub, rule: AlertRule,
                       state: AlertState) -> tuple[ChatAlert, people.Owners]:
    detail = json.loads(state.detail or "{}")
    signals = _signals({rule.name: rule}, state)
    counts = await counts_of(hub, state, detail, signals)
    moment = await _moment(hub, state, detail, signals)
    owners = await recipients(hub, rule, state, {**detail, "moment": moment})
    return await build_alert(hub, rule, state, counts, moment, []), owners


def digest_alert(rule: AlertRule, run_at: int, lines: list[ChatAlert],
                 mentions: list[ChatPerson], hub_url: str) -> ChatAlert:
    """One message for every alert of the rule since the last digest."""
    facts = {f"{index}. {line.title}"[:200]: line.summary[:500]
             for index, line in enumerate(lines[:DIGEST_LINES], 1)}
    if len(lines) > DIGEST_LINES:
        facts["…"] = f"{len(lines) - DIGEST_LINES} more"
    first = lines[0]
    return ChatAlert(
        key=f"{rule.name}:digest:{run_at}", kind=rule.on,
        title=f"{rule.name}: {_plural(len(lines), 'alert')} ({TITLES[rule.on].lower()})",
        summary="; ".join(line.title for line in lines[:5])[:2000],
        sessions=sum(line.sessions for line in lines), users=sum(line.users for line in lines),
        mentions=mentions, replay_url=first.replay_url, hub_url=hub_url,
        session_id=first.session_id, snapshot=first.snapshot, snapshot_url=first.snapshot_url,
        facts=facts)


async def _send_digest(hub: Hub, rule: AlertRule, run_at: int, now: int) -> int:
    async with hub.db.read() as tx:
        states = list((await tx.execute(select(AlertState).where(
            AlertState.rule == rule.name, AlertState.needs_post.is_(True))  # type: ignore[attr-defined]
            .order_by(AlertState.fired_at, AlertState.id).limit(STATES_PER_PASS))).scalars())
    by_target: dict[Target, list[tuple[ChatAlert, people.Owners]]] = {}
    for state in states:
        line, owners = await _digest_line(hub, rule, state)
        for target in await targets_of(hub, owners):
            by_target.setdefault(target, []).append((line, owners))
    for target, entries in by_target.items():
        mentions = await mentions_of(hub, people.merge(owners for _, owners in entries))
        alert = digest_alert(rule, run_at, [line for line, _ in entries], mentions,
                             hub.settings.base_url)
        await send(hub, target, alert, delivery_key(rule.name, "digest", run_at, target.key),
                   now)
    for state in states:
        await _save(hub, state, needs_post=False, dirty=False, updated_at=now)
    return len(by_target)


async def _run_digests(hub: Hub, rules: list[AlertRule], now: int) -> int:
    sent = 0
    for rule in rules:
        if not rule.has_digest:
            continue
        run_at = await _due_digest(hub, rule, now)
        if run_at is not None:
            sent += await _send_digest(hub, rule, run_at, now)
    return sent


# --- public entry points -------------------------------------------------------------------


async def alerts_tick(hub: Hub, now_ms: int | None = None) -> int:
    """Read what the index gained since the last tick, fire the rules, enqueue the messages
    (a scheduler tick; tests pass `now_ms`). How many messages were started or enqueued."""
    now = now_ms if now_ms is not None else current_ms()
    rules = list(alert_rules(hub.settings.alerts).values())
    done = 0
    window = await _window(hub, "error_events", ErrorEvent.id, now)
    if window is not None:
        await _detect_errors(hub, rules, window, now)
        await _advance(hub, "error_events", window, now)
    window = await _window(hub, "frustrations", Frustration.id, now)
    if window is not None:
        await _detect_frustrations(hub, rules, window, now)
        await _advance(hub, "frustrations", window, now)
    done += await deliver(hub, now)
    done += await _run_digests(hub, rules, now)
    return done


async def resolve_error(hub: Hub, fingerprint: str, by: str, now_ms: int | None = None) -> None:
    """Mark the error groups with this fingerprint resolved and update their alert messages
    (a later occurrence regresses them). UnknownError when no group has the fingerprint."""
    now = now_ms if now_ms is not None else current_ms()
    async with hub.db.write() as tx:
        groups = list((await tx.execute(select(ErrorGroup.id).where(
            ErrorGroup.fingerprint == fingerprint))).scalars())
        if not groups:
            raise UnknownError(fingerprint)
        for group_id in groups:
            if not await insert_ignore(tx, ErrorResolution, group_id=group_id,
                                       fingerprint=fingerprint, resolved_at=now,
                                       resolved_by=by[:200], updated_at=now):
                await tx.execute(update(ErrorResolution).where(
                    ErrorResolution.group_id == group_id,
                    ErrorResolution.resolved_at.is_(None))  # type: ignore[union-attr]
                    .values(resolved_at=now, resolved_by=by[:200], updated_at=now))
        states = list((await tx.execute(select(AlertState).where(
            AlertState.fingerprint == fingerprint,
            AlertState.kind.like("error.%"),
            AlertState.resolved.is_(False)))).scalars())  # type: ignore[attr-defined]
        for state in states:
            detail = {**json.loads(state.detail or "{}"), "resolved_by": by[:200]}
            await tx.execute(update(AlertState).where(AlertState.id == state.id).values(
                resolved=True, dirty=True, detail=json.dumps(detail), updated_at=now))
    log.info("alerts.resolved", fingerprint=fingerprint, by=by)
    await deliver(hub, now)


async def resolution_of(hub: Hub, fingerprint: str) -> ErrorResolution | None:
    """The latest resolution of the error groups with this fingerprint."""
    async with hub.db.read() as tx:
        return (await tx.execute(select(ErrorResolution).where(
            ErrorResolution.fingerprint == fingerprint)
            .order_by(ErrorResolution.updated_at.desc()).limit(1))).scalar_one_or_none()


async def playlist_new_sessions(hub: Hub, playlist_id: str, name: str,
                                new_session_ids: list[str], watchers: list[str],
                                now_ms: int | None = None) -> int:
    """Tell a playlist's watchers (the "owners" of playlist.new_sessions rules) about sessions
    that joined it; within a cool-down the posted message's counts grow instead. How many
    deliveries were enqueued."""
    now = now_ms if now_ms is not None else current_ms()
    if not new_session_ids:
        return 0
    rules = [r for r in hub.settings.alerts if r.on == "playlist.new_sessions"] or [PLAYLIST_RULE]
    async with hub.db.read() as tx:
        subjects = await people.session_subjects(tx, new_session_ids)
    subject = _merged(subjects.values())
    subject_key = f"playlist:{playlist_id}"[:300]
    for rule in rules:
        if not rule_matches(rule, subject):
            continue
        ids = await _playlist_sessions(hub, rule, subject_key, new_session_ids, now)
        detail = {"playlist_id": playlist_id, "name": name, "watchers": list(watchers),
                  "session_ids": ids}
        await record_hit(hub, Hit(rule, subject_key, "playlist.new_sessions", fresh=True,
                                  since=now, detail=detail), now)
    return await deliver(hub, now, extra_rules=[PLAYLIST_RULE])


def _merged(subjects: Iterable[people.Subject]) -> people.Subject:
    merged = people.Subject()
    for one in subjects:
        merged.apps.extend(v for v in one.apps if v not in merged.apps)
        merged.urls.extend(v for v in one.urls if v not in merged.urls)
        merged.errors.extend(v for v in one.errors if v not in merged.errors)
        merged.tags.extend(v for v in one.tags if v not in merged.tags)
    return merged


async def _playlist_sessions(hub: Hub, rule: AlertRule, subject: str, new_ids: list[str],
                             now: int) -> list[str]:
    """The sessions the current message counts: earlier ones too while in the cool-down."""
    async with hub.db.read() as tx:
        state = (await tx.execute(select(AlertState).where(
            AlertState.rule == rule.name, AlertState.subject == subject))).scalar_one_or_none()
    earlier: list[str] = []
    if state is not None and in_cooldown(rule, state.fired_at, now):
        earlier = json.loads(state.detail or "{}").get("session_ids", [])
    return list(dict.fromkeys([*earlier, *new_ids]))[-1000:]

