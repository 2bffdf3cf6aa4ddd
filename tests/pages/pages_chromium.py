"""Which headless Chromium the page tests use, and what they do without one.

Chromium: scripts/ensure-chromium.sh installs it (``CHROMIUM`` names another). Without one the
tests that need it skip, unless STOPSMS_REQUIRE_BROWSER=1 (CI): then they fail.
"""

from __future__ import annotations

import os
import shutil

import pytest

# Read at import: the root conftest removes every STOPSMS_* variable before each test.
REQUIRED = os.environ.get("STOPSMS_REQUIRE_BROWSER") == "1"
NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_browser() -> str | None:
    """The browser scripts/ensure-chromium.sh would find (``CHROMIUM`` first)."""
    for name in (os.environ.get("CHROMIUM"), *NAMES):
        if name and (found := shutil.which(name)):
            return found
    return None


BROWSER = find_browser()
needs_browser = pytest.mark.skipif(
    BROWSER is None and not REQUIRED,
    reason="no Chromium: run scripts/ensure-chromium.sh (STOPSMS_REQUIRE_BROWSER=1 fails)",
)


def browser() -> str:
    """The browser's path; the test fails when CI requires one and there is none."""
    if BROWSER is None:
        pytest.fail(
            "STOPSMS_REQUIRE_BROWSER=1 and no Chromium found: run scripts/ensure-chromium.sh"
        )
    return BROWSER
