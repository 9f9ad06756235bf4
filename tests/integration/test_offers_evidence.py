"""A short full offer list end to end (emulator over HTTP, dag.test, DuckDB): a valid export of 1 of 120 offers
(or a v11 full sweep whose page lost its nextCursor) flags nothing deleted, keeps the day's snapshot whole,
alerts once through a real SMTP server and records the hold; the confirmed run applies the deletions; small
deletions apply as before."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from bolsync.runs.deletion_holds import open_holds
from bolsync.runs.windows import AMSTERDAM
from bolsync.warehouse.connection import WarehouseTarget, connect_warehouse
from tests.integration.conftest import ACCOUNTS
from tests.integration.test_offers_sync import OFFER_LIMITS, assert_matches_truth, truth, world
from tests.support.airflow_env import REPO, bol_connection, query
from tests.support.smtp_sink import SmtpSink

pytestmark = pytest.mark.integration
SHOP = "bol_shop_a"
CLIENT = ACCOUNTS[SHOP].client_id
RETAILER = ACCOUNTS[SHOP].retailer_id


@pytest.fixture(scope="module")
def env(airflow_db, emulator, warehouse) -> Iterator[dict[str, Any]]:
    """The shop with 120 offers, all loaded by one export run; alerts go to a real SMTP server."""
    patch = pytest.MonkeyPatch()
    patch.setenv("AIRFLOW_VAR_BOLSYNC_OFFERS_POLL_SECONDS", "0.2")
    account = ACCOUNTS[SHOP]
    bol_connection(
        SHOP,
        emulator.url,
        account.client_id,
        account.client_secret,
        rate_limit_per_second=200,
        endpoint_rate_limits=OFFER_LIMITS,
    )
    requests.post(f"{emulator.url}/_emulator/config", json={"export_pending_polls": 1}, timeout=10).raise_for_status()
    world(emulator, SHOP, "new_offers", 120 - len(truth(emulator, SHOP)))
    with SmtpSink() as sink:
        sink.use_as_alert_channel()
        assert run_offers() == "success"
        assert live(warehouse) == 120
        yield {"emulator": emulator, "sink": sink}
    emulator.clear_faults()
    patch.undo()


def run_offers(**conf: object) -> str:
    """One bol_offers_daily run for yesterday (Amsterdam) of the shop; its state."""
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(REPO / "dags")).dags["bol_offers_daily"]
    return str(dag.test(logical_date=datetime.now(UTC), run_conf={"accounts": [SHOP], **conf}).state)


def yesterday() -> date:
    return datetime.now(UTC).astimezone(AMSTERDAM).date() - timedelta(days=1)


def live(warehouse: Path | WarehouseTarget) -> int:
    return query(warehouse, "SELECT count(*) FROM bol.offers WHERE retailer_id = ? AND NOT deleted", [RETAILER])[0][0]


def snapshot_size(warehouse: Path | WarehouseTarget) -> int:
    sql = "SELECT count(*) FROM bol.offer_snapshots WHERE retailer_id = ? AND snapshot_date = ?"
    return query(warehouse, sql, [RETAILER, yesterday()])[0][0]


def last_load(warehouse: Path | WarehouseTarget) -> tuple[Any, ...]:
    return query(
        warehouse,
        "SELECT status, offers_listed, offers_deleted, deletions_held, error FROM bol.sync_runs "
        "WHERE task_id = 'sync_account.load' AND conn_id = ? ORDER BY finished_at DESC LIMIT 1",
        [SHOP],
    )[0]


def holds(warehouse: Path | WarehouseTarget) -> list[dict[str, Any]]:
    with connect_warehouse(warehouse) as conn:
        return open_holds(conn, "offers", RETAILER)


def test_an_export_of_one_of_120_offers_flags_nothing_keeps_the_snapshot_and_alerts_once(env, warehouse) -> None:
    sink: SmtpSink = env["sink"]
    sink.clear()
    env["emulator"].fault(kind="short_list", keep=1, client_id=CLIENT)
    assert run_offers() == "success"
    assert live(warehouse) == 120
    assert snapshot_size(warehouse) == 120
    status, listed, deleted, held, error = last_load(warehouse)
    assert (status, listed, deleted, held) == ("success", 1, 0, 119)
    assert "these deletions are held" in error
    assert [(h["live"], h["held"]) for h in holds(warehouse)] == [(120, 119)]
    assert len(sink.messages) == 1
    text = sink.bodies()[0]
    assert "bol's offer export would delete 119 of 120 offers; held until confirmed" in text
    assert "confirm_deletions = true" in text
    assert """airflow dags trigger bol_offers_daily --conf '{"confirm_deletions": true}'""" in text


def test_the_confirmed_run_flags_them_deleted_and_a_complete_export_brings_them_back(env, warehouse) -> None:
    sink: SmtpSink = env["sink"]
    sink.clear()
    env["emulator"].fault(kind="short_list", keep=1, client_id=CLIENT)
    assert run_offers(confirm_deletions=True) == "success"
    assert live(warehouse) == 1
    assert snapshot_size(warehouse) == 1
    assert last_load(warehouse)[2:4] == (119, 0)
    assert holds(warehouse) == []
    assert sink.messages == []
    assert run_offers() == "success"  # bol lists all 120 again: they come back
    assert_matches_truth(warehouse, env["emulator"], SHOP)
    assert snapshot_size(warehouse) == 120


def test_a_v11_full_sweep_cut_short_is_held_too_and_the_older_param_confirms(env, warehouse) -> None:
    sink: SmtpSink = env["sink"]
    sink.clear()
    env["emulator"].fault(kind="short_list", keep=1, client_id=CLIENT)  # the first page: 1 offer, no next cursor
    assert run_offers(source="v11", full_sweep=True) == "success"
    assert live(warehouse) == 120
    assert snapshot_size(warehouse) == 120
    assert last_load(warehouse)[1:4] == (1, 0, 119)
    assert len(sink.messages) == 1
    assert "bol's v11 full sweep would delete 119 of 120 offers" in sink.bodies()[0]
    env["emulator"].fault(kind="short_list", keep=1, client_id=CLIENT)
    assert run_offers(source="v11", full_sweep=True, confirm_empty=True) == "success"
    assert live(warehouse) == 1
    assert run_offers() == "success"
    assert live(warehouse) == 120


def test_deletions_below_the_limits_still_apply(env, warehouse) -> None:
    sink: SmtpSink = env["sink"]
    sink.clear()
    gone = world(env["emulator"], SHOP, "delete_offers", 5)  # 5 of 120
    assert run_offers() == "success"
    assert live(warehouse) == 115
    assert snapshot_size(warehouse) == 115
    deleted = query(warehouse, "SELECT offer_id FROM bol.offers WHERE retailer_id = ? AND deleted", [RETAILER])
    assert sorted(offer_id for (offer_id,) in deleted) == sorted(gone)
    assert last_load(warehouse)[2:5] == (5, 0, None)
    assert sink.messages == []
    assert holds(warehouse) == []
