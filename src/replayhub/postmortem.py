"""Post-mortem drafts: an incident, its timeline and its impact as a Markdown or HTML document.

`postmortem_context` gathers a typed context (summary, impact figures, a chart of errors and
affected users over time as inline SVG, a timeline merging the incident's events with what the
replays show, the top replays as evidence with signed deep links and snapshot URLs, and editable
placeholders); `render_postmortem` renders it with `postmortem.md.j2` / `postmortem.html.j2`,
found first in `[postmortem] template_dir`, then in the built-in templates/postmortem/ (also
reachable as `builtin/<name>` so a team's template can extend it).
"""

from __future__ import annotations

import base64
import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

import jinja2
import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from replayhub.db.models import ErrorEvent, Frustration, Incident, IncidentEvent, ReplaySession
from replayhub.incidents import Scope, now_ms, scope_of
from replayhub.index.impact import (
    MINUTE,
    Impact,
    error_filters,
    frustration_filters,
    incident_impact,
    sessions_by_id,
    user_label,
)
from replayhub.index.sessions import iso
from replayhub.ingest.store import user_key
from replayhub.replay.moments import snapshot_url
from replayhub.replay.share import DAY_SECONDS, MAX_SECONDS, make_share_token
from replayhub.templating import clock, templates_dir

if TYPE_CHECKING:
    from replayhub.hub import Hub

Format = Literal["markdown", "html"]
FORMATS: tuple[str, ...] = ("markdown", "html")
TEMPLATES = {"markdown": "postmortem.md.j2", "html": "postmortem.html.j2"}
STANDALONE = "standalone.html.j2"
BUCKET_MINUTES = (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440)
MAX_BUCKETS = 60
EVIDENCE = 5
"""Replays shown as evidence (the impact's best ones)."""


class IncidentInfo(msgspec.Struct):
    id: str
    title: str
    source: str
    external_id: str
    status: str
    service: str
    url: str
    """The vendor's page for the incident."""
    started_at: str
    resolved_at: str | None
    duration: str | None
    """h:mm:ss from start to resolution; None while open."""
    app_ids: list[str]
    url_patterns: list[str]


class ErrorFigure(msgspec.Struct):
    type: str
    message: str
    fingerprint: str
    count: int
    baseline_mean: float
    ratio: float | None
    spiked: bool
    sessions: int
    users: int
    sessions_url: str


class ImpactFigures(msgspec.Struct):
    window_since: str
    window_until: str
    errors: int
    """Error events in the window (in scope)."""
    affected_sessions: int
    affected_users: int
    error_groups: list[ErrorFigure]
    spiked_groups: int
    frustration_pages: list[tuple[str, int, int]]
    """(url, signals, sessions), most signals first."""
    sessions_url: str
    impact_url: str


class Bucket(msgspec.Struct):
    start: str
    errors: int
    users: int
    """Distinct users with an error or a frustration signal in the bucket."""


class Chart(msgspec.Struct):
    bucket_minutes: int
    buckets: list[Bucket]
    svg: str
    """An inline <svg> document (no script, no external reference)."""
    data_uri: str
    """The same SVG as a data: URI, for Markdown."""


class TimelineItem(msgspec.Struct):
    at: str
    kind: str
    """triggered, acknowledged, resolved, first_error, spike, first_affected, last_affected."""
    text: str
    link: str | None = None


class Evidence(msgspec.Struct):
    session_id: str
    user: str
    started_at: str
    errors: int
    frustrations: int
    first_error_at: str | None
    t: int
    """ms from the session start: the failing moment."""
    moment: str
    """`t` as m:ss."""
    replay_url: str
    """/replays/{id}?t= (needs a login)."""
    share_url: str
    """Signed link to the same moment, no account needed, until share_expires_at; "" when
    the draft carries no share links (see `postmortem_context`)."""
    share_expires_at: str
    """"" without a share link."""
    snapshot_url: str
    """PNG of the failing moment (needs a login)."""


class Stakeholder(msgspec.Struct):
    name: str
    role: str
    contact: str = ""


