"""Derive index records (pages, actions, errors, frustration signals) from rrweb events."""

import hashlib
import json
import re
import zlib
from typing import Any, NamedTuple

import msgspec

from replayhub.ingest import scrub
from replayhub.ingest.mirror import TEXT, Mirror, Node

FULL_SNAPSHOT, INCREMENTAL, META, CUSTOM, PLUGIN = 2, 3, 4, 5, 6
MUTATION, MOUSE_INTERACTION, INPUT = 0, 2, 5
INCREMENTAL_SOURCES = (MUTATION, MOUSE_INTERACTION, INPUT)
"""The incremental sources indexing reads (and scrubbing rewrites); mouse moves, scrolls and
the like carry no text and are only timed."""
CLICK, CONTEXT_MENU, DBLCLICK = 2, 3, 4
ACTION_KINDS = {CLICK: "click", DBLCLICK: "dblclick", CONTEXT_MENU: "contextmenu"}
NUMBER = (int, float)
WINDOW_MS = 1000
RAGE_CLICKS = 3
CONSOLE_PLUGIN = "rrweb/console@1"
FIELD_TAGS = frozenset({"input", "select", "textarea"})
INTERACTIVE_TAGS = frozenset({"a", "button", "input", "select", "textarea", "label", "summary"})
INTERACTIVE_ROLES = frozenset(
    {"button", "link", "checkbox", "radio", "menuitem", "tab", "switch", "option"}
)
ANCESTOR_LEVELS = 4
MAX_LABEL = 60
NOT_DEAD_TAGS = frozenset({"label"})

URL_QUERY_RE = re.compile(r"((?:https?://|/)[^\s?#'\"]*)\?[^\s'\"#]+")
UUID_RE = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I)
LONG_QUOTED_RE = re.compile(r"\"[^\"\n]{21,}\"|'[^'\n]{21,}'|`[^`\n]{21,}`")
HEX_RE = re.compile(r"\b(?:0x[0-9a-f]+|(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{6,})\b", re.I)
NUMBER_RE = re.compile(r"\b\d+(?:\.\d+)?\b")
FRAME_RES = (
    re.compile(r"^(?:at\s+)?(?:async\s+)?(?P<fn>.*?)\s*\((?P<file>.*?)(?::\d+){1,2}\)$"),
    re.compile(r"^(?P<fn>[^@\s]*)@(?P<file>.*?)(?::\d+){1,2}$"),
    re.compile(r"^(?:at\s+)?(?:async\s+)?(?P<fn>)(?P<file>\S+?)(?::\d+){1,2}$"),
)


class PageView(msgspec.Struct):
    t: int
    url: str
    title: str


class Action(msgspec.Struct):
    t: int
    kind: str  # "click" | "dblclick" | "input" | "contextmenu"
    selector: str
    tag: str
    element_id: str
    classes: str
    text: str
    url: str


class ErrorRecord(msgspec.Struct):
    t: int
    type: str
    message: str
    stack: str
    url: str
    source: str  # "custom" | "console" | "network"
    fingerprint: str


class Frustration(msgspec.Struct):
    t: int
    kind: str  # "rage_click" | "dead_click" | "error_click"
    selector: str
    url: str
    clicks: int
    error_fingerprint: str | None = None


class BatchResult(msgspec.Struct):
    pages: list[PageView] = []
    actions: list[Action] = []
    errors: list[ErrorRecord] = []
    frustrations: list[Frustration] = []
    first_ts: int | None = None
    last_ts: int | None = None
    viewport: tuple[int, int] | None = None
    user: dict[str, Any] | None = None


class ErrorInfo(NamedTuple):
    """An error as read from an event, before fingerprinting."""

    type: str
    message: str
    stack: str
    url: str
    source: str


class Click(msgspec.Struct, array_like=True):
    """One click whose 1 s window may still be open."""

    t: int
    active: bool = False
    errored: bool = False


class Burst(msgspec.Struct, array_like=True):
    """Consecutive clicks on one target, each within 1 s of the previous one."""

    node_id: int
    selector: str
    url: str
    can_be_dead: bool
    clicks: list[Click]
    open: bool = True


