"""Hatch build hook: build the browser bundles with npm when they are missing."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

BUNDLES = ("src/replayhub/web/static/sdk/replayhub.js",
           "src/replayhub/web/static/player/rrweb-player.js",
           "src/replayhub/web/static/render/rrweb.js")


class BrowserBundleHook(BuildHookInterface):  # type: ignore[type-arg]
    """Runs `npm ci` and `npm run build` before a wheel or editable install, if needed."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        root = Path(self.root)
        if all((root / bundle).is_file() for bundle in BUNDLES):
            return
        npm = shutil.which("npm")
        if npm is None or not (root / "package.json").is_file():
            self.app.display_warning(
                "replayhub: browser bundles are missing and npm is not available; the hub "
                "will answer 503 for /sdk/replayhub.js until `npm ci && npm run build`")
            return
        self.app.display_info("replayhub: building the browser bundles with npm")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=root,
                       check=True)
        subprocess.run([npm, "run", "build"], cwd=root, check=True)