class ActionItem(msgspec.Struct):
    action: str
    owner: str = ""
    due: str = ""
    ticket: str = ""


class PostmortemContext(msgspec.Struct):
    generated_at: str
    base_url: str
    incident: IncidentInfo
    summary: str
    impact: ImpactFigures
    chart: Chart
    timeline: list[TimelineItem]
    evidence: list[Evidence]
    stakeholders: list[Stakeholder]
    action_items: list[ActionItem]
    open_questions: list[str]
    markdown_url: str
    page_url: str


class UnknownFormat(ValueError):
    """Neither markdown nor html."""


async def postmortem_context(hub: Hub, incident: Incident, now: int | None = None,
                             share_links: bool = False) -> PostmortemContext:
    """What the templates show. `share_links`: mint signed share links for the evidence
    (they open a replay without an account, so only for agents' drafts and published
    documents); without, the evidence links to the hub's replay pages alone."""
    now = now if now is not None else now_ms()
    settings, base = hub.settings, hub.settings.base_url
    scope = scope_of(incident)
    async with hub.db.read() as tx:
        impact = await incident_impact(tx, incident.id, incident.started_at,
                                       incident.resolved_at, scope, settings.incidents, now, base)
        events = list((await tx.execute(
            select(IncidentEvent).where(IncidentEvent.incident_id == incident.id)
            .order_by(IncidentEvent.at, IncidentEvent.id))).scalars())
        since = incident.started_at - settings.incidents.window_before_minutes * MINUTE
        until = max(incident.resolved_at if incident.resolved_at is not None else now,
                    since + 1)
        series = await _series(tx, scope, since, until)
    info = _info(incident)
    figures = _figures(impact, series.errors, f"{base}/api/v1/incidents/{incident.id}/impact")
    chart = _chart(series, incident)
    return PostmortemContext(
        generated_at=iso(now), base_url=base, incident=info,
        summary=_summary(info, figures), impact=figures, chart=chart,
        timeline=_timeline(events, incident, series, chart, base),
        evidence=_evidence(hub, impact, base, share_links),
        stakeholders=await _stakeholders(hub, incident), action_items=[ActionItem("")],
        open_questions=_questions(figures),
        markdown_url=f"{base}/api/v1/incidents/{incident.id}/postmortem?format=markdown",
        page_url=f"{base}/incidents/{incident.id}/postmortem")


async def _stakeholders(hub: Hub, incident: Incident) -> list[Stakeholder]:
    """The incident's owners by the `[[ownership]]` rules: owning teams, then people."""
    from replayhub.people import owner_contacts, owners_of_incident

    contacts = await owner_contacts(hub, await owners_of_incident(hub, incident))
    return [Stakeholder(c.name, "owning team" if c.kind == "team" else "owner", c.contact)
            for c in contacts]


async def render_postmortem(hub: Hub, incident: Incident, fmt: str,
                            standalone: bool = True, edits: bool = True,
                            share_links: bool = False) -> str:
    """The draft as Markdown, or as HTML (a whole document, else the <article> alone).

    `share_links`: the evidence carries signed share links (agents and admins only; a
    viewer's draft links to the hub's replay pages, which need a login).

    With `edits`, the sections people edited in the notebook replace the generated ones
    (replayhub.notebook); without, the document is the generated draft alone.
    """
    if fmt not in FORMATS:
        raise UnknownFormat(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    context = await postmortem_context(hub, incident, share_links=share_links)
    env = environment(hub.settings.postmortem.template_dir)
    values = {"pm": context, "incident": context.incident}
    if fmt == "markdown":
        text = env.get_template(TEMPLATES["markdown"]).render(**values)
    else:
        text = env.get_template(STANDALONE if standalone else TEMPLATES["html"]).render(**values)
    if not edits:
        return text
    from replayhub.notebook import apply_edits  # the notebook builds on this module

    return await apply_edits(hub, incident.id, fmt, text)


# --- templates ----------------------------------------------------------------------------


def builtin_dir() -> Path:
    return templates_dir() / "postmortem"


CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
URL_IN_TEXT = re.compile(r"(?:\b[A-Za-z][A-Za-z0-9+.-]*://|\bwww\.)\S+")
MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~&$])")
MD_LEADING = re.compile(r"^(?:(\d+)([.)])|([-+=]))")
URL_UNSAFE = re.compile(r"[\s<>()\\`|\"']")


