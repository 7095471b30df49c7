"""Alerts over HTTP: resolve an error group (its chat messages say so), and the snapshot PNG
a signed share link opens at (chat cards show it by URL)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, Parameter

from replayhub.alerts import UnknownError, resolution_of, resolve_error
from replayhub.hub import Hub
from replayhub.index.sessions import iso
from replayhub.web.api.comments import author_of
from replayhub.web.api.snapshots import picture
from replayhub.web.auth import requires
from replayhub.web.pages.replay import share_from
from replayhub.web.problems import problem

Fingerprint = Annotated[str, Parameter(max_length=32, pattern=r"^[A-Za-z0-9_-]{1,32}$",
                                       description="The error group's fingerprint.")]
SHARED_PNG_HEADERS = {"Cache-Control": "public, max-age=86400"}


class Resolution(msgspec.Struct):
    fingerprint: str
    resolved_at: str
    resolved_by: str


class AlertController(Controller):
    tags = ["alerts"]

    @post("/api/v1/errors/{fingerprint:str}/resolve", name="errors:resolve",
          operation_id="resolveErrorGroup", status_code=200,
          guards=[requires("agent", cookie=True)])
    async def resolve(self, request: Request[Any, Any, Any],
                      fingerprint: Fingerprint) -> Resolution:
        """Mark the error group resolved: its alert messages are updated, and a new
        occurrence alerts again (error.regressed) in the old thread."""
        hub: Hub = request.app.state.hub
        try:
            await resolve_error(hub, fingerprint, await author_of(request, hub))
        except UnknownError:
            raise problem(404, "Not found", f"no error group has fingerprint {fingerprint}"
                          ) from None
        found = await resolution_of(hub, fingerprint)
        assert found is not None and found.resolved_at is not None
        return Resolution(fingerprint, iso(found.resolved_at), found.resolved_by)

    @get("/share/{token:str}/snapshot.png", name="pages:share_snapshot",
         operation_id="sharedReplaySnapshot", media_type="image/png", security=[],
         include_in_schema=False)
    async def shared_snapshot(self, request: Request[Any, Any, Any],
                              token: FromPath[str]) -> Response[bytes]:
        """The PNG of the moment a share link opens at (no account: the link is signed)."""
        hub: Hub = request.app.state.hub
        share = share_from(hub, token)
        png = await picture(hub, share.session_id, share.t, 1280)
        return Response(png, media_type="image/png", headers=SHARED_PNG_HEADERS)
