"""The Slack Web API client: one per workspace, the bot token in one hook, errors mapped once.

POST methods are sent form-encoded (structured arguments such as `blocks` as JSON strings),
read methods as GET with query parameters, as the Web API documents them.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from typing import Any

import httpx

from connectors.slack.settings import SlackSettings
from replayhub.connector import VendorError
from replayhub.vendor_http import failed_call, retry_after

TIMEOUT = httpx.Timeout(20.0, connect=5.0)
RETRYABLE_ERRORS = {"ratelimited", "rate_limited", "fatal_error", "internal_error",
                    "service_unavailable", "request_timeout", "team_added_to_org"}
"""`ok: false` errors that may go away; every other one (channel_not_found, invalid_blocks,
not_in_channel, invalid_auth...) will not, so it is never retried."""
RETRYABLE_STATUS = {408, 429, 500, 502, 503, 504}


class SlackAuth(httpx.Auth):
    """The bot token as a bearer header, only on requests to the Web API's own host (never on
    the pre-signed upload URLs Slack hands out)."""

    def __init__(self, token: str, host: str) -> None:
        self.header = f"Bearer {token}"
        self.host = host

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if request.url.host == self.host:
            request.headers["Authorization"] = self.header
        yield request


def _form(arguments: dict[str, Any]) -> dict[str, str]:
    """Form fields: lists and objects as JSON, booleans as true/false, None left out."""
    fields = {}
    for name, value in arguments.items():
        if value is None:
            continue
        if isinstance(value, bool):
            fields[name] = "true" if value else "false"
        elif isinstance(value, dict | list):
            fields[name] = json.dumps(value, separators=(",", ":"))
        else:
            fields[name] = str(value)
    return fields


class SlackClient:
    """The Web API methods the connector calls; every failure is a VendorError."""

    def __init__(self, settings: SlackSettings,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        base = httpx.URL(settings.api_url)
        self.http = httpx.AsyncClient(base_url=base, timeout=TIMEOUT, transport=transport,
                                      auth=SlackAuth(settings.bot_token, base.host),
                                      headers={"Accept": "application/json"})

    async def call(self, method: str, *, form: dict[str, Any] | None = None,
                   query: dict[str, Any] | None = None) -> dict[str, Any]:
        """POST `form` (or GET `query`) to a Web API method; the answer when `ok` is true."""
        verb = "GET" if form is None else "POST"
        try:
            if form is None:
                response = await self.http.get(method, params=_form(query or {}))
            else:
                response = await self.http.post(method, data=_form(form))
        except httpx.TransportError as error:
            raise failed_call("slack", verb, method, error) from None
        return self._answer(verb, method, response)

    @staticmethod
    def _answer(verb: str, method: str, response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = None
        status = response.status_code
        error = body.get("error") if isinstance(body, dict) else None
        if status >= 400 or not isinstance(body, dict) or not body.get("ok"):
            retryable = status in RETRYABLE_STATUS or (status < 400 and (
                body is None or error in RETRYABLE_ERRORS))
            detail = error or ("the answer is not JSON" if body is None else "")
            raise VendorError(f"slack {method}: {status} {detail}".strip()[:300],
                              status=status, retry_after=retry_after(response),
                              retryable=retryable)
        return body

    # messages ------------------------------------------------------------------------
    async def auth_test(self) -> dict[str, Any]:
        return await self.call("auth.test", query={})

    async def post_message(self, channel: str, text: str, blocks: list[dict[str, Any]],
                           metadata: dict[str, Any] | None = None,
                           thread_ts: str | None = None) -> dict[str, Any]:
        return await self.call("chat.postMessage", form={
            "channel": channel, "text": text, "blocks": blocks or None, "metadata": metadata,
            "thread_ts": thread_ts, "unfurl_links": False, "unfurl_media": False})

    async def update_message(self, channel: str, ts: str, text: str,
                             blocks: list[dict[str, Any]]) -> dict[str, Any]:
        return await self.call("chat.update", form={"channel": channel, "ts": ts, "text": text,
                                                    "blocks": blocks})

    async def history(self, channel: str, cursor: str | None = None) -> dict[str, Any]:
        return await self.call("conversations.history", query={
            "channel": channel, "limit": 200, "cursor": cursor, "include_all_metadata": True})

    async def replies(self, channel: str, ts: str, cursor: str | None = None) -> dict[str, Any]:
        return await self.call("conversations.replies", query={
            "channel": channel, "ts": ts, "limit": 200, "cursor": cursor,
            "include_all_metadata": True})

    async def unfurl(self, channel: str, ts: str, unfurls: dict[str, Any], *,
                     unfurl_id: str = "", source: str = "") -> None:
        """Unfurl links in a posted message (channel, ts) or in the message composer
        (unfurl_id, source: what the link_shared event gave; Slack takes one pair or the
        other)."""
        if unfurl_id:
            await self.call("chat.unfurl", form={"unfurl_id": unfurl_id,
                                                 "source": source or "composer",
                                                 "unfurls": unfurls})
            return
        await self.call("chat.unfurl", form={"channel": channel, "ts": ts, "unfurls": unfurls})

    async def conversations(self, cursor: str | None = None) -> dict[str, Any]:
        """One page of the channels the app can see (names and ids)."""
        return await self.call("conversations.list", query={
            "types": "public_channel,private_channel", "exclude_archived": True,
            "limit": 200, "cursor": cursor})

    async def respond(self, response_url: str, text: str) -> None:
        """An ephemeral answer to the person who clicked, through the click's response_url
        (a Slack hooks URL valid 30 minutes; the bot token is never sent there)."""
        parts = httpx.URL(response_url)
        api = self.http.base_url.host
        domain = ".".join(api.split(".")[-2:])
        if parts.scheme != "https" or not parts.host.endswith("." + domain):
            raise VendorError("slack response_url: not a Slack URL", retryable=False)
        try:
            response = await self.http.post(parts, auth=None, json={
                "response_type": "ephemeral", "replace_original": False, "text": text})
        except httpx.TransportError as error:
            raise VendorError(f"slack response_url: {type(error).__name__}",
                              retryable=True) from None
        if response.status_code >= 300:
            raise VendorError(f"slack response_url: {response.status_code}",
                              status=response.status_code,
                              retryable=response.status_code in RETRYABLE_STATUS)

    # people --------------------------------------------------------------------------
    async def lookup_by_email(self, email: str) -> str | None:
        """The member id of this e-mail; None when the workspace has no such member."""
        try:
            answer = await self.call("users.lookupByEmail", query={"email": email})
        except VendorError as error:
            if "users_not_found" in str(error):
                return None
            raise
        return str((answer.get("user") or {}).get("id") or "") or None

    async def user_info(self, user: str) -> dict[str, Any]:
        return (await self.call("users.info", query={"user": user})).get("user") or {}

    # files ---------------------------------------------------------------------------
    async def upload_file(self, filename: str, data: bytes) -> str:
        """Steps 1 and 2 of an upload: get a URL, send the bytes; the new file's id."""
        answer = await self.call("files.getUploadURLExternal",
                                 form={"filename": filename, "length": len(data)})
        url, file_id = answer.get("upload_url"), answer.get("file_id")
        if not url or not file_id:
            raise VendorError("slack files.getUploadURLExternal: no upload_url in the answer",
                              retryable=True)
        try:
            response = await self.http.post(url, content=data, auth=None,
                                            headers={"Content-Type": "application/octet-stream"})
        except httpx.TransportError as error:
            raise VendorError(f"slack file upload: {type(error).__name__}",
                              retryable=True) from None
        if response.status_code >= 300:
            raise VendorError(f"slack file upload: {response.status_code}",
                              status=response.status_code,
                              retryable=response.status_code in RETRYABLE_STATUS)
        return str(file_id)

    async def complete_upload(self, file_id: str, title: str, channel: str | None = None,
                              thread_ts: str | None = None) -> dict[str, Any]:
        """Step 3: share the uploaded file (into a thread), or keep it private (no channel)."""
        return await self.call("files.completeUploadExternal", form={
            "files": [{"id": file_id, "title": title}], "channel_id": channel,
            "thread_ts": thread_ts})

    async def file_info(self, file_id: str) -> dict[str, Any]:
        return (await self.call("files.info", query={"file": file_id})).get("file") or {}

    async def close(self) -> None:
        await self.http.aclose()
