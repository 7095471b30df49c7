"""E-mail through the outbox to a real SMTP server (aiosmtpd on a free local port): the parts
(text, HTML, inline PNGs by cid, deleted once sent), the headers (long ones verbatim in the raw
bytes, non-ASCII subjects encoded), 4xx retried and 5xx failed, mail off without `[smtp] host`,
and mention e-mails sent once per person even when the comment is posted again."""

from __future__ import annotations

import email
import email.policy
import email.utils
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from replayhub.blobs import LocalBlobStore, get_or_none
from replayhub.config import OutboxSettings, PersonSettings, Settings, SmtpSettings
from replayhub.db.models import Delivery
from replayhub.hub import Hub
from replayhub.mail import EMAIL, MailConnector, enqueue_mail
from replayhub.outbox.dispatcher import Dispatcher
from replayhub.signing import sign
from tests.conftest import ADMIN
from tests.mailbox import Mailbox, smtp_server

HUB = "https://hub.example.test"
SENDER = "ReplayHub <notebook@hub.example.test>"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
PEOPLE = [PersonSettings(email="alice@example.com", name="Alice Smith"),
          PersonSettings(email="bob@example.com", name="Bob Stone"),
          PersonSettings(email="carol@example.com", name="Carol Diaz")]


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    with smtp_server() as served:
        yield served


@pytest.fixture
def settings(tmp_path: Path, database_url: str, mailbox: tuple[Mailbox, int]) -> Settings:
    return Settings(data_dir=str(tmp_path / "var"), database_url=database_url,
                    admin_token=ADMIN, public_url=HUB, people=list(PEOPLE),
                    outbox=OutboxSettings(dispatcher=False),
                    smtp=SmtpSettings(host="127.0.0.1", port=mailbox[1], sender=SENDER,
                                      timeout_seconds=10))


class Clock:
    """Time that moves only when the dispatcher sleeps (pacing) or the test says so."""

    def __init__(self) -> None:
        self.now = time.time() + 60

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def dispatcher(client: AsyncTestClient[Any], clock: Clock) -> Dispatcher:
    hub: Hub = client.hub  # type: ignore[attr-defined]
    return Dispatcher(hub.db, hub.connectors, hub.settings.outbox, clock=clock.time,
                      sleep=clock.sleep)


def mail_folder(hub: Hub) -> Path:
    """Where the local blob store keeps the mails' inline pictures."""
    assert isinstance(hub.blobs, LocalBlobStore)
    return hub.blobs.root / "mail"


async def delivery(client: AsyncTestClient[Any], delivery_id: str) -> Delivery:
    async with client.hub.db.read() as tx:  # type: ignore[attr-defined]
        found = await tx.get(Delivery, delivery_id)
        assert found is not None
        return found


async def all_deliveries(client: AsyncTestClient[Any]) -> list[Delivery]:
    async with client.hub.db.read() as tx:  # type: ignore[attr-defined]
        return list((await tx.execute(select(Delivery).order_by(Delivery.idempotency_key)))
                    .scalars())


async def test_a_mail_has_text_html_inline_images_and_headers(
        client: AsyncTestClient[Any], mailbox: tuple[Mailbox, int], clock: Clock,
        dispatcher: Dispatcher) -> None:
    box, port = mailbox
    hub: Hub = client.hub  # type: ignore[attr-defined]
    connector = hub.connectors[EMAIL]
    assert isinstance(connector, MailConnector)
    assert await connector.check() == f"anonymous at 127.0.0.1:{port}"
    delivery_id = await enqueue_mail(
        hub, key="report:weekly:2026-01", to=["Alice Smith <alice@example.com>"],
        subject="Weekly replay report", text="Errors went down.\nhttps://hub.example.test/",
        html='<p>Errors went <b>down</b>.</p><img src="cid:chart" alt="chart"/>',
        inline_images=[("chart", PNG)],
        headers={"List-Unsubscribe": f"<{HUB}/unsubscribe>", "X-ReplayHub-Report": "weekly"})
    again = await enqueue_mail(hub, key="report:weekly:2026-01", to=["alice@example.com"],
                               subject="x", text="x", html="x")
    assert again == delivery_id  # one mail per key
    stored = await delivery(client, delivery_id)
    payload = json.loads(stored.payload)
    assert payload["images"] == [{"cid": "chart", "blob": payload["images"][0]["blob"],
                                  "size": len(PNG)}]
    assert len(stored.payload) < len(PNG)  # the picture is in the blob store, not the row
    assert (stored.connector, stored.action, stored.account) == (
        "email", "email", f"127.0.0.1:{port}")

    assert await dispatcher.run_until_idle() == 1
    [message] = box.messages()
    [(mail_from, rcpt_tos, _)] = box.received
    assert (mail_from, rcpt_tos) == ("notebook@hub.example.test", ["alice@example.com"])
    assert message["From"] == SENDER
    assert message["To"] == "Alice Smith <alice@example.com>"
    assert message["Subject"] == "Weekly replay report"
    assert message["Message-ID"] == f"<{delivery_id}@hub.example.test>"
    sent_at = email.utils.parsedate_to_datetime(message["Date"]).timestamp()
    assert abs(sent_at - clock.now) < 2
    assert message["List-Unsubscribe"] == f"<{HUB}/unsubscribe>"
    assert message["X-ReplayHub-Report"] == "weekly"
    # multipart/alternative: text/plain, then multipart/related (text/html + the PNG)
    assert message.get_content_type() == "multipart/alternative"
    text, related = message.get_payload()  # type: ignore[misc]
    assert text.get_content_type() == "text/plain"
    assert text.get_content().replace("\r\n", "\n") == (
        "Errors went down.\nhttps://hub.example.test/\n")
    assert related.get_content_type() == "multipart/related"
    html, image = related.get_payload()
    assert html.get_content_type() == "text/html"
    assert 'src="cid:chart"' in html.get_content() and "data:" not in html.get_content()
    assert image.get_content_type() == "image/png"
    assert image["Content-ID"] == "<chart>"
    assert image.get_content_disposition() == "inline"
    assert image.get_content() == PNG

    sent = await delivery(client, delivery_id)
    assert (sent.status, sent.external_id, sent.attempts) == (
        "sent", f"<{delivery_id}@hub.example.test>", 1)
    # the mail went out: its picture is deleted from the blob store
    assert payload["images"][0]["blob"] == f"mail/{delivery_id}/chart.png"
    assert await get_or_none(hub.blobs, payload["images"][0]["blob"]) is None


async def test_long_headers_are_sent_verbatim_and_subjects_encoded(
        client: AsyncTestClient[Any], mailbox: tuple[Mailbox, int],
        dispatcher: Dispatcher) -> None:
    box, _ = mailbox
    hub: Hub = client.hub  # type: ignore[attr-defined]
    # a signed unsubscribe token as the reports make it: about 140 characters, no spaces
    token = sign(hub.secret_key, "report-unsubscribe",
                 {"r": "rpt_0123456789abcdef", "a": "alice.smith@example.com",
                  "exp": 1_800_000_000})
    assert len(token) > 130
    url = f"{HUB}/unsubscribe/{token}"
    references = " ".join(f"<msg-{n}@hub.example.test>" for n in range(6))
    await enqueue_mail(hub, key="verbatim", to=["alice@example.com"],
                       subject="Rapport hebdomadaire: 12 séances, 3 erreurs (été)",
                       text="t", html="<p>h</p>",
                       headers={"List-Unsubscribe": f"<{url}>",
                                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                                "References": references, "X-Note": "Grüße"})
    assert await dispatcher.run_until_idle() == 1
    [(_, _, raw)] = box.received
    lines = raw.split(b"\r\n")
    assert f"List-Unsubscribe: <{url}>".encode() in lines
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click" in lines
    assert b"=?utf-8?" not in b"".join(line for line in lines if b"nsubscribe" in line)
    # long values with spaces are folded at their spaces, never encoded
    folded = raw[raw.index(b"References:"):].split(b"\r\n")
    assert folded[0].startswith(b"References: <msg-0@") and b"=?" not in folded[0]
    assert folded[1].startswith(b" <msg-") and max(len(line) for line in folded[:3]) <= 78
    # non-ASCII subjects and header values are still encoded (RFC 2047), and read back
    subject = next(line for line in lines if line.startswith(b"Subject:"))
    assert b"=?utf-8?q?s=C3=A9ances" in subject and raw.isascii()
    [message] = box.messages()
    assert message["Subject"] == "Rapport hebdomadaire: 12 séances, 3 erreurs (été)"
    assert message["X-Note"] == "Grüße"
    assert message["References"] == references
    assert message["List-Unsubscribe"] == f"<{url}>"


async def test_4xx_is_retried_with_the_same_message_id_and_5xx_fails(
        client: AsyncTestClient[Any], mailbox: tuple[Mailbox, int], clock: Clock,
        dispatcher: Dispatcher) -> None:
    box, _ = mailbox
    hub: Hub = client.hub  # type: ignore[attr-defined]
    box.answers = ["451 4.3.0 Mailbox busy, try again later"]
    later = await enqueue_mail(hub, key="later", to=["bob@example.com"], subject="Later",
                               text="t", html="<p>h</p>")
    assert await dispatcher.run_until_idle() == 1
    waiting = await delivery(client, later)
    assert (waiting.status, waiting.attempts) == ("pending", 1)
    assert "SMTP 451" in (waiting.last_error or "")
    assert box.received == []
    clock.now += hub.settings.outbox.backoff_max_seconds + 1
    assert await dispatcher.run_until_idle() == 1
    sent = await delivery(client, later)
    assert (sent.status, sent.attempts) == ("sent", 2)
    [message] = box.messages()
    assert message["Message-ID"] == f"<{later}@hub.example.test>"

    box.answers = ["554 5.7.1 Message rejected as spam"]
    refused = await enqueue_mail(hub, key="refused", to=["carol@example.com"],
                                 subject="Refused", text="t", html="<p>h</p>")
    assert await dispatcher.run_until_idle() == 1
    failed = await delivery(client, refused)
    assert (failed.status, failed.attempts) == ("failed", 1)
    assert "SMTP 554" in (failed.last_error or "")
    clock.now += hub.settings.outbox.backoff_max_seconds + 1
    assert await dispatcher.run_until_idle() == 0  # never tried again by itself
    assert box.refused == 2 and len(box.received) == 1
    listed = (await client.get("/api/v1/deliveries", params={"status": "failed"})).json()
    assert [(d["id"], d["connector"]) for d in listed["items"]] == [(refused, "email")]
    # once the cause is fixed, a person retries it and it goes out, same Message-ID
    assert (await client.post(f"/api/v1/deliveries/{refused}/retry")).status_code == 202
    assert await dispatcher.run_until_idle() == 1
    assert (await delivery(client, refused)).status == "sent"
    assert box.messages()[-1]["Message-ID"] == f"<{refused}@hub.example.test>"


