"""The web UI's route handlers: snippet and static files, pages, share and views API."""

from __future__ import annotations

from replayhub.web.api.replays import ReplayController
from replayhub.web.assets import snippet, static
from replayhub.web.pages.account import AccountController
from replayhub.web.pages.incidents import IncidentPages
from replayhub.web.pages.lists import ListPages
from replayhub.web.pages.people import PeoplePages
from replayhub.web.pages.playlists import PlaylistPages
from replayhub.web.pages.replay import ReplayPages

UI_HANDLERS = [snippet, static, AccountController, ListPages, ReplayPages, ReplayController,
               IncidentPages, PlaylistPages, PeoplePages]
