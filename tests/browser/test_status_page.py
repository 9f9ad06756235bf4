"""The connection form and the bolsync status page in a real browser.

A user adds a ``bol_retailer`` connection through Admin -> Connections and presses Test: connected as the
emulator's retailer; with a wrong secret, the answer says the credentials are wrong. Then, with the daily DAG run
for some days but not one, the bolsync page (from the navigation) shows that day as a hole of every account; its
link opens the DAG, the Backfill dialog fills exactly that day, and the page shows the day synced.
"""

from __future__ import annotations

import re
import time
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from bolsync_demo.api import iso
from bolsync_demo.cli import ACCOUNTS, DAILY, DEMO_CREDENTIALS
from tests.browser.airflow_stack import Airflow
from tests.browser.test_ui_backfill import (
    RUN_TIMEOUT,
    amsterdam_midnight,
    amsterdam_today,
    backfill_completed,
    created_backfill,
    day_of,
    no_active_backfill,
)

if TYPE_CHECKING:
    from playwright.sync_api import FrameLocator, Locator

    from tests.browser.ui import AirflowUi

pytestmark = pytest.mark.browser

FORM_CONN = "bol_retailer_form"
WRONG_SECRET = "not-the-secret"
#: The page keeps a summary for 30 s; a failure bound for the day to turn synced on reload.
PAGE_REFRESH_TIMEOUT = 180.0


def rest_backfill(airflow: Airflow, first: date, last: date) -> list[dict[str, Any]]:
    """Backfill ``first`` .. ``last`` through the REST API and wait for its runs and for the backfill to complete."""
    no_active_backfill(airflow)
    body = {
        "dag_id": DAILY,
        "from_date": iso(amsterdam_midnight(first)),
        "to_date": iso(amsterdam_midnight(last)),
        "reprocess_behavior": "completed",
        "max_active_runs": 2,
        "run_backwards": False,
        "dag_run_conf": {},
    }
    airflow.client.create_backfill(body)
    runs = airflow.wait_for_runs(
        DAILY,
        RUN_TIMEOUT,
        logical_date_gte=iso(amsterdam_midnight(first)),
        logical_date_lte=iso(amsterdam_midnight(last)),
    )
    assert {run["state"] for run in runs} == {"success"}, airflow.states(runs)
    backfill_completed(airflow)
    return runs


@pytest.fixture(scope="module")
def hole(airflow: Airflow) -> date:
    """The daily DAG synced four days ending two days ago but the second to last: a hole of every account.

    Not yesterday: the scheduler's run for it is due once the DAG is unpaused and would collide with a backfill's.
    """
    today = amsterdam_today()
    airflow.client.set_paused(DAILY, False)
    rest_backfill(airflow, today - timedelta(days=5), today - timedelta(days=4))
    rest_backfill(airflow, today - timedelta(days=2), today - timedelta(days=2))
    return today - timedelta(days=3)


def toast(ui: AirflowUi, title: str) -> Locator:
    """The newest toast with this title."""
    return ui.page.locator("[data-scope=toast][data-part=root]").filter(has_text=title).last


def test_add_a_connection_in_the_form_and_test_it(ui: AirflowUi, airflow: Airflow, screenshots: Path) -> None:
    from playwright.sync_api import expect

    client_id, secret = DEMO_CREDENTIALS["bol_retailer_default"]
    retailer = airflow.retailer_ids()["bol_retailer_default"]

    ui.open_connections()
    dialog = ui.add_connection(FORM_CONN, "bol.com Retailer API")
    dialog.get_by_label("Client ID").fill(client_id)
    dialog.get_by_label("Client Secret").fill(secret)
    ui.open_extra_fields(dialog)
    ui.choose(dialog.locator("#element_environment"), "production")
    dialog.locator("[name=element_api_url]").fill(airflow.emulator_url)
    dialog.locator("[name=element_login_url]").fill(f"{airflow.emulator_url}/token")
    ui.page.screenshot(path=screenshots / "connection-form.png")
    ui.save_connection(dialog)

    stored = airflow.client.request("GET", f"/connections/{FORM_CONN}", "get the connection")
    assert stored["conn_type"] == "bol_retailer"
    assert stored["login"] == client_id
    assert '"environment": "production"' in stored["extra"]
    assert airflow.emulator_url in stored["extra"]

    ui.press_test(FORM_CONN)
    success = toast(ui, "Test Connection Successful")
    expect(success).to_contain_text(f"Connected to bol (production) as retailer {retailer}.")
    ui.page.screenshot(path=screenshots / "connection-test.png")

    dialog = ui.edit_connection(FORM_CONN)
    dialog.get_by_label("Client Secret").fill(WRONG_SECRET)
    ui.save_connection(dialog)
    ui.press_test(FORM_CONN)
    failure = toast(ui, "Test Connection Failed")
    expect(failure).to_contain_text("bol does not accept this Client ID and Client Secret")
    expect(failure).not_to_contain_text(WRONG_SECRET)