async def test_without_smtp_a_mail_fails_naming_the_setting(
        client: AsyncTestClient[Any], settings: Settings) -> None:
    off = Hub.from_settings(msgspec.structs.replace(settings, smtp=SmtpSettings()))
    try:
        assert EMAIL not in off.connectors
        delivery_id = await enqueue_mail(off, key="nowhere", to=["alice@example.com"],
                                         subject="Hello", text="t", html="<p>h</p>")
    finally:
        await off.stop()
    failed = await delivery(client, delivery_id)
    assert failed.status == "failed" and "[smtp] host" in (failed.last_error or "")


async def test_bad_addresses_and_headers_are_refused_before_storing(
        client: AsyncTestClient[Any]) -> None:
    hub: Hub = client.hub  # type: ignore[attr-defined]
    for options in ({"to": ["not an address"]}, {"to": []}, {"to": ["a@x.org, b@y.org"]},
                    {"headers": {"Bcc": "eve@example.com"}},
                    {"headers": {"X-Note": "a\r\nBcc: eve@example.com"}},
                    {"headers": {"X-Note": "x" * 1000}},
                    {"inline_images": [("chart", PNG), ("bad cid", PNG)]},
                    {"inline_images": [("chart", PNG), ("chart", PNG)]}):
        mail = {"to": ["alice@example.com"], "subject": "s", "text": "t", "html": "h",
                **options}
        with pytest.raises(ValueError):
            await enqueue_mail(hub, key="bad", **mail)
    assert await all_deliveries(client) == []
    assert not mail_folder(hub).exists()  # nor pictures


async def test_a_mail_enqueued_twice_keeps_one_set_of_pictures(
        client: AsyncTestClient[Any]) -> None:
    hub: Hub = client.hub  # type: ignore[attr-defined]
    mail = {"key": "twice", "to": ["alice@example.com"], "subject": "s", "text": "t",
            "html": '<img src="cid:chart">', "inline_images": [("chart", PNG)]}
    first = await enqueue_mail(hub, **mail)
    assert await enqueue_mail(hub, **mail) == first
    folders = sorted(path.name for path in mail_folder(hub).iterdir())
    assert folders == [first]


async def test_mentions_are_mailed_once_per_person_even_when_the_comment_is_retried(
        client: AsyncTestClient[Any], mailbox: tuple[Mailbox, int], clock: Clock,
        dispatcher: Dispatcher) -> None:
    box, _ = mailbox
    created = await client.post("/api/v1/incidents", json={
        "title": "Checkout down", "started_at": "2026-01-04T10:00:00Z"})
    assert created.status_code == 201, created.text
    incident = created.json()["id"]
    url = f"/api/v1/incidents/{incident}/comments"
    body = "@bob please look at the replays; @Carol Diaz FYI. Thanks @bob@example.com!"
    first = await client.post(url, json={"body": body}, headers={"Idempotency-Key": "c-1"})
    assert first.status_code == 201, first.text
    comment = first.json()
    # the client did not get the answer and sends the same comment again
    retried = await client.post(url, json={"body": body}, headers={"Idempotency-Key": "c-1"})
    assert retried.status_code == 200 and retried.json()["id"] == comment["id"]

    box.answers = ["421 4.7.0 Too many connections, slow down"]
    for _ in range(5):
        await dispatcher.run_until_idle()
        clock.now += dispatcher.settings.backoff_max_seconds + 1
    messages = box.messages()
    assert sorted(m["To"] for m in messages) == ["bob@example.com", "carol@example.com"]
    assert box.refused == 1
    link = f"{HUB}/incidents/{incident}/postmortem#comment-{comment['id']}"
    for message in messages:
        assert message["Subject"] == (
            "bootstrap admin mentioned you on the post-mortem of Checkout down")
        assert message["Auto-Submitted"] == "auto-generated"
        text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
        assert link in text and body in text
        assert f'href="{link}"' in html
        assert '<span class="mention">@Carol Diaz</span>' in html
    assert [d.status for d in await all_deliveries(client)] == ["sent", "sent"]
