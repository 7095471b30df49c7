"""The sidebar app's JWT (as Zendesk signs the app's URL) and its zip package."""

from __future__ import annotations

import io
import json
import struct
import time
import zipfile
from typing import Any

import jwt
import pytest
from click.testing import CliRunner

from connectors.zendesk.app_package import build_package
from connectors.zendesk.settings import ZendeskSettings
from connectors.zendesk.sidebar import SidebarRefused, verify_app_jwt
from replayhub.cli import main

SHARED = "sidebar-shared-secret-0123456789abcdef"
AUD = "https://acme.zendesk.com/api/v2/apps/installations/987.json"


def settings(**extra: Any) -> ZendeskSettings:
    return ZendeskSettings(subdomain="acme", sidebar_shared_secret=SHARED, **extra)


def app_jwt(secret: str = SHARED, **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": "acme.zendesk.com", "aud": AUD, "iat": now, "exp": now + 300, **claims}
    return jwt.encode({k: v for k, v in body.items() if v is not None}, secret,
                      algorithm="HS256")


def test_a_valid_token_is_taken() -> None:
    claims = verify_app_jwt(settings(), app_jwt())
    assert claims["aud"] == AUD


def test_the_installation_can_be_pinned() -> None:
    assert verify_app_jwt(settings(sidebar_installation_id=987), app_jwt())
    with pytest.raises(SidebarRefused, match="installation"):
        verify_app_jwt(settings(sidebar_installation_id=988), app_jwt())


def test_a_bad_signature_is_refused() -> None:
    with pytest.raises(SidebarRefused, match="not valid"):
        verify_app_jwt(settings(), app_jwt(secret="someone-else-0123456789abcdef0123"))


def test_an_expired_token_is_refused() -> None:
    old = int(time.time()) - 3600
    with pytest.raises(SidebarRefused, match="expired"):
        verify_app_jwt(settings(), app_jwt(iat=old, exp=old + 300))


@pytest.mark.parametrize("aud", ["https://evil.zendesk.com/api/v2/apps/installations/987.json",
                                 "https://acme.zendesk.com/api/v2/users/1.json", None])
def test_a_wrong_audience_is_refused(aud: str | None) -> None:
    with pytest.raises(SidebarRefused):
        verify_app_jwt(settings(), app_jwt(aud=aud))


def test_a_wrong_issuer_is_refused() -> None:
    with pytest.raises(SidebarRefused):
        verify_app_jwt(settings(), app_jwt(iss="evil.zendesk.com"))


def test_no_token_or_no_secret_is_refused() -> None:
    with pytest.raises(SidebarRefused):
        verify_app_jwt(settings(), None)
    with pytest.raises(SidebarRefused, match="not set up"):
        verify_app_jwt(ZendeskSettings(subdomain="acme"), app_jwt())


def test_the_none_algorithm_is_refused() -> None:
    unsigned = jwt.encode({"iss": "acme.zendesk.com", "aud": AUD,
                           "exp": int(time.time()) + 300}, None, algorithm="none")
    with pytest.raises(SidebarRefused):
        verify_app_jwt(settings(), unsigned)


def _png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def check_package(data: bytes, hub_url: str) -> dict[str, Any]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = set(archive.namelist())
        assert {"manifest.json", "assets/iframe.html", "assets/logo.png",
                "assets/logo-small.png", "translations/en.json"} <= names
        manifest = json.loads(archive.read("manifest.json"))
        assert _png_size(archive.read("assets/logo.png")) == (320, 320)
        assert _png_size(archive.read("assets/logo-small.png")) == (128, 128)
        translations = json.loads(archive.read("translations/en.json"))
    for key in ("name", "author", "defaultLocale", "location", "version", "frameworkVersion",
                "signedUrls", "parameters"):
        assert key in manifest, key
    assert manifest["frameworkVersion"] == "2.0" and manifest["signedUrls"] is True
    assert {"name", "email", "url"} <= set(manifest["author"])
    sidebar = manifest["location"]["support"]["ticket_sidebar"]
    assert sidebar == {"url": f"{hub_url}/zendesk/sidebar", "flexible": True}
    [secret] = [p for p in manifest["parameters"] if p["name"] == "shared_secret"]
    assert secret["secure"] is True
    assert translations["app"]["name"] and "shared_secret" in translations["app"]["parameters"]
    return manifest


def test_the_package_has_what_zendesk_expects() -> None:
    check_package(build_package("https://hub.example.test/", "Acme", "it@acme.test"),
                  "https://hub.example.test")


def test_the_command_writes_the_zip(tmp_path: Any) -> None:
    output = tmp_path / "app.zip"
    result = CliRunner().invoke(main, ["zendesk", "app-package", "-o", str(output),
                                       "--url", "https://hub.example.test",
                                       "--author-email", "it@acme.test",
                                       "--data-dir", str(tmp_path / "var")])
    assert result.exit_code == 0, result.output
    manifest = check_package(output.read_bytes(), "https://hub.example.test")
    assert manifest["author"]["email"] == "it@acme.test"


def test_the_command_wants_an_https_hub(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REPLAYHUB_PUBLIC_URL", raising=False)
    monkeypatch.delenv("REPLAYHUB_CONFIG", raising=False)
    result = CliRunner().invoke(main, ["zendesk", "app-package", "-o", str(tmp_path / "a.zip"),
                                       "--data-dir", str(tmp_path / "var")])
    assert result.exit_code != 0 and "https" in result.output
