"""The one config reader: every setting typed, validated, and renamed ones reported."""

from __future__ import annotations

import pytest

from bolsync.runs import config
from bolsync.runs.config import resolve_accounts
from bolsync_provider.errors import BolConfigError


def test_default_variable_and_conf_precedence() -> None:
    assert resolve_accounts(None, None) == ["bol_retailer_default"]
    assert resolve_accounts({}, '["a", "b", "a"]') == ["a", "b"]
    assert resolve_accounts({}, "a, b") == ["a", "b"]
    assert resolve_accounts({"accounts": ["c"]}, '["a"]') == ["c"]
    assert resolve_accounts({"accounts": "c"}, None) == ["c"]


@pytest.mark.parametrize("bad", [[], [""], [1], {"a": 1}])
def test_bad_account_lists_are_explained(bad: object) -> None:
    with pytest.raises(BolConfigError, match="non-empty list of bol_retailer connection ids"):
        resolve_accounts({"accounts": bad}, None)


@pytest.mark.parametrize(("raw", "hours"), [(None, 26.0), ("", 26.0), ("12", 12.0), ("1.5", 1.5)])
def test_stale_after_hours(raw: str | None, hours: float) -> None:
    assert config.stale_after_hours(raw, read=False) == hours


@pytest.mark.parametrize("raw", ["0", "0.5", "-3", "nan", "inf", "x", "100000"])
def test_bad_stale_after_hours_names_the_variable_and_the_range(raw: str) -> None:
    with pytest.raises(BolConfigError, match=r"Variable bolsync_stale_after_hours must be a number from 1 to 2208"):
        config.stale_after_hours(raw, read=False)


def test_a_retired_variable_is_reported_with_its_replacement(monkeypatch, caplog) -> None:
    monkeypatch.setenv("AIRFLOW_VAR_BOLSYNC_FRESHNESS_HOURS", "48")
    with caplog.at_level("WARNING"):
        assert config.stale_after_hours() == 26.0
    assert "Variable bolsync_freshness_hours is no longer read; use Variable bolsync_stale_after_hours" in caplog.text


def test_offers_source_and_poll_seconds(monkeypatch) -> None:
    assert config.resolve_offers_source({}, None) == "export"
    assert config.resolve_offers_source({"source": "v11"}, "export") == "v11"
    with pytest.raises(BolConfigError, match="Variable 'bolsync_offers_source' to 'export'"):
        config.resolve_offers_source({}, "csv")
    monkeypatch.setenv("AIRFLOW_VAR_BOLSYNC_OFFERS_POLL_SECONDS", "0")
    with pytest.raises(BolConfigError, match=r"Variable bolsync_offers_poll_seconds must be a number from 0\.1 to 600"):
        config.offers_poll_seconds()
