"""Snapshots: a PNG of what the user saw at a moment, and the moments worth one."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, Response, get
from litestar.params import FromPath, Parameter

from replayhub.hub import Hub
from replayhub.index.sessions import timeline_of
from replayhub.replay.moments import BadMoment, Moment, NothingToRender, moments_of, picture_of
from replayhub.replay.snapshot import SnapshotTimeout, SnapshotUnavailable
from replayhub.web.api.sessions import load_session
from replayhub.web.auth import requires
from replayhub.web.problems import problem

MomentTime = Annotated[int | None, Parameter(
    ge=0, description="Milliseconds from the session start (default: 500 ms before the "
                      "first error, else the last frame).")]
Width = Annotated[int, Parameter(ge=200, le=2560, description="PNG width in pixels.")]
Which = Annotated[Literal["errors", "frustration", "pages", "all"],
                  Parameter(description="Which moments to list.")]
PNG_HEADERS = {"Cache-Control": "private, max-age=3600"}


class MomentList(msgspec.Struct):
    items: list[Moment]


async def picture(hub: Hub, session_id: str, t: int | None, width: int) -> bytes:
    """The PNG, or the problem document saying why there is none."""
    session = await load_session(hub, session_id)
    try:
        return await picture_of(hub, session, t, width)
    except BadMoment as error:
        raise problem(400, "Invalid moment", str(error)) from None
    except SnapshotUnavailable as error:
        raise problem(503, "Snapshots unavailable", str(error)) from None
    except SnapshotTimeout as error:
        raise problem(504, "Snapshot timed out", str(error)) from None
    except NothingToRender as error:
        raise problem(422, "Nothing to render", str(error)) from None


class SnapshotController(Controller):
    path = "/api/v1/sessions"
    tags = ["snapshots"]

    @get("/{session_id:str}/snapshot.png", name="sessions:snapshot",
         operation_id="getSessionSnapshot", media_type="image/png",
         guards=[requires("viewer", cookie=True)])
    async def snapshot(self, request: Request[Any, Any, Any], session_id: FromPath[str],
                       t: MomentTime = None, width: Width = 1280) -> Response[bytes]:
        """PNG of the replayed page at `t`, with the cursor and a ring on a fresh click."""
        png = await picture(request.app.state.hub, session_id, t, width)
        return Response(png, media_type="image/png", headers=PNG_HEADERS)

    @get("/{session_id:str}/snapshots", name="sessions:snapshots",
         operation_id="listSessionSnapshots", guards=[requires("viewer")])
    async def snapshots(self, request: Request[Any, Any, Any], session_id: FromPath[str],
                        moments: Which = "all") -> MomentList:
        """Moments worth a picture: errors, frustration signals, first and last page."""
        hub: Hub = request.app.state.hub
        session = await load_session(hub, session_id)
        async with hub.db.read() as tx:
            timeline = await timeline_of(tx, session)
        return MomentList(moments_of(session, timeline, moments, hub.settings.base_url))
