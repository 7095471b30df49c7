"""The Confluence and PagerDuty clients against the vendors' specs: auth, the requests they make,
errors mapped once, storage format that parses as XHTML, and validators that refuse what the
vendors refuse."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from connectors.confluence.client import vendor_error
from connectors.confluence.connector import ConfluenceConnector
from connectors.confluence.settings import ConfluenceSettings
from connectors.confluence.storage import comment_body, plain_text, storage_body, to_storage
from connectors.pagerduty.connector import PagerDutyConnector
from connectors.pagerduty.settings import PagerDutySettings
from replayhub.connector import Attachment, Document, Note, PublishedDocument, VendorError
from replayhub.vendor_http import retry_after
from tests.contract.openapi import ContractError, confluence_v1, confluence_v2, pagerduty_rest
from tests.integration.publishing.fake import (
    PAGERDUTY_API,
    SITE,
    SPACE_ID,
    FakeConfluence,
    FakePagerDuty,
    answer,
    parse_storage,
)

TOKEN = "atl_token_that_must_not_leak"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def connector(**options: str) -> ConfluenceConnector:
    values = {"enabled": True, "base_url": SITE, "email": "bot@acme.test", "api_token": TOKEN,
              "space_id": SPACE_ID, **options}
    return ConfluenceConnector(ConfluenceSettings(**values))  # type: ignore[arg-type]


def document(marker: str = "replayhub-document:postmortem:inc_1") -> Document:
    html = ('<article><header><h1>Post-mortem: A &amp; B</h1></header><section id="impact">'
            '<h2>Impact</h2><figure><img src="inc_1-chart.png" alt="chart" width="720"/>'
            '<figcaption>Errors per 1 min</figcaption></figure><table><tbody><tr>'
            '<th scope="row">Errors</th><td class="errors">5</td></tr></tbody></table>'
            '</section><section id="evidence"><ol><li><a href="https://hub/replays/s1?t=1">'
            '<img src="inc_1-replay-1.png" alt="ada at 0:01"/></a></li><li>'
            '<img src="inc_1-replay-2.png" alt="not rendered"/></li></ol></section></article>')
    return Document(key="postmortem:inc_1", title="Post-mortem: A & B (inc_1)",
                    markdown="# Post-mortem", html=html, marker=marker,
                    attachments=[Attachment("inc_1-chart.png", "image/png", PNG),
                                 Attachment("inc_1-replay-1.png", "image/png", PNG)])


def test_storage_format_parses_as_xhtml_with_attachment_images() -> None:
    storage = storage_body(document())
    root = parse_storage(storage)
    ac, ri = "{http://atlassian.com/content}", "{http://atlassian.com/resource/identifier}"
    images = list(root.iter(f"{ac}image"))
    assert [i.find(f"{ri}attachment").get(f"{ri}filename") for i in images] == [
        "inc_1-chart.png", "inc_1-replay-1.png"]
    assert images[0].get(f"{ac}alt") == "chart" and images[0].get(f"{ac}width") == "720"
    assert root.find("h1").text == "Post-mortem: A & B"
    assert root.find("table/tbody/tr/td").text == "5"
    assert not any(tag in storage for tag in ("<article", "<section", "<figure", "class=",
                                              "scope=", "inc_1-replay-2.png"))
    assert storage.endswith("replayhub-document:postmortem:inc_1</sub></p>")


def test_the_rendered_postmortem_template_converts_to_storage_format() -> None:
    from replayhub.postmortem import builtin_dir

    text = (builtin_dir() / "postmortem.html.j2").read_text()
    assert "<section" in text  # the converter is fed the article this template renders
    parse_storage(to_storage('<p>x&nbsp;y &copy; &amp; <code>&lt;b&gt;</code> &unknown; & z</p>',
                             set()))


def test_comment_bodies_round_trip_as_text() -> None:
    storage = comment_body("Ada wrote:\n\nLine <one>\nline two", "replayhub-delivery:dlv_1")
    parse_storage(storage)
    assert plain_text(storage) == "Ada wrote:\nLine <one>\nline two\nreplayhub-delivery:dlv_1"


async def test_check_uses_basic_auth_and_names_the_space() -> None:
    fake = FakeConfluence()
    with fake.router() as router:
        assert await connector().check() == "space ENG (Engineering), id 98304"
        sent = router.calls.last.request
    pair = base64.b64decode(sent.headers["Authorization"].split()[1]).decode()
    assert pair == f"bot@acme.test:{TOKEN}"


async def test_a_space_key_is_looked_up_once() -> None:
    fake = FakeConfluence()
    with fake.router():
        made = connector(space_id="", space_key="ENG")
        first = await made.publish_document(document(), None)
        assert await made.find_document(document()) == PublishedDocument(
            external_id=first.external_id, url=first.url, version="1")
    assert fake.calls.count("getSpaces") == 1
    assert fake.pages[first.external_id].space_id == SPACE_ID


async def test_publish_then_update_names_the_next_version() -> None:
    fake = FakeConfluence()
    with fake.router() as router:
        made = connector(parent_page_id="4242")
        first = await made.publish_document(document(), None)
        second = await made.publish_document(document(), first)
        upload = next(c.request for c in router.calls
                      if c.request.url.path.endswith("/child/attachment"))
    assert (first.external_id, first.version, second.version) == (second.external_id, "1", "2")
    assert fake.pages[first.external_id].parent_id == "4242"
    assert upload.headers["X-Atlassian-Token"] == "nocheck"
    assert b'name="minorEdit"' in upload.content and b'filename="inc_1-chart.png"' in upload.content


async def test_find_document_wants_the_marker_not_just_the_title() -> None:
    fake = FakeConfluence()
    with fake.router():
        await connector().publish_document(document(marker="replayhub-document:other"), None)
        assert await connector().find_document(document()) is None


async def test_vendor_errors_carry_status_retry_after_and_no_secret() -> None:
    fake = FakeConfluence()
    fake.fail("getSpaceById", answer(429, {"Retry-After": "12"}), answer(401))
    with fake.router():
        with pytest.raises(VendorError) as limited:
            await connector().check()
        with pytest.raises(VendorError) as refused:
            await connector().check()
    assert (limited.value.status, limited.value.retry_after, limited.value.retryable) == (
        429, 12.0, True)
    assert (refused.value.status, refused.value.retryable) == (401, False)
    assert TOKEN not in str(refused.value) and TOKEN not in repr(connector().settings)


async def test_footer_comment_replies_are_read_from_every_thread() -> None:
    fake = FakeConfluence()
    fake.comment_page_size = 2  # the page's comments and each thread's replies are paginated
    with fake.router():
        made = connector()
        published = await made.publish_document(document(), None)
        page = published.external_id
        first = fake.add_comment(page, "557058:ada", "The retry budget was too small")
        fake.add_comment(page, "557058:grace", "Agreed")
        fake.add_comment(page, "557058:ada", "Action item filed")
        replies = [fake.add_comment(page, "557058:grace", f"reply {n}", reply_to=first.id)
                   for n in (1, 2, 3)]
        fake.add_comment(page, "557058:ada", "reply to a reply", reply_to=replies[1].id)
        comments = await made.list_document_comments(published)
    assert [c.body for c in comments] == [
        "The retry budget was too small", "Agreed", "Action item filed",
        "reply 1", "reply 2", "reply 3", "reply to a reply"]
    assert {c.author for c in comments} == {"Ada Lovelace", "Grace Hopper"}
    assert len({c.external_id for c in comments}) == 7
    # every comment's children were asked for (following `_links.next`): 7 + 1 second page
    assert fake.calls.count("getFooterCommentChildren") == 8
    assert fake.calls.count("getPageFooterComments") == 2


def test_retry_after_as_an_http_date() -> None:
    response = httpx.Response(503, headers={"Retry-After": "Wed, 21 Oct 2026 07:28:30 GMT",
                                            "Date": "Wed, 21 Oct 2026 07:28:00 GMT"})
    assert retry_after(response) == 30.0
    assert vendor_error("GET", "/x", response).retryable


async def test_pagerduty_notes_are_plain_text_from_the_configured_user() -> None:
    fake = FakePagerDuty()
    settings = PagerDutySettings(enabled=True, webhook_secret="s", api_token="pd-token",
                                 from_email="oncall@acme.test", base_url=PAGERDUTY_API)
    with fake.router() as router:
        pagerduty = PagerDutyConnector(settings)
        note_id = await pagerduty.post_note("PT4KHLK", Note(
            html_body='<p>Published: <a href="https://x.test/p?a=1&amp;b=2">A &amp; B</a></p>'
                      "<p>replayhub-delivery:dlv_1</p>", marker="replayhub-delivery:dlv_1"))
        sent = router.calls.last.request
        assert await pagerduty.find_note("PT4KHLK", "replayhub-delivery:dlv_1") == note_id
        assert await pagerduty.find_note("PT4KHLK", "replayhub-delivery:dlv_2") is None
    assert sent.headers["From"] == "oncall@acme.test"
    assert sent.headers["Authorization"] == "Token token=pd-token"
    assert json.loads(sent.content) == {"note": {"content": (
        "Published: A & B (https://x.test/p?a=1&b=2)\nreplayhub-delivery:dlv_1")}}


def request(method: str, url: str, **options: object) -> httpx.Request:
    built = httpx.Request(method, url, **options)  # type: ignore[arg-type]
    built.read()  # a multipart body streams until read
    return built


def test_the_validators_refuse_what_the_vendors_refuse() -> None:
    v2, v1, pd = confluence_v2(), confluence_v1(), pagerduty_rest()
    page = {"spaceId": "1", "status": "current", "title": "T",
            "body": {"representation": "storage", "value": "<p/>"}}
    v2.check_request(request("POST", f"{SITE}/wiki/api/v2/pages", json=page))
    with pytest.raises(ContractError, match="spaceId"):
        v2.check_request(request("POST", f"{SITE}/wiki/api/v2/pages",
                                 json={k: v for k, v in page.items() if k != "spaceId"}))
    with pytest.raises(ContractError, match="version"):
        v2.check_request(request("PUT", f"{SITE}/wiki/api/v2/pages/12",
                                 json={**page, "id": "12"}))
    with pytest.raises(ContractError, match="not an integer"):
        v2.check_request(request("GET", f"{SITE}/wiki/api/v2/pages/abc"))
    with pytest.raises(ContractError, match="not under"):
        v2.check_request(request("GET", f"{SITE}/api/v2/pages/12"))
    with pytest.raises(ContractError):
        v2.check_request(request("GET", f"{SITE}/wiki/api/v2/pages", params={"space-id": "x"}))
    attachment = f"{SITE}/wiki/rest/api/content/12/child/attachment"
    v1.check_request(request("PUT", attachment, files={"file": ("a.png", PNG, "image/png")},
                             data={"minorEdit": "true"}))
    with pytest.raises(ContractError, match="minorEdit"):
        v1.check_request(request("PUT", attachment, files={"file": ("a.png", PNG, "image/png")}))
    with pytest.raises(ContractError, match="colour"):
        v1.check_request(request("PUT", attachment, files={"file": ("a.png", PNG, "image/png")},
                                 data={"minorEdit": "true", "colour": "red"}))
    notes = f"{PAGERDUTY_API}/incidents/P1/notes"
    accept = {"Accept": "application/vnd.pagerduty+json;version=2"}
    with pytest.raises(ContractError, match="From"):
        pd.check_request(request("POST", notes, headers=accept, json={"note": {"content": "x"}}))
    with pytest.raises(ContractError, match="e-mail"):
        pd.check_request(request("POST", notes, headers={**accept, "From": "nobody"},
                                 json={"note": {"content": "x"}}))
    pd.check_request(request("GET", notes, headers=accept))
