"""Alerts as Adaptive Cards 1.4 (templates/chat/teams_alert.json.j2), with `<at>` mentions by
sign-in address, kept under Teams' 28 KB message limit by trimming facts, then text."""

from __future__ import annotations

import json
from typing import Any

from replayhub.connector import ChatAlert, ChatPerson
from replayhub.templating import render

MAX_BYTES = 28_000
"""Teams refuses a message over about 28 KB: the whole webhook body stays under this."""
CARD_TYPE = "application/vnd.microsoft.card.adaptive"
FACT_LABELS = {"fingerprint": "Fingerprint", "resolved_by": "Resolved by"}
MAX_FACTS = 15
MAX_MENTIONS = 20


def _clip(text: str, limit: int) -> str:
    text = str(text)
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def _mention_name(person: ChatPerson) -> str:
    """The name shown in `<at>…</at>` (no angle brackets: they would end the tag)."""
    name = person.name or person.email
    return _clip(name.replace("<", "").replace(">", ""), 80) or person.email


def mention_entities(people: list[ChatPerson]) -> tuple[str, list[dict[str, Any]]]:
    """The `Owners: <at>Ada</at>, …` line and its msteams mention entities (by sign-in
    address: the person's Teams address, else their e-mail)."""
    texts, entities = [], []
    for person in people[:MAX_MENTIONS]:
        tag = f"<at>{_mention_name(person)}</at>"
        if any(entity["text"] == tag for entity in entities):
            continue
        texts.append(tag)
        entities.append({"type": "mention", "text": tag,
                         "mentioned": {"id": person.teams or person.email,
                                       "name": _mention_name(person)}})
    return ("Owners: " + ", ".join(texts) if texts else ""), entities


def _facts(alert: ChatAlert, fact_limit: int, value_limit: int) -> list[tuple[str, str]]:
    facts: list[tuple[str, str]] = []
    if alert.page_url:
        facts.append(("Page", _clip(alert.page_url, value_limit)))
    if alert.sessions or alert.users:
        facts.append(("Affected so far", f"{alert.sessions} session"
                      f"{'s' if alert.sessions != 1 else ''} of {alert.users} user"
                      f"{'s' if alert.users != 1 else ''}"))
    for name, value in alert.facts.items():
        facts.append((_clip(FACT_LABELS.get(name, name), 100), _clip(value, value_limit)))
    return facts[:fact_limit]


def _card(alert: ChatAlert, fact_limit: int, value_limit: int, text_limit: int,
          mentions: int) -> dict[str, Any]:
    mention_line, entities = mention_entities(alert.mentions[:mentions])
    title = ("Resolved: " if alert.resolved else "") + alert.title
    return json.loads(render(
        "chat/teams_alert.json.j2", title=_clip(title, min(300, text_limit)),
        summary=_clip(alert.summary, text_limit), resolved=alert.resolved,
        mention_line=mention_line, entities=entities,
        facts=_facts(alert, fact_limit, value_limit), image_url=alert.snapshot_url,
        replay_url=alert.replay_url, hub_url=alert.hub_url))


def wrap(card: dict[str, Any]) -> dict[str, Any]:
    """The Workflows webhook body: a message with the card as its one attachment."""
    return {"type": "message", "attachments": [
        {"contentType": CARD_TYPE, "contentUrl": None, "content": card}]}


def size_of(body: dict[str, Any]) -> int:
    return len(json.dumps(body, ensure_ascii=False).encode())


def alert_card(alert: ChatAlert) -> dict[str, Any]:
    """The card, trimmed step by step (facts, then their values, then the text, then the
    mentions) until the webhook body fits in MAX_BYTES."""
    steps = [(MAX_FACTS, 500, 2000, MAX_MENTIONS), (8, 300, 1500, MAX_MENTIONS),
             (5, 200, 800, 10), (3, 100, 400, 5), (2, 60, 200, 3), (0, 0, 120, 0)]
    for fact_limit, value_limit, text_limit, mentions in steps:
        card = _card(alert, fact_limit, value_limit, text_limit, mentions)
        if size_of(wrap(card)) <= MAX_BYTES:
            return card
    return card


def webhook_body(alert: ChatAlert) -> dict[str, Any]:
    return wrap(alert_card(alert))