def status_frame(ui: AirflowUi) -> FrameLocator:
    """The bolsync page, opened from the navigation (the UI shows it in a frame)."""
    from playwright.sync_api import expect

    ui.page.goto(ui.base_url)
    ui.page.get_by_role("link", name="bolsync").or_(ui.page.get_by_role("button", name="bolsync")).first.click()
    frame = ui.page.frame_locator("iframe").first
    expect(frame.get_by_role("heading", name="bolsync status")).to_be_visible()
    return frame


def day_cell(frame: FrameLocator, conn_id: str, stream: str, day: date, state: str) -> Locator:
    """The calendar cell of ``day`` in the stream's row of the account's section, if it shows ``state``."""
    row = frame.locator(f'section[id="{conn_id}"] tr').filter(has=frame.locator("th", has_text=stream))
    return row.locator(f'span[title="{day.isoformat()}: {state}"]')


def test_a_hole_on_the_status_page_is_filled_from_its_link(
    ui: AirflowUi, airflow: Airflow, hole: date, screenshots: Path
) -> None:
    from playwright.sync_api import expect

    frame = status_frame(ui)
    for conn_id in ACCOUNTS:
        expect(day_cell(frame, conn_id, "orders", hole, "hole")).to_have_count(1)
        for synced in (hole - timedelta(days=1), hole + timedelta(days=1)):
            expect(day_cell(frame, conn_id, "orders", synced, "synced")).to_have_count(1)
    first_account = frame.locator(f'section[id="{ACCOUNTS[0]}"]')
    item = first_account.locator("li").filter(has_text=f"{hole.isoformat()}: a hole")
    expect(item).to_have_count(1)
    expect(item).to_contain_text(f"From {hole.isoformat()} To {hole.isoformat()}")
    ui.page.screenshot(path=screenshots / "status-page.png")

    no_active_backfill(airflow)
    item.get_by_role("link", name=f"Open {DAILY}").click()
    expect(ui.page).to_have_url(re.compile(rf"/dags/{DAILY}(/|\?|$)"))
    dialog = ui.open_backfill_dialog_here(DAILY)
    ui.fill_backfill(dialog, hole, hole, max_active_runs=1)
    ui.run_backfill(dialog)
    created_backfill(airflow, hole, hole)

    midnight = amsterdam_midnight(hole).isoformat()
    (run,) = airflow.wait_for_runs(DAILY, RUN_TIMEOUT, logical_date_gte=midnight, logical_date_lte=midnight)
    assert day_of(run) == hole
    assert run["state"] == "success", airflow.states([run])
    backfill_completed(airflow)

    frame = status_frame(ui)
    deadline = time.monotonic() + PAGE_REFRESH_TIMEOUT
    while day_cell(frame, ACCOUNTS[-1], "orders", hole, "synced").count() == 0:
        assert time.monotonic() < deadline, f"{hole} not shown synced {PAGE_REFRESH_TIMEOUT:.0f}s after its backfill"
        ui.page.wait_for_timeout(2_000)
        frame = status_frame(ui)
    for conn_id in ACCOUNTS:
        expect(day_cell(frame, conn_id, "orders", hole, "synced")).to_have_count(1)
        holes = frame.locator(f'section[id="{conn_id}"] li').filter(has_text=f"{hole.isoformat()}: a hole")
        expect(holes).to_have_count(0)
