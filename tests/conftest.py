"""Suite-wide fixtures and the rules for tests that need real services.

- ``postgres`` tests run only on PostgreSQL (DATABASE_URL); on SQLite they are deselected.
- ``redis`` tests need a real broker (REDIS_URL); without it they are deselected.
- ``e2e`` browser tests skip, with the reason, when no Chromium is found — except under
  CI=true, where a missing browser, database or broker fails the run instead.
"""

from __future__ import annotations

import os
import shutil

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API beside live_server

CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _on_postgres() -> bool:
    from django.conf import settings

    return settings.DATABASES["default"]["ENGINE"].endswith("postgresql")


def pytest_collection_modifyitems(config, items):
    keep, dropped = [], []
    has_redis = bool(os.environ.get("REDIS_URL"))
    for item in items:
        if (item.get_closest_marker("postgres") and not _on_postgres()) or (
            item.get_closest_marker("redis") and not has_redis
        ):
            dropped.append(item)
        else:
            keep.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter:
            reporter.write_line(
                f"{len(dropped)} tests need PostgreSQL (DATABASE_URL) or Redis (REDIS_URL) "
                "and are deselected; `make test` with both set runs them."
            )


def pytest_runtest_setup(item):
    if item.get_closest_marker("e2e") and not CHROMIUM:
        if CI:
            pytest.fail("CI=true but no Chromium found: install Debian's chromium (see .ci/run).")
        pytest.skip("no Chromium found: install Debian's chromium (or set CHROMIUM_PATH) to run browser tests")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(autouse=True)
def _media_and_mail(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.EMAIL_FILE_PATH = str(tmp_path / "mail")


@pytest.fixture(autouse=True)
def _clear_axes_cache():
    from django.core.cache import cache

    cache.clear()
