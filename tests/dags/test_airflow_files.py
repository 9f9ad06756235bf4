"""The pools and Variables shipped as files (``airflow pools import`` / ``airflow variables import``) match the code."""

from __future__ import annotations

import json
from pathlib import Path

from bolsync.runs import config
from bolsync.runs.defaults import POOLS

FILES = Path(__file__).resolve().parents[2] / "include" / "airflow"


def test_the_pools_file_holds_every_pool_the_dags_use() -> None:
    pools = json.loads((FILES / "pools.json").read_text())
    assert set(pools) == set(POOLS)
    assert pools["bol_warehouse"]["slots"] == 1  # one DuckDB writer
    assert all(pool["slots"] >= 1 and pool["description"].startswith("bolsync:") for pool in pools.values())


def test_the_variables_file_holds_valid_defaults() -> None:
    variables = json.loads((FILES / "variables.json").read_text())
    assert config.resolve_accounts({}, variables[config.ACCOUNTS_VARIABLE]) == list(config.DEFAULT_ACCOUNTS)
    assert (
        config.stale_after_hours(variables[config.STALE_AFTER_VARIABLE], read=False) == config.DEFAULT_STALE_AFTER_HOURS
    )
    assert config.resolve_offers_source({}, variables[config.OFFERS_SOURCE_VARIABLE]) == config.DEFAULT_OFFERS_SOURCE
    assert float(variables[config.OFFERS_POLL_VARIABLE]) == config.DEFAULT_OFFERS_POLL_SECONDS
    assert not set(variables) & set(config.RETIRED_VARIABLES)
