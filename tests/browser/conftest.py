"""Fixtures of the browser tests: Debian's chromium through pytest-playwright, and a real Airflow.

Without chromium or Playwright (see install.sh) the tests skip on a developer machine and fail under CI=true.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from bolsync_demo.cli import ADMIN_PASSWORD, ADMIN_USER
from tests.browser.airflow_stack import REPO, Airflow, running_airflow
from tests.support.warehouses import temporary_postgres_database

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from tests.browser.ui import AirflowUi

CHROMIUM = Path("/usr/bin/chromium")
#: The DAGs run in Europe/Amsterdam; the UI shows and takes dates in the browser's timezone.
TIMEZONE = "Europe/Amsterdam"
#: Pages of a busy standalone Airflow can take a while; Playwright's default of 5 s is too short.
EXPECT_TIMEOUT_MS = 60_000
HAS_PLAYWRIGHT = importlib.util.find_spec("pytest_playwright") is not None
#: Set to ``docs/img`` to refresh the documentation's screenshots; by default they go to the test's temporary folder.
SCREENSHOT_DIR_ENV = "BOLSYNC_SCREENSHOT_DIR"


def pytest_configure(config: pytest.Config) -> None:
    if HAS_PLAYWRIGHT:
        from playwright.sync_api import expect

        expect.set_options(timeout=EXPECT_TIMEOUT_MS)


def unavailable(reason: str) -> None:
    """Fail under CI=true, skip elsewhere."""
    message = f"{reason}; install it with tests/browser/install.sh"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message)
    pytest.skip(message)


if HAS_PLAYWRIGHT:

    @pytest.fixture(scope="session")
    def browser_type_launch_args(browser_type_launch_args: dict[str, Any], browser_name: str | None) -> dict[str, Any]:
        """Debian's chromium (Playwright cannot download its own browsers here)."""
        if browser_name not in (None, "chromium"):
            return browser_type_launch_args
        if not CHROMIUM.exists():
            unavailable(f"{CHROMIUM} is missing")
        return {**browser_type_launch_args, "executable_path": str(CHROMIUM)}

    @pytest.fixture(scope="session")
    def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
        return {
            **browser_context_args,
            "timezone_id": TIMEZONE,
            "locale": "en-GB",
            "viewport": {"width": 1400, "height": 900},
        }

else:

    @pytest.fixture
    def page() -> None:
        unavailable("playwright and pytest-playwright are not installed")


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Airflow]:
    """The emulator and ``airflow standalone`` (PostgreSQL metadata database, DuckDB warehouse), stopped after."""
    with temporary_postgres_database("bolsync_browser") as url:
        metadata = url.replace("postgresql://", "postgresql+psycopg://", 1)
        with running_airflow(tmp_path_factory.mktemp("stack"), AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=metadata) as stack:
            yield stack


@pytest.fixture
def ui(page: Page, airflow: Airflow) -> AirflowUi:
    """A logged-in admin in a browser whose timezone is Europe/Amsterdam."""
    from tests.browser.ui import AirflowUi

    page.set_default_timeout(EXPECT_TIMEOUT_MS)
    session = AirflowUi(page, airflow.url)
    session.login(ADMIN_USER, ADMIN_PASSWORD)
    return session


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    configured = os.environ.get(SCREENSHOT_DIR_ENV)
    folder = (REPO / configured) if configured else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder
