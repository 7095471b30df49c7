"""A compact DOM mirror built from rrweb serialized nodes and mutations, scrubbing as it goes."""

from typing import Any

import msgspec

from replayhub.ingest import scrub

DOCUMENT, DOCTYPE, ELEMENT, TEXT, CDATA, COMMENT = range(6)
KEPT_ATTRS = frozenset(
    {"id", "class", "type", "name", "autocomplete", "aria-label", "placeholder", "role", "title"}
)
SKIPPED_TEXT_PARENTS = frozenset({"script", "style", "noscript", "template", "textarea"})
TEXT_FIELD_TAGS = frozenset({"textarea", "select"})
NON_TEXT_INPUT_TYPES = frozenset(
    {"checkbox", "radio", "button", "submit", "reset", "range", "image"}
)
MAX_TEXT = 60
MAX_TEXT_NODES = 400


class Node(msgspec.Struct, array_like=True, omit_defaults=True, gc=False):
    """One mirrored node: only what indexing and scrubbing need."""

    parent: int
    kind: int
    text: str = ""
    tag: str = ""
    attrs: dict[str, str] = {}
    children: list[int] = []
    secret: bool = False


class Mirror(msgspec.Struct, omit_defaults=True):
    """Node id -> Node, kept in sync with full snapshots and mutations."""

    nodes: dict[int, Node] = {}

    def get(self, node_id: Any) -> Node | None:
        """The node with this id, if mirrored."""
        return self.nodes.get(node_id) if isinstance(node_id, int) else None

    def load_snapshot(self, root: dict[str, Any], conservative: bool = False) -> str:
        """Replace the mirror with a full snapshot (scrubbed in place); return the page title."""
        self.nodes = {}
        title_id = self.insert(root, -1, None, conservative)
        return self.text_of(title_id) if title_id is not None else ""

    def insert(
        self, sn: dict[str, Any], parent_id: int, next_id: int | None, conservative: bool
    ) -> int | None:
        """Mirror a serialized subtree under `parent_id`; return the id of its first <title>."""
        title_id = None
        stack: list[tuple[dict[str, Any], int, int | None]] = [(sn, parent_id, next_id)]
        while stack:
            item, pid, nid = stack.pop()
            node_id = item.get("id")
            if not isinstance(node_id, int):
                continue
            node = self._make(item, pid, conservative)
            self._link(node_id, node, pid, nid)
            if title_id is None and node.tag == "title":
                title_id = node_id
            kids = item.get("childNodes")
            if kids:
                stack.extend((k, node_id, None) for k in reversed(kids) if isinstance(k, dict))
        return title_id

    def _make(self, sn: dict[str, Any], parent_id: int, conservative: bool) -> Node:
        kind = sn.get("type")
        if kind == ELEMENT:
            return self._make_element(sn, parent_id, conservative)
        if kind == TEXT:
            return Node(parent_id, TEXT, text=self._scrub_text(sn, parent_id))
        return Node(parent_id, kind if isinstance(kind, int) else COMMENT)

    def _make_element(self, sn: dict[str, Any], parent_id: int, conservative: bool) -> Node:
        tag = str(sn.get("tagName", "")).lower()
        raw = sn.get("attributes")
        raw = raw if isinstance(raw, dict) else {}
        attrs = {k: v for k, v in raw.items() if k in KEPT_ATTRS and isinstance(v, str)}
        node = Node(parent_id, ELEMENT, tag=tag, attrs=attrs)
        node.secret = scrub.is_secret_field(tag, attrs)
        value = raw.get("value")
        if isinstance(value, str):
            raw["value"] = self._scrub_value(node, value, conservative)
            if tag == "input" and attrs.get("type", "").lower() in scrub.BUTTON_TYPES:
                attrs["value"] = raw["value"]
        return node

    def _scrub_text(self, sn: dict[str, Any], parent_id: int) -> str:
        text = sn.get("textContent")
        if not isinstance(text, str) or not text:
            return ""
        if sn.get("isStyle"):
            return ""
        masked = scrub.mask_card_numbers(text)
        if masked is not text:
            sn["textContent"] = masked
        parent = self.nodes.get(parent_id)
        if parent is not None and parent.tag in SKIPPED_TEXT_PARENTS:
            return ""
        return masked

    @staticmethod
    def _scrub_value(node: Node, value: str, conservative: bool) -> str:
        if not scrub.value_attr_is_scrubbed(node.tag, node.attrs.get("type", "")):
            return value
        return scrub.scrub_field_value(value, node.secret, conservative)

    def _link(self, node_id: int, node: Node, parent_id: int, next_id: int | None) -> None:
        old = self.nodes.get(node_id)
        if old is not None:
            self._detach(node_id, old)
            node.children = old.children
            node.secret = node.secret or old.secret
        self.nodes[node_id] = node
        parent = self.nodes.get(parent_id)
        if parent is None:
            return
        siblings = parent.children
        if next_id is not None and next_id in siblings:
            siblings.insert(siblings.index(next_id), node_id)
        else:
            siblings.append(node_id)

    def _detach(self, node_id: int, node: Node) -> None:
        parent = self.nodes.get(node.parent)
        if parent is not None and node_id in parent.children:
            parent.children.remove(node_id)

    def remove(self, node_id: Any) -> None:
        """Remove a node and prune its whole subtree."""
        node = self.get(node_id)
        if node is None:
            return
        self._detach(node_id, node)
        stack = [node_id]
        while stack:
            gone = self.nodes.pop(stack.pop(), None)
            if gone is not None:
                stack.extend(gone.children)

    def apply_mutation(self, data: dict[str, Any], conservative: bool = False) -> bool:
        """Apply (and scrub in place) an rrweb mutation; True if it changed anything."""
        removes, adds = data.get("removes"), data.get("adds")
        texts, attributes = data.get("texts"), data.get("attributes")
        for rem in removes or ():
            self.remove(rem.get("id"))
        for add in adds or ():
            self._apply_add(add, conservative)
        for change in texts or ():
            self._apply_text(change)
        for change in attributes or ():
            self._apply_attributes(change, conservative)
        return bool(removes or adds or texts or attributes)

    def _apply_add(self, add: dict[str, Any], conservative: bool) -> None:
        node, parent_id = add.get("node"), add.get("parentId")
        if isinstance(node, dict) and isinstance(parent_id, int):
            next_id = add.get("nextId")
            next_id = next_id if isinstance(next_id, int) else None
            self.insert(node, parent_id, next_id, conservative)

    def _apply_text(self, change: dict[str, Any]) -> None:
        value = change.get("value")
        if not isinstance(value, str):
            return
        masked = scrub.mask_card_numbers(value)
        if masked is not value:
            change["value"] = masked
        node = self.get(change.get("id"))
        if node is not None and node.kind == TEXT:
            parent = self.nodes.get(node.parent)
            node.text = "" if parent is not None and parent.tag in SKIPPED_TEXT_PARENTS else masked

    def _apply_attributes(self, change: dict[str, Any], conservative: bool) -> None:
        attrs = change.get("attributes")
        node = self.get(change.get("id"))
        if not isinstance(attrs, dict):
            return
        if node is None:
            self._scrub_unknown_value(attrs, conservative)
            return
        for name, value in attrs.items():
            if name not in KEPT_ATTRS:
                continue
            if isinstance(value, str):
                node.attrs[name] = value
            else:
                node.attrs.pop(name, None)
        node.secret = node.secret or scrub.is_secret_field(node.tag, node.attrs)
        value = attrs.get("value")
        if isinstance(value, str):
            attrs["value"] = self._scrub_value(node, value, conservative)

    @staticmethod
    def _scrub_unknown_value(attrs: dict[str, Any], conservative: bool) -> None:
        value = attrs.get("value")
        if isinstance(value, str):
            attrs["value"] = scrub.scrub_field_value(value, False, conservative)

    def text_of(self, node_id: int) -> str:
        """Whitespace-collapsed text content of a subtree, at most MAX_TEXT characters."""
        parts: list[str] = []
        size = 0
        stack = [node_id]
        seen = 0
        while stack and size <= MAX_TEXT and seen < MAX_TEXT_NODES:
            node = self.nodes.get(stack.pop())
            seen += 1
            if node is None:
                continue
            if node.kind == TEXT:
                parts.append(node.text)
                size += len(node.text.strip())
            elif node.tag not in SKIPPED_TEXT_PARENTS:
                stack.extend(reversed(node.children))
        return " ".join(" ".join(parts).split())[:MAX_TEXT].rstrip()

    def is_secret(self, node_id: Any) -> bool:
        """True if the node is a password/card-like field (sticky once seen)."""
        node = self.get(node_id)
        return node is not None and node.secret

    def is_text_field(self, node: Node) -> bool:
        """Text inputs, selects and textareas: clicking them only focuses them."""
        if node.tag in TEXT_FIELD_TAGS:
            return True
        input_type = node.attrs.get("type", "").lower()
        return node.tag == "input" and input_type not in NON_TEXT_INPUT_TYPES
