"""A long wait under a real scheduler: ``airflow standalone`` (LocalExecutor) with one ``bol_api`` slot.

Both demo accounts' first order-list request gets a 429 asking for 60 s, longer than a task may hold its
worker (``max_worker_wait_seconds`` = 2). With one pool slot the two extracts can only run one at a time:
both are seen UP_FOR_RESCHEDULE together only if the first one gave its slot back while it waited. Both then
resume in their first try and the run succeeds. ``dag.test`` cannot show this: it ignores pools.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests

from bolsync_demo.api import TERMINAL_STATES, iso
from tests.browser.airflow_stack import running_airflow
from tests.cluster.backfill import AMSTERDAM
from tests.support.airflow_env import query

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

DAG_ID = "bol_orders_daily"
SYNC = "sync_account.sync"
#: The audit row of its extract step.
EXTRACT = "sync_account.extract"
ACCOUNTS = {"bol_retailer_default": "demo-client-a", "bol_retailer_shop_b": "demo-client-b"}


def test_a_rescheduled_extract_gives_its_pool_slot_back_while_it_waits(tmp_path: Path) -> None:
    with running_airflow(tmp_path, AIRFLOW__BOLSYNC__MAX_WORKER_WAIT_SECONDS="2") as airflow:
        client = airflow.client
        client.request(
            "PATCH", "/pools/bol_api", "shrink bol_api", json={"pool": "bol_api", "slots": 1, "include_deferred": False}
        )
        for client_id in ACCOUNTS.values():
            rule = {"kind": "burst_429", "client_id": client_id, "path_prefix": "/retailer/orders", "seconds": 60}
            requests.post(f"{airflow.emulator_url}/_emulator/faults", json=rule, timeout=10).raise_for_status()
        today = datetime.now(AMSTERDAM).date()
        day = datetime.combine(today - timedelta(days=1), datetime.min.time(), AMSTERDAM)
        client.create_backfill(
            {
                "dag_id": DAG_ID,
                "from_date": iso(day),
                "to_date": iso(day),
                "reprocess_behavior": "completed",
                "max_active_runs": 1,
                "dag_run_conf": {"accounts": list(ACCOUNTS)},
            }
        )
        client.set_paused(DAG_ID, False)
        together = False
        deadline = time.monotonic() + 600
        while True:
            runs = client.dag_runs(DAG_ID, logical_date_gte=iso(day), logical_date_lte=iso(day))
            for run in runs:
                extracts = [ti for ti in client.task_instances(DAG_ID, run["dag_run_id"]) if ti["task_id"] == SYNC]
                waiting = [ti for ti in extracts if ti["state"] == "up_for_reschedule"]
                together = together or len(waiting) == len(ACCOUNTS)
            if runs and all(run["state"] in TERMINAL_STATES for run in runs):
                break
            assert time.monotonic() < deadline, airflow.states(runs)
            time.sleep(0.5)
        client.set_paused(DAG_ID, True)
        [run] = runs
        extracts = [ti for ti in client.task_instances(DAG_ID, run["dag_run_id"]) if ti["task_id"] == SYNC]
        assert run["state"] == "success", airflow.states(runs)
        assert together, "the two extracts never waited at the same time: the first kept its slot"
        assert sorted((ti["state"], ti["try_number"]) for ti in extracts) == [("success", 1), ("success", 1)]
        audit = query(airflow.warehouse, "SELECT try_number, status FROM bol.sync_runs WHERE task_id = ?", [EXTRACT])
        assert sorted(audit) == [(1, "success"), (1, "success")]
