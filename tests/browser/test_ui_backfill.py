"""The headline feature in a real browser: backfill order history from the Airflow UI.

A user logs in, opens ``bol_orders_daily``, Trigger -> Backfill, picks two past days (in Europe/Amsterdam,
the DAG's timezone) and runs it: the runs show in the UI and the warehouse gains exactly the order items
whose latest change fell on those days, as the emulator's ground truth has them. A backfill older than bol's
3 months of history fails, and the UI says why: in the failed task's log and in the DAG run's note.
"""

from __future__ import annotations

import os
import re
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from dateutil.relativedelta import relativedelta

from bolsync.runs.windows import AMSTERDAM, oldest_allowed_date
from bolsync_demo.cli import ACCOUNTS, DAILY
from tests.browser.airflow_stack import Airflow
from tests.support.airflow_env import query

if TYPE_CHECKING:
    from tests.browser.ui import AirflowUi

pytestmark = pytest.mark.browser

#: A failure bound, not the expected time (runs take seconds on an idle machine, minutes on a crowded one).
RUN_TIMEOUT = float(os.environ.get("BOLSYNC_BROWSER_RUN_TIMEOUT", "600"))


def amsterdam_today() -> date:
    """Today in Amsterdam, waiting out the last minutes of a day (the scheduler starts a run at midnight)."""
    now = datetime.now(AMSTERDAM)
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), AMSTERDAM)
    if midnight - now < timedelta(minutes=6):
        time.sleep((midnight - now).total_seconds() + 30)
    return datetime.now(AMSTERDAM).date()


def amsterdam_midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), AMSTERDAM)


def day_of(run: dict[str, Any]) -> date:
    """The Amsterdam day a daily run covers (its data interval)."""
    start = datetime.fromisoformat(run["data_interval_start"]).astimezone(AMSTERDAM)
    end = datetime.fromisoformat(run["data_interval_end"]).astimezone(AMSTERDAM)
    assert end - start in (timedelta(hours=23), timedelta(hours=24), timedelta(hours=25)), run
    assert start.time() == datetime.min.time(), run
    return start.date()


def warehouse_keys(airflow: Airflow, table: str, key: str) -> set[tuple[str, str]]:
    rows = query(airflow.warehouse, f"SELECT retailer_id, {key} FROM bol.{table}")
    return {(str(retailer), str(value)) for retailer, value in rows}


def truth_keys(airflow: Airflow, days: set[date]) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """(retailer, order) of every order with an item whose latest change fell on ``days``, and (retailer, item)
    of every item of those orders (the sync fetches a new order in full, with all its items)."""
    rows = [row for conn_id in ACCOUNTS for row in airflow.truth(conn_id)]
    orders = {
        (row["retailer_id"], row["order_id"])
        for row in rows
        if datetime.fromisoformat(row["latest_changed_at"]).astimezone(AMSTERDAM).date() in days
    }
    items = {
        (row["retailer_id"], row["order_item_id"]) for row in rows if (row["retailer_id"], row["order_id"]) in orders
    }
    return orders, items


def created_backfill(airflow: Airflow, first: date, last: date) -> None:
    """The newest backfill of the DAG spans ``first`` .. ``last`` (Amsterdam midnights)."""
    backfills = airflow.client.request("GET", "/backfills", "list backfills", params={"dag_id": DAILY})["backfills"]
    assert backfills, "the dialog created no backfill"
    newest = max(backfills, key=lambda backfill: int(backfill["id"]))
    assert datetime.fromisoformat(newest["from_date"]) == amsterdam_midnight(first)
    assert datetime.fromisoformat(newest["to_date"]) == amsterdam_midnight(last)


def backfill_completed(airflow: Airflow, timeout: float = 120.0) -> None:
    """The scheduler marks the DAG's backfill complete once its runs have finished."""
    deadline = time.monotonic() + timeout
    while active := airflow.client.active_backfills(DAILY):
        assert time.monotonic() < deadline, f"backfill not marked complete after {timeout:.0f}s: {active}"
        time.sleep(1)


def no_active_backfill(airflow: Airflow, timeout: float = 60.0) -> None:
    """Only one backfill per DAG may be active: wait for the scheduler to complete the last one, else cancel it."""
    deadline = time.monotonic() + timeout
    while active := airflow.client.active_backfills(DAILY):
        if time.monotonic() > deadline:
            for backfill in active:
                airflow.client.cancel_backfill(int(backfill["id"]))
            return
        time.sleep(1)


