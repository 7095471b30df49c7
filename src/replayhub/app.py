"""Litestar app factory: routes, problem documents, OpenAPI, and the hub's lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import msgspec
import structlog
from litestar import Litestar, get
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.problem_details import ProblemDetailsPlugin

from replayhub import __version__
from replayhub.config import Settings, load_settings
from replayhub.hub import Hub, background
from replayhub.logs import configure_logging
from replayhub.scheduler import Scheduler
from replayhub.web.api.alerts import AlertController
from replayhub.web.api.apps import AppController
from replayhub.web.api.errors import ErrorController
from replayhub.web.api.incidents import IncidentController
from replayhub.web.api.ingest import IngestController
from replayhub.web.api.notebook import NotebookController
from replayhub.web.api.people import PEOPLE_HANDLERS
from replayhub.web.api.playlists import PlaylistController
from replayhub.web.api.publications import PublicationController
from replayhub.web.api.reports import ReportController
from replayhub.web.api.sessions import SessionController
from replayhub.web.api.snapshots import SnapshotController
from replayhub.web.auth import refuse_cross_site
from replayhub.web.connectors import CONNECTOR_HANDLERS, connector_routes, dispatch_forever
from replayhub.web.pages.reports import ReportPages
from replayhub.web.problems import EXCEPTION_HANDLERS, PROBLEM_DETAILS
from replayhub.web.ui import UI_HANDLERS


class Health(msgspec.Struct):
    status: str


@get("/health", name="health", operation_id="health", security=[], tags=["health"])
async def health() -> Health:
    """Liveness: answers without a token."""
    return Health("ok")


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or load_settings()
    if not structlog.is_configured():
        # Never structlog's development defaults: they print frame locals, headers included.
        configure_logging(settings.log_level, settings.log_format)
    hub = Hub.from_settings(settings)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await hub.start()
        app.state.hub = hub
        scheduler = Scheduler(hub)
        if settings.scheduler.enabled:
            scheduler.start()
        try:
            async with (background(hub.close_sessions_forever()),
                        background(hub.ingestor.staging.run_forever()),
                        background(dispatch_forever(hub))):
                yield
        finally:
            await scheduler.stop()
            await hub.stop()

    return Litestar(
        route_handlers=[health, AppController, IngestController, SessionController,
                        SnapshotController, ErrorController, IncidentController, NotebookController,
                        PublicationController, PlaylistController, *UI_HANDLERS, *PEOPLE_HANDLERS,
                        AlertController, ReportController, ReportPages, *CONNECTOR_HANDLERS,
                        *connector_routes(hub)],
        lifespan=[lifespan],
        before_request=refuse_cross_site,
        plugins=[ProblemDetailsPlugin(PROBLEM_DETAILS)],
        logging_config=None,
        exception_handlers=EXCEPTION_HANDLERS,
        openapi_config=OpenAPIConfig(
            title="ReplayHub", version=__version__, path="/schema",
            components=Components(security_schemes={
                "bearer": SecurityScheme(type="http", scheme="bearer")}),
            security=[{"bearer": []}],
        ),
    )
