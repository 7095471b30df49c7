"""Browser, OS and device of a session from its user-agent string."""

from functools import lru_cache
from typing import NamedTuple

from user_agents import parse


class UserAgentInfo(NamedTuple):
    """Unpacks as (browser, os, device), e.g. ("Chrome 124", "Linux", "desktop")."""

    browser: str
    os: str
    device: str


@lru_cache(maxsize=2048)
def parse_user_agent(user_agent: str) -> UserAgentInfo:
    """Browser family and major version, OS family and version, device class."""
    agent = parse(user_agent)
    return UserAgentInfo(
        _name(agent.browser.family, agent.browser.version_string)[:100],
        _name(agent.os.family, agent.os.version_string)[:100],
        _device(agent.is_bot, agent.is_tablet, agent.is_mobile, agent.is_pc),
    )


def _name(family: str, version: str) -> str:
    if not family or family == "Other":
        return "Other"
    major = version.split(".", 1)[0]
    return f"{family} {major}" if major else family


def _device(bot: bool, tablet: bool, mobile: bool, desktop: bool) -> str:
    if bot:
        return "bot"
    if tablet:
        return "tablet"
    if mobile:
        return "mobile"
    return "desktop" if desktop else "other"