class PendingMeta(msgspec.Struct, array_like=True):
    """A Meta event waiting to see whether a full snapshot follows it."""

    t: int
    href: str
    previous_url: str


class IndexState(msgspec.Struct):
    """Everything needed to continue indexing a session with its next batch."""

    mirror: Mirror = msgspec.field(default_factory=Mirror)
    url: str = ""
    pending_meta: PendingMeta | None = None
    input_id: int | None = None
    bursts: list[Burst] = []
    last_t: int = 0


class Target(msgspec.Struct):
    """What a click or input landed on, as shown to people."""

    node_id: int
    tag: str = ""
    element_id: str = ""
    classes: str = ""
    text: str = ""
    selector: str = ""
    focus_only: bool = False


_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(IndexState)


def new_state() -> IndexState:
    """State for a session's first batch."""
    return IndexState()


def encode_state(state: IndexState) -> bytes:
    """Compact bytes for the checkpoint table (msgpack, zlib)."""
    return zlib.compress(_ENCODER.encode(state), 1)


def decode_state(data: bytes) -> IndexState:
    """Inverse of encode_state."""
    return _DECODER.decode(zlib.decompress(data))


def process_batch(
    state: IndexState, events: list[dict[str, Any]], *, conservative: bool = False
) -> BatchResult:
    """Scrub `events` in place, update `state` and return what this batch revealed."""
    run = _Run(state, conservative)
    for event in events:
        run.feed(event)
    return run.result


def finish(state: IndexState) -> BatchResult:
    """Decide everything still pending (the session is over)."""
    run = _Run(state, False)
    run.flush_meta(None)
    for burst in state.bursts:
        run.finalize(burst)
    state.bursts = []
    return run.result


def fingerprint_error(type_: str, message: str, stack: str) -> str:
    """16 hex chars grouping the same error across sessions, releases and ids."""
    function, file = first_frame(stack)
    text = "\n".join((type_.strip(), normalize_message(message), function, file))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def normalize_message(message: str) -> str:
    """Message with query strings, uuids, long quoted strings, hex ids and numbers replaced."""
    text = URL_QUERY_RE.sub(r"\1?<query>", message)
    text = UUID_RE.sub("<uuid>", text)
    text = LONG_QUOTED_RE.sub("<string>", text)
    text = HEX_RE.sub("<hex>", text)
    text = NUMBER_RE.sub("<n>", text)
    return " ".join(text.split())


def first_frame(stack: str) -> tuple[str, str]:
    """Function and file (no line, column or query) of the first frame of a JS stack."""
    lines = [line.strip() for line in stack.splitlines() if line.strip()]
    if any(line.startswith("at ") for line in lines):
        lines = [line for line in lines if line.startswith("at ")]
    for line in lines:
        for pattern in FRAME_RES:
            match = pattern.match(line)
            if match:
                file = match["file"].split("?", 1)[0].split("#", 1)[0]
                return match["fn"].strip(), file
    return "", ""


class _Run:
    """Indexing of one batch (or the final flush) against a session state."""

    def __init__(self, state: IndexState, conservative: bool) -> None:
        self.state = state
        self.conservative = conservative
        self.result = BatchResult()
        self.handlers = {
            FULL_SNAPSHOT: self.on_full_snapshot,
            INCREMENTAL: self.on_incremental,
            META: self.on_meta,
            CUSTOM: self.on_custom,
            PLUGIN: self.on_plugin,
        }

    def feed(self, event: dict[str, Any]) -> None:
        """Runs for every event of every batch: kept to a few dict lookups."""
        state = self.state
        kind, t, data = event.get("type"), event.get("timestamp"), event.get("data")
        t = int(t) if isinstance(t, NUMBER) else state.last_t
        self.track_time(t)
        if state.pending_meta is not None and kind != FULL_SNAPSHOT:
            self.flush_meta(None)
        if kind == INCREMENTAL:
            if isinstance(data, dict) and data.get("source") in INCREMENTAL_SOURCES:
                self.on_incremental(t, data)
            return
        handler = self.handlers.get(kind)
        if handler is not None and isinstance(data, dict):
            handler(t, data)

    def track_time(self, t: int) -> None:
        result, state = self.result, self.state
        if result.first_ts is None:
            result.first_ts = result.last_ts = t
        elif t < result.first_ts:
            result.first_ts = t
        elif t > result.last_ts:  # type: ignore[operator]
            result.last_ts = t
        state.last_t = t
        if state.bursts and t > state.bursts[0].clicks[-1].t + WINDOW_MS:
            self.settle(t)

    # --- page views -------------------------------------------------------------------

    def on_meta(self, t: int, data: dict[str, Any]) -> None:
        width, height = data.get("width"), data.get("height")
        if isinstance(width, int | float) and isinstance(height, int | float):
            self.result.viewport = (int(width), int(height))
        href = str(data.get("href") or "")
        self.state.pending_meta = PendingMeta(t, href, self.state.url)
        self.state.url = href
        self.activity(t)

    def on_full_snapshot(self, t: int, data: dict[str, Any]) -> None:
        node = data.get("node")
        title = ""
        if isinstance(node, dict):
            title = self.state.mirror.load_snapshot(node, self.conservative)
        if self.state.pending_meta is not None:
            self.flush_meta(title)
        self.state.input_id = None
        self.activity(t)

    def flush_meta(self, title: str | None) -> None:
        """Emit the pending Meta's page view: always after a full snapshot, else on a new href."""
        meta = self.state.pending_meta
        if meta is None:
            return
        self.state.pending_meta = None
        if title is not None or meta.href != meta.previous_url:
            self.page(meta.t, meta.href, title or "")

    def on_navigation(self, t: int, payload: dict[str, Any]) -> None:
        href = str(payload.get("href") or "")
        if href and href != self.state.url:
            self.page(t, href, str(payload.get("title") or ""))

    def page(self, t: int, href: str, title: str) -> None:
        self.result.pages.append(PageView(t, href, title))
        self.state.url = href
        self.state.input_id = None
        self.activity(t)

    # --- incremental snapshots --------------------------------------------------------

    def on_incremental(self, t: int, data: dict[str, Any]) -> None:
        source = data.get("source")
        if source == MUTATION:
            if self.state.mirror.apply_mutation(data, self.conservative):
                self.activity(t)
        elif source == MOUSE_INTERACTION:
            kind = ACTION_KINDS.get(data.get("type"))
            if kind is not None:
                self.on_click(t, kind, data.get("id"))
        elif source == INPUT:
            self.on_input(t, data)

    def on_click(self, t: int, kind: str, node_id: Any) -> None:
        target = describe(self.state.mirror, node_id, resolve=True)
        self.add_action(t, kind, target)
        self.state.input_id = None
        if kind == "click":
            self.track_click(t, target)

    def on_input(self, t: int, data: dict[str, Any]) -> None:
        node_id = data.get("id")
        node = self.state.mirror.get(node_id)
        text = data.get("text")
        if isinstance(text, str):
            secret = self.conservative or node is None or node.secret
            data["text"] = scrub.scrub_field_value(text, secret)
        if self.state.bursts:
            self.input_activity(t, node_id)
        if not is_user_input(node, data) or node_id == self.state.input_id:
            return
        self.state.input_id = node_id if isinstance(node_id, int) else None
        self.add_action(t, "input", describe(self.state.mirror, node_id, resolve=False))

    def add_action(self, t: int, kind: str, target: Target) -> None:
        self.result.actions.append(
            Action(t, kind, target.selector, target.tag, target.element_id, target.classes,
                   target.text, self.state.url)
        )

    # --- custom events and plugins ----------------------------------------------------

    def on_custom(self, t: int, data: dict[str, Any]) -> None:
        tag, payload = data.get("tag"), data.get("payload")
        if not isinstance(payload, dict):
            return
        if tag == "error":
            self.error(t, custom_error(payload, self.state.url))
        elif tag == "network-error":
            self.error(t, network_error(payload, self.state.url))
        elif tag == "navigation":
            self.on_navigation(t, payload)
        elif tag == "identify":
            self.result.user = payload

    def on_plugin(self, t: int, data: dict[str, Any]) -> None:
        payload = data.get("payload")
        if data.get("plugin") != CONSOLE_PLUGIN or not isinstance(payload, dict):
            return
        if payload.get("level") != "error":
            return
        record = console_error(payload, self.state.url)
        if not record.message.startswith("Uncaught"):
            self.error(t, record)

    def error(self, t: int, record: ErrorInfo) -> None:
        type_, message, stack, url, source = record
        fingerprint = fingerprint_error(type_, message, stack)
        self.result.errors.append(ErrorRecord(t, type_, message, stack, url, source, fingerprint))
        for burst in self.state.bursts:
            for click in burst.clicks:
                if not click.errored and t - click.t <= WINDOW_MS:
                    click.errored = True
                    self.signal(click.t, "error_click", burst, 1, fingerprint)

    # --- frustration signals ----------------------------------------------------------

    def track_click(self, t: int, target: Target) -> None:
        bursts = self.state.bursts
        last = bursts[-1] if bursts else None
        if last is not None and continues_burst(last, target, t):
            last.clicks.append(Click(t))
            return
        if last is not None:
            last.open = False
        burst = Burst(target.node_id, target.selector, self.state.url, not target.focus_only, [])
        burst.clicks.append(Click(t))
        bursts.append(burst)

    def activity(self, t: int) -> None:
        """A DOM change or navigation: every click with an open window had an effect."""
        for burst in self.state.bursts:
            for click in burst.clicks:
                if not click.active and t - click.t <= WINDOW_MS:
                    click.active = True

    def input_activity(self, t: int, node_id: Any) -> None:
        """A clicked checkbox/radio changed its own value: the click had an effect."""
        for burst in self.state.bursts:
            if burst.node_id == node_id:
                for click in burst.clicks:
                    if t - click.t <= WINDOW_MS:
                        click.active = True

    def settle(self, t: int) -> None:
        """Finalize bursts whose last click's window closed before time `t`."""
        keep = []
        for burst in self.state.bursts:
            if t > burst.clicks[-1].t + WINDOW_MS:
                self.finalize(burst)
            else:
                keep.append(burst)
        self.state.bursts = keep

    def finalize(self, burst: Burst) -> None:
        clicks = burst.clicks
        if is_rage(clicks):
            self.signal(clicks[0].t, "rage_click", burst, len(clicks), None)
        dead = [click for click in clicks if not click.active]
        if burst.can_be_dead and dead:
            self.signal(dead[0].t, "dead_click", burst, len(dead), None)

    def signal(self, t: int, kind: str, burst: Burst, clicks: int, fingerprint: str | None) -> None:
        self.result.frustrations.append(
            Frustration(t, kind, burst.selector, burst.url, clicks, fingerprint)
        )