def one_line(value: object) -> str:
    """The value as one line of text: whitespace runs as one space, control characters
    dropped."""
    return CONTROL.sub("", " ".join(str(value).split()))


def md_cell(value: object) -> str:
    """Text safe inside a Markdown table cell or a line: no pipes or line breaks. Only for
    trusted text: anything recorded or received goes through `md_text`."""
    return one_line(value).replace("|", "\\|")


def md_escape(text: str) -> str:
    """Plain text with every character Markdown (and GitHub's flavour) could read as markup
    escaped: emphasis, code, links and images, HTML, entities, tables, strikethrough, math,
    and a list, heading or quote marker at the start."""
    escaped = MD_SPECIAL.sub(r"\\\1", text)
    return MD_LEADING.sub(lambda m: (f"{m.group(1)}\\{m.group(2)}" if m.group(1)
                                     else f"\\{m.group(3)}"), escaped)


def md_text(value: object) -> str:
    """Untrusted text (error messages, titles, selectors, page URLs, user names) as
    Markdown that shows it verbatim on one line, never as a link, picture or HTML: markup
    characters are escaped and web addresses in it are inline code (not clickable, also where
    renderers link bare URLs)."""
    text = one_line(value)
    parts, at = [], 0
    for found in URL_IN_TEXT.finditer(text):
        parts += [md_escape(text[at:found.start()]), md_code(found.group(0))]
        at = found.end()
    parts.append(md_escape(text[at:]))
    return "".join(parts)


def md_code(value: object) -> str:
    """The value as an inline code span (fenced by more backticks than it holds; a pipe
    escaped for table cells)."""
    text = one_line(value).replace("|", "\\|")
    if not text:
        return ""
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text[0] in "` " or text[-1] in "` " else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def is_http_url(value: object) -> bool:
    """An absolute http(s) URL (the only kind a generated link may point to)."""
    text = str(value or "")
    return text.lower().startswith(("https://", "http://")) and not CONTROL.search(text)


def md_url(value: object) -> str:
    """A link target: the URL with the characters that could end it (or start markup)
    percent-encoded; "#" for anything but an http(s) URL."""
    if not is_http_url(value):
        return "#"
    return URL_UNSAFE.sub(lambda m: f"%{ord(m.group(0)):02X}", str(value))


def when(value: str | None) -> str:
    """An ISO time as `YYYY-MM-DD HH:MM:SS UTC`."""
    return f"{value[:19].replace('T', ' ')} UTC" if value else ""


@cache
def environment(template_dir: str = "") -> jinja2.Environment:
    builtin = jinja2.FileSystemLoader(builtin_dir())
    loaders: list[jinja2.BaseLoader] = []
    if template_dir:
        loaders.append(jinja2.FileSystemLoader(template_dir))
    loaders += [builtin, jinja2.PrefixLoader({"builtin": builtin})]
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=jinja2.select_autoescape(["html", "html.j2", "xml"], default=False),
        trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True)
    env.filters["clock"] = clock
    env.filters["md"] = md_cell
    env.filters["md_text"] = md_text
    env.filters["md_code"] = md_code
    env.filters["md_url"] = md_url
    env.tests["http_url"] = is_http_url
    env.filters["when"] = when
    return env


# --- the figures ---------------------------------------------------------------------------


class _Series(msgspec.Struct):
    since: int
    until: int
    width: int
    """Bucket width in ms."""
    errors: int
    error_buckets: list[int]
    user_buckets: list[set[str]]
    first_error: tuple[int, str] | None
    """(t, "Type: message") of the first error in the window."""
    first_hit: dict[str, int]
    """Session id → its first error or frustration signal in the window."""
    labels: dict[str, str]
    """Session id → its user's label."""


