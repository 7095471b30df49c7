"""What Slack messages say: Block Kit built from the Jinja2 templates in templates/chat/.

Each template renders one JSON object; text from people and recordings is escaped for
Slack's mrkdwn (&, <, >) and then cut to Block Kit's limits (the escaped text is what Slack
counts), so a message is never refused for it.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import jinja2

from replayhub.alerts import is_public_url
from replayhub.connector import ChatAlert, ChatPerson
from replayhub.templating import templates_dir

__all__ = ["is_public_url"]
MAX_BLOCKS = 50
OWNERS_LIMIT = 2900
"""The owners section's mentions (a section's text holds 3000 characters)."""


def cut(text: str, limit: int) -> str:
    """At most `limit` characters, ending in "…" when cut, never inside an entity (&amp;)."""
    if len(text) <= limit:
        return text
    head = text[: max(limit - 1, 0)]
    amp = head.rfind("&")
    if amp != -1 and ";" not in head[amp:]:
        head = head[:amp]
    return head + "…"


def mrkdwn(value: Any, limit: int = 3000) -> str:
    """Text shown as is in mrkdwn: the three characters Slack reads as markup escaped, then
    cut so the escaped text fits `limit`."""
    text = str(value or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return cut(text, limit)


def joined(parts: list[str], limit: int, separator: str = ", ") -> str:
    """Whole parts (a mention is never split) while they fit with room for "and N more"."""
    shown: list[str] = []
    for index, part in enumerate(parts):
        remaining = len(parts) - index - 1
        candidate = separator.join([*shown, part])
        if len(candidate + (f" and {remaining} more" if remaining else "")) > limit:
            more = len(parts) - len(shown)
            return separator.join(shown) + f" and {more} more" if shown else f"{more} people"
        shown.append(part)
    return separator.join(shown)


def plain(value: Any, limit: int = 3000) -> str:
    text = " ".join(str(value or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(templates_dir()), autoescape=False,
                             trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    env.filters["mrkdwn"] = mrkdwn
    env.filters["plain"] = plain
    return env


def render_json(name: str, **context: Any) -> dict[str, Any]:
    """Render a chat template and read it as the JSON object it must be (an actions block
    without buttons left out, at most 50 blocks: Slack refuses either)."""
    rendered = environment().get_template(name).render(**context)
    data = json.loads(rendered)
    if not isinstance(data, dict):
        raise ValueError(f"{name} did not render a JSON object")
    if isinstance(data.get("blocks"), list):
        data["blocks"] = [block for block in data["blocks"]
                          if block.get("type") != "actions" or block.get("elements")]
        data["blocks"] = data["blocks"][:MAX_BLOCKS]
    return data


def mention(person: ChatPerson) -> str:
    """`<@U…>` for a person with a Slack member id, else their name (never a failure)."""
    if person.slack:
        return f"<@{person.slack}>"
    return mrkdwn(person.name or person.email, 200)


def fingerprint_of(alert: ChatAlert) -> str:
    """The error group an alert is about (for "Mark resolved"); "" for other alerts."""
    if not alert.kind.startswith("error."):
        return ""
    if alert.facts.get("fingerprint"):
        return alert.facts["fingerprint"]
    return alert.key.split(":", 1)[1] if ":" in alert.key else ""


def alert_message(alert: ChatAlert) -> tuple[str, list[dict[str, Any]]]:
    """The alert's fallback text (with the mentions) and its blocks."""
    mentions = joined([mention(person) for person in alert.mentions], OWNERS_LIMIT)
    image_url = alert.snapshot_url if is_public_url(alert.snapshot_url) else ""
    data = render_json("chat/slack_alert.json.j2", alert=alert, mentions=mentions,
                       image_url=image_url, fingerprint=fingerprint_of(alert)[:2000])
    return data["text"], data["blocks"]


def comment_message(author: str, body: str, replay_url: str) -> tuple[str, list[dict[str, Any]]]:
    data = render_json("chat/slack_comment.json.j2", author=author, body=body,
                       replay_url=replay_url)
    return data["text"], data["blocks"]


def unfurl_blocks(*, title: str, summary: str, owners: str, url: str,
                  image: dict[str, Any] | None) -> list[dict[str, Any]]:
    data = render_json("chat/slack_unfurl.json.j2", title=title, summary=summary,
                       owners=owners, url=url, image=image)
    blocks: list[dict[str, Any]] = data["blocks"]
    return blocks