def is_rage(clicks: list[Click]) -> bool:
    """Three clicks within one second somewhere in the burst."""
    span = RAGE_CLICKS - 1
    return any(
        clicks[i + span].t - clicks[i].t <= WINDOW_MS for i in range(len(clicks) - span)
    )


def continues_burst(burst: Burst, target: Target, t: int) -> bool:
    """Same target (node, or same non-empty selector) within 1 s of the burst's last click."""
    if not burst.open or t - burst.clicks[-1].t > WINDOW_MS:
        return False
    if burst.node_id == target.node_id:
        return True
    return bool(target.selector) and burst.selector == target.selector


def is_user_input(node: Node | None, data: dict[str, Any]) -> bool:
    """False for programmatic changes and the unchecking of a radio's siblings."""
    if data.get("userTriggered") is False:
        return False
    if node is not None and node.attrs.get("type", "").lower() == "radio":
        return data.get("isChecked") is not False
    return True


# --- targets ----------------------------------------------------------------------------


def describe(mirror: Mirror, node_id: Any, *, resolve: bool) -> Target:
    """Tag, id, classes, label text and a readable selector of a node."""
    node = mirror.get(node_id)
    if node is None:
        return Target(node_id if isinstance(node_id, int) else -1)
    if resolve:
        node_id, node = interactive_ancestor(mirror, node_id, node)
    attrs = node.attrs
    text = field_label(node) if node.tag in FIELD_TAGS else element_text(mirror, node_id, node)
    return Target(
        node_id,
        node.tag,
        attrs.get("id", ""),
        " ".join(attrs.get("class", "").split()),
        text,
        selector_for(node, text),
        mirror.is_text_field(node) or node.tag in NOT_DEAD_TAGS,
    )