def bucket_minutes(span_ms: int) -> int:
    for minutes in BUCKET_MINUTES:
        if span_ms / (minutes * MINUTE) <= MAX_BUCKETS:
            return minutes
    return BUCKET_MINUTES[-1]


async def _series(tx: AsyncSession, scope: Scope, since: int, until: int) -> _Series:
    """Errors and affected users per bucket of the window, from the same filters (and
    indexes) as the impact."""
    width = bucket_minutes(until - since) * MINUTE
    count = -(-(until - since) // width)
    error_buckets = [0] * count
    user_buckets: list[set[str]] = [set() for _ in range(count)]
    first_hit: dict[str, int] = {}
    first_error: tuple[int, str] | None = None
    bucket = (ErrorEvent.t - since) // width
    rows = await tx.execute(
        select(bucket, ErrorEvent.session_id, ErrorEvent.user_key, ErrorEvent.t,
               ErrorEvent.type, ErrorEvent.message)
        .where(*error_filters(scope, since, until)).order_by(ErrorEvent.t, ErrorEvent.id))
    for index, session_id, key, t, type_, message in rows:
        index = min(int(index), count - 1)
        error_buckets[index] += 1
        user_buckets[index].add(key)
        first_hit.setdefault(session_id, t)
        if first_error is None:
            first_error = (t, f"{type_}: {message}" if type_ else message)
    signals = await tx.execute(
        select((Frustration.t - since) // width, Frustration.session_id, Frustration.t)
        .select_from(ReplaySession).join(Frustration, Frustration.session_id == ReplaySession.id)
        .where(*frustration_filters(scope, since, until)))
    frustrated: list[tuple[int, str]] = []
    for index, session_id, t in signals:
        frustrated.append((min(int(index), count - 1), session_id))
        first_hit[session_id] = min(first_hit.get(session_id, t), t)
    sessions = await sessions_by_id(tx, list(first_hit))
    for index, session_id in frustrated:
        if session_id in sessions:
            user_buckets[index].add(user_key(sessions[session_id]))
    return _Series(since, until, width, sum(error_buckets), error_buckets, user_buckets,
                   first_error, {sid: t for sid, t in first_hit.items() if sid in sessions},
                   {sid: user_label(session) for sid, session in sessions.items()})


def _duration(start: int, end: int | None) -> str | None:
    return None if end is None else clock(end - start)


def _info(incident: Incident) -> IncidentInfo:
    scope = scope_of(incident)
    return IncidentInfo(
        id=incident.id, title=incident.title or incident.external_id, source=incident.source,
        external_id=incident.external_id, status=incident.status, service=incident.service,
        url=incident.url, started_at=iso(incident.started_at),
        resolved_at=iso(incident.resolved_at) if incident.resolved_at is not None else None,
        duration=_duration(incident.started_at, incident.resolved_at),
        app_ids=scope.app_ids, url_patterns=scope.url_patterns)


def _figures(impact: Impact, errors: int, impact_url: str) -> ImpactFigures:
    groups = [ErrorFigure(g.type, g.message, g.fingerprint, g.count, g.baseline_mean, g.ratio,
                          g.spiked, g.sessions, g.users, g.sessions_url)
              for g in impact.error_groups]
    return ImpactFigures(
        window_since=impact.since, window_until=impact.until, errors=errors,
        affected_sessions=impact.affected.sessions, affected_users=impact.affected.users,
        error_groups=groups, spiked_groups=sum(g.spiked for g in groups),
        frustration_pages=[(p.url, p.count, p.sessions) for p in impact.frustration_pages[:5]],
        sessions_url=impact.affected.sessions_url, impact_url=impact_url)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _summary(info: IncidentInfo, figures: ImpactFigures) -> str:
    when = f"started {info.started_at}"
    when += (f" and was resolved {info.resolved_at} ({info.duration})" if info.resolved_at
             else f" and is {info.status}")
    text = (f"{info.title} {when}. In the window the recorded sessions show "
            f"{_plural(figures.errors, 'error')}, "
            f"{_plural(figures.affected_sessions, 'affected session')} and "
            f"{_plural(figures.affected_users, 'affected user')}.")
    spiked = [g for g in figures.error_groups if g.spiked]
    if spiked:
        top = spiked[0]
        ratio = f"{top.ratio} times its baseline" if top.ratio else "none the days before"
        text += f' The top spike: "{top.message}" ({top.count} occurrences, {ratio}).'
    return text


def _timeline(events: list[IncidentEvent], incident: Incident, series: _Series, chart: Chart,
              base: str) -> list[TimelineItem]:
    items = [TimelineItem(iso(e.at), e.kind, f"Incident {e.kind} ({incident.source})",
                          incident.url or None) for e in events]
    if series.first_error is not None:
        t, label = series.first_error
        items.append(TimelineItem(iso(t), "first_error", f"First error in scope: {label}"))
    if series.errors:
        peak = max(range(len(series.error_buckets)), key=lambda i: (series.error_buckets[i], -i))
        items.append(TimelineItem(
            chart.buckets[peak].start, "spike",
            f"Error peak: {_plural(series.error_buckets[peak], 'error')} in the "
            f"{_plural(chart.bucket_minutes, 'minute')} from here"))
    if series.first_hit:
        ordered = sorted(series.first_hit, key=lambda sid: (series.first_hit[sid], sid))
        for kind, session_id in (("first_affected", ordered[0]), ("last_affected", ordered[-1])):
            if kind == "last_affected" and len(ordered) == 1:
                break
            word = "First" if kind == "first_affected" else "Last"
            items.append(TimelineItem(
                iso(series.first_hit[session_id]), kind,
                f"{word} affected session ({series.labels[session_id]})",
                f"{base}/replays/{session_id}"))
    order = {"triggered": 0, "first_error": 1, "spike": 2, "first_affected": 3,
             "acknowledged": 4, "last_affected": 5, "resolved": 6}
    return sorted(items, key=lambda item: (item.at, order.get(item.kind, 9)))


def _evidence(hub: Hub, impact: Impact, base: str, share_links: bool) -> list[Evidence]:
    """The top replays, each linked at its failing moment: the hub's replay page (needs a
    login), and with `share_links` a signed link that works without one."""
    days = max(1, min(hub.settings.postmortem.share_link_days, MAX_SECONDS // DAY_SECONDS))
    found = []
    for replay in impact.replays[:EVIDENCE]:
        t = int(parse_qs(urlsplit(replay.replay_url).query).get("t", ["0"])[0])
        share_url = share_expires_at = ""
        if share_links:
            token, expires_at = make_share_token(hub.secret_key, replay.session_id, t,
                                                 days * DAY_SECONDS)
            share_url, share_expires_at = f"{base}/share/{token}", iso(expires_at * 1000)
        found.append(Evidence(
            session_id=replay.session_id, user=replay.user, started_at=replay.started_at,
            errors=replay.errors, frustrations=replay.frustrations,
            first_error_at=replay.first_error_at, t=t, moment=clock(t),
            replay_url=replay.replay_url, share_url=share_url,
            share_expires_at=share_expires_at,
            snapshot_url=snapshot_url(base, replay.session_id, t)))
    return found


def _questions(figures: ImpactFigures) -> list[str]:
    questions = [f'Why did "{g.message}" spike ({g.count} in the window against a daily '
                 f"baseline of {g.baseline_mean})?" for g in figures.error_groups if g.spiked][:3]
    questions.append("Were users outside the recorded apps or pages affected?")
    return questions


# --- the chart ----------------------------------------------------------------------------

W, H, LEFT, RIGHT, TOP, BOTTOM = 720, 260, 48, 48, 28, 44


def _chart(series: _Series, incident: Incident) -> Chart:
    minutes = series.width // MINUTE
    buckets = [Bucket(iso(series.since + i * series.width), n, len(users))
               for i, (n, users) in enumerate(zip(series.error_buckets, series.user_buckets,
                                                  strict=True))]
    svg = chart_svg(buckets, series.since, series.until, series.width, incident.started_at,
                    incident.resolved_at)
    data_uri = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
    return Chart(minutes, buckets, svg, data_uri)


def _nice_max(value: int) -> int:
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10_000):
        if value <= step * 4:
            return step * 4
    return value


def chart_svg(buckets: list[Bucket], since: int, until: int, width: int, started: int,
              resolved: int | None) -> str:
    """Errors (bars, left axis) and affected users (line, right axis) per bucket, with the
    incident's start and resolution marked."""
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM
    span = max(until - since, 1)
    max_errors = _nice_max(max((b.errors for b in buckets), default=0))
    max_users = _nice_max(max((b.users for b in buckets), default=0))

    def x(t: int) -> float:
        return round(LEFT + plot_w * (t - since) / span, 1)

    def y(value: int, top: int) -> float:
        return round(TOP + plot_h - plot_h * value / top, 1)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="postmortem-chart" width="{W}" '
             f'height="{H}" viewBox="0 0 {W} {H}" role="img" aria-labelledby="pm-chart-title" '
             f'font-family="sans-serif" font-size="11">',
             '<title id="pm-chart-title">Errors and affected users over time</title>',
             f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#fafafa" '
             'stroke="#ccc"/>']
    for i in range(5):
        value_e, value_u = max_errors * i // 4, max_users * i // 4
        gy = y(value_e, max_errors)
        parts.append(f'<line x1="{LEFT}" y1="{gy}" x2="{LEFT + plot_w}" y2="{gy}" '
                     'stroke="#e5e5e5"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{gy + 4}" text-anchor="end" '
                     f'fill="#b42318">{value_e}</text>')
        parts.append(f'<text x="{LEFT + plot_w + 6}" y="{gy + 4}" '
                     f'fill="#175cd3">{value_u}</text>')
    for i, bucket in enumerate(buckets):
        start = since + i * width
        left, right = x(start), x(min(start + width, until))
        if bucket.errors:
            top = y(bucket.errors, max_errors)
            parts.append(f'<rect class="errors" x="{left + 0.5}" y="{top}" '
                         f'width="{max(right - left - 1, 0.5):.1f}" '
                         f'height="{round(TOP + plot_h - top, 1)}" fill="#f04438">'
                         f'<title>{escape(bucket.start)}: {_plural(bucket.errors, "error")}'
                         '</title></rect>')
    middles = [(x(since + i * width) + x(min(since + (i + 1) * width, until))) / 2
               for i in range(len(buckets))]
    points = " ".join(f"{round(mx, 1)},{y(b.users, max_users)}"
                      for mx, b in zip(middles, buckets, strict=True))
    parts.append(f'<polyline class="users" points="{points}" fill="none" stroke="#175cd3" '
                 'stroke-width="2"/>')
    for t, label in ((started, "start"), (resolved, "resolved")):
        if t is not None and since <= t <= until:
            parts.append(f'<line x1="{x(t)}" y1="{TOP}" x2="{x(t)}" y2="{TOP + plot_h}" '
                         'stroke="#444" stroke-dasharray="4 3"/>')
            parts.append(f'<text x="{x(t) + 3}" y="{TOP + 10}" fill="#444">{label}</text>')
    for t in (since, since + span // 2, until):
        anchor = "start" if t == since else "end" if t == until else "middle"
        parts.append(f'<text x="{x(t)}" y="{TOP + plot_h + 16}" text-anchor="{anchor}" '
                     f'fill="#444">{escape(iso(t)[11:16])} UTC</text>')
    parts.append(f'<text x="{LEFT}" y="{H - 8}" fill="#b42318">■ errors per '
                 f'{_plural(width // MINUTE, "minute")}</text>')
    parts.append(f'<text x="{LEFT + 200}" y="{H - 8}" fill="#175cd3">— affected users</text>')
    parts.append(f"<desc>{escape(_describe(buckets))}</desc>")
    parts.append("</svg>")
    return "".join(parts)


def _describe(buckets: list[Bucket]) -> str:
    return "; ".join(f"{b.start}: {b.errors} errors, {b.users} users"
                     for b in buckets if b.errors or b.users) or "no errors or affected users"