def test_backfill_from_the_ui_loads_exactly_those_days(ui: AirflowUi, airflow: Airflow, screenshots: Path) -> None:
    from playwright.sync_api import expect

    today = amsterdam_today()
    # Not yesterday: its scheduled run is due once the dialog unpauses the DAG, and would collide with the backfill's.
    first, last = today - timedelta(days=3), today - timedelta(days=2)
    days = {first, last}
    no_active_backfill(airflow)

    dialog = ui.open_backfill_dialog(DAILY)
    ui.fill_backfill(dialog, first, last, max_active_runs=2)
    ui.page.screenshot(path=screenshots / "backfill-dialog.png")
    ui.run_backfill(dialog)

    created_backfill(airflow, first, last)

    runs = airflow.wait_for_runs(
        DAILY,
        RUN_TIMEOUT,
        logical_date_gte=amsterdam_midnight(first).isoformat(),
        logical_date_lte=amsterdam_midnight(last).isoformat(),
    )
    assert sorted(day_of(run) for run in runs) == sorted(days)
    assert {run["state"] for run in runs} == {"success"}, [(r["dag_run_id"], r["state"]) for r in runs]

    backfill_completed(airflow)

    ui.open_runs(DAILY)
    expect(ui.page.get_by_text(re.compile(r"^\d+ Dag Runs$"))).to_be_visible()  # with the scheduler's run of yesterday
    expect(ui.page.get_by_text("Backfill in progress")).to_be_hidden()
    for run in runs:
        row = ui.page.get_by_role("row").filter(has_text=run["dag_run_id"])
        expect(row).to_contain_text("Success")
        expect(row).to_contain_text("Backfill" if run["run_type"] == "backfill" else run["run_type"].title())
        expect(ui.grid_run_bar(DAILY, run["dag_run_id"])).to_be_visible()
    ui.expand_grid()
    ui.page.screenshot(path=screenshots / "backfill-runs.png")

    # The dialog unpaused the DAG, so the scheduler may have run yesterday too: the warehouse holds exactly the
    # days of the runs that succeeded, the backfilled ones among them.
    every = airflow.wait_for_runs(DAILY, RUN_TIMEOUT)
    loaded = {day_of(run) for run in every if run["state"] == "success"}
    assert days <= loaded
    orders, items = truth_keys(airflow, loaded)
    assert orders, "the emulator has no order changes on those days"
    assert warehouse_keys(airflow, "orders", "order_id") == orders
    assert warehouse_keys(airflow, "order_items", "order_item_id") == items


def test_a_backfill_beyond_bols_history_says_why_in_the_ui(ui: AirflowUi, airflow: Airflow) -> None:
    from playwright.sync_api import expect

    today = amsterdam_today()
    old = today - relativedelta(months=4)
    oldest = oldest_allowed_date(datetime.now(UTC))
    why = "bol keeps only 3 months of order history"
    what_to_do = f"Start the backfill on {oldest} or later."
    no_active_backfill(airflow)

    dialog = ui.open_backfill_dialog(DAILY)
    ui.fill_backfill(dialog, old, old, max_active_runs=1)
    ui.run_backfill(dialog)
    created_backfill(airflow, old, old)

    midnight = amsterdam_midnight(old).isoformat()
    (run,) = airflow.wait_for_runs(DAILY, RUN_TIMEOUT, logical_date_gte=midnight, logical_date_lte=midnight)
    assert run["state"] == "failed"
    failed = [ti for ti in airflow.client.task_instances(DAILY, run["dag_run_id"]) if ti["state"] == "failed"]
    assert {ti["task_id"] for ti in failed} == {"sync_account.sync"}
    assert all(ti["try_number"] == 1 for ti in failed), "a window beyond bol's history must not be retried"

    ui.open_task_log(DAILY, run["dag_run_id"], "sync_account.sync", failed[0]["map_index"])
    error = ui.page.get_by_text(re.compile(f"AirflowFailException: .*{why}"))
    expect(error.first).to_be_visible()
    expect(error.first).to_contain_text(what_to_do)

    stored = airflow.client.request("GET", f"/dags/{DAILY}/dagRuns/{run['dag_run_id']}", "get the run")
    assert what_to_do in (stored["note"] or ""), "the failing task did not say why in the run's note (run_note)"
    ui.open_run(DAILY, run["dag_run_id"])
    expect(ui.page.get_by_text(why).first).to_be_visible()
    note = ui.open_run_note()
    expect(note).to_contain_text(why)
    expect(note.get_by_text(what_to_do).first).to_be_visible()  # one line per account