def interactive_ancestor(mirror: Mirror, node_id: int, node: Node) -> tuple[int, Node]:
    """The nearest button/link/field/label around a click target (or the target itself)."""
    if node.kind == TEXT and node.parent in mirror.nodes:
        node_id, node = node.parent, mirror.nodes[node.parent]
    current_id, current = node_id, node
    for _ in range(ANCESTOR_LEVELS):
        if current.tag in INTERACTIVE_TAGS or current.attrs.get("role") in INTERACTIVE_ROLES:
            return current_id, current
        parent = mirror.nodes.get(current.parent)
        if parent is None:
            break
        current_id, current = current.parent, parent
    return node_id, node


def field_label(node: Node) -> str:
    """What names a form field: never its typed value."""
    attrs = node.attrs
    for name in ("aria-label", "placeholder", "value", "name", "title"):
        value = " ".join(attrs.get(name, "").split())
        if value:
            return value[:MAX_LABEL]
    return ""


def element_text(mirror: Mirror, node_id: int, node: Node) -> str:
    text = mirror.text_of(node_id)
    if text:
        return text
    label = node.attrs.get("aria-label") or node.attrs.get("title") or ""
    return " ".join(label.split())[:MAX_LABEL]


def selector_for(node: Node, text: str) -> str:
    """A readable selector such as `button#place-order "Place order"`."""
    attrs = node.attrs
    selector = node.tag
    element_id = attrs.get("id", "")
    if element_id:
        selector += "#" + element_id
    else:
        selector += "".join("." + name for name in attrs.get("class", "").split()[:2])
    name = attrs.get("name", "")
    if node.tag in FIELD_TAGS and name:
        selector += f"[name={name}]"
    if text and text != name:
        selector += ' "' + text.replace('"', '\\"') + '"'
    return selector


# --- error records ------------------------------------------------------------------------


def custom_error(payload: dict[str, Any], page_url: str) -> ErrorInfo:
    type_ = text_of_value(payload.get("type")) or "Error"
    message, stack = text_of_value(payload.get("message")), text_of_value(payload.get("stack"))
    return ErrorInfo(type_, message, stack, text_of_value(payload.get("url")) or page_url, "custom")


def network_error(payload: dict[str, Any], page_url: str) -> ErrorInfo:
    method = (text_of_value(payload.get("method")) or "GET").upper()
    url = text_of_value(payload.get("url"))
    status = payload.get("status")
    reason = str(status) if status else text_of_value(payload.get("message")) or "network error"
    message = f"{method} {url_path(url)} failed: {reason}"
    return ErrorInfo("NetworkError", message, "", url or page_url, "network")


def console_error(payload: dict[str, Any], page_url: str) -> ErrorInfo:
    parts = payload.get("payload")
    trace = payload.get("trace")
    message = " ".join(unquote(part) for part in parts) if isinstance(parts, list) else ""
    stack = "\n".join(str(line) for line in trace) if isinstance(trace, list) else ""
    return ErrorInfo("console.error", message, stack, page_url, "console")


def unquote(part: Any) -> str:
    """Console plugin arguments are JSON-stringified: show strings without their quotes."""
    text = str(part)
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        try:
            value = json.loads(text)
        except ValueError:
            return text
        return value if isinstance(value, str) else text
    return text


def url_path(url: str) -> str:
    """Path of a URL without origin, query or fragment."""
    path = url.split("#", 1)[0].split("?", 1)[0]
    if "://" in path:
        rest = path.split("://", 1)[1]
        path = "/" + rest.split("/", 1)[1] if "/" in rest else "/"
    return path


def text_of_value(value: Any) -> str:
    return "" if value is None else str(value)
