"""Apps (each recorded site) and their ingest keys."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import JSONBody
from sqlalchemy import select

from replayhub.db.models import App
from replayhub.hub import Hub
from replayhub.index.sessions import iso
from replayhub.security import create_app
from replayhub.web.auth import requires


class NewApp(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class CreatedApp(msgspec.Struct):
    id: str
    name: str
    ingest_key: str
    """Shown once: only its hash is kept."""


class AppInfo(msgspec.Struct):
    id: str
    name: str
    ingest_key_hint: str
    created_at: str


class AppList(msgspec.Struct):
    items: list[AppInfo]


class AppController(Controller):
    path = "/api/v1/apps"
    tags = ["apps"]

    @post("/", name="apps:create", operation_id="createApp", guards=[requires("admin")])
    async def create(self, request: Request[Any, Any, Any], data: JSONBody[NewApp]) -> CreatedApp:
        """Create an app and its ingest key (admin)."""
        hub: Hub = request.app.state.hub
        app, key = await create_app(hub.db, data.name.strip())
        return CreatedApp(app.id, app.name, key)

    @get("/", name="apps:list", operation_id="listApps", guards=[requires("admin")])
    async def list_apps(self, request: Request[Any, Any, Any]) -> AppList:
        hub: Hub = request.app.state.hub
        async with hub.db.read() as tx:
            apps = (await tx.execute(select(App).order_by(App.created_at))).scalars().all()
        return AppList([AppInfo(a.id, a.name, a.ingest_key_hint + "…", iso(a.created_at))
                        for a in apps])
