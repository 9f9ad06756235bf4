"""The extract operator's resume step and its in-worker fallback, without Airflow's scheduler."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bolsync.offers import extract, tasks
from bolsync.offers.trigger import OfferExportTrigger

CSV = "offerId,ean,newColumn\no-1,871,x\n"


class FakeHook:
    def __init__(self, conn_id: str) -> None:
        from bolsync_provider.metrics import ApiMetrics

        self.metrics = ApiMetrics()
        self.retailer_id = "R1"

    def request_offer_export(self) -> dict:
        return {"processStatusId": "p-1", "status": "PENDING"}

    def download_offer_export(self, report_id: str) -> str:
        assert report_id == "rep-1"
        self.metrics.add(api_calls=1)
        return CSV


@pytest.fixture
def operator(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tasks.OffersExtractOperator:
    monkeypatch.setattr(tasks, "BolRetailerHook", FakeHook)
    monkeypatch.setattr(tasks, "audited", lambda *args, **kwargs: contextlib.nullcontext())
    monkeypatch.setattr(tasks, "warehouse_location", lambda: tmp_path / "w.duckdb")
    monkeypatch.setattr(tasks.Variable, "get", lambda key, default=None: default)
    return tasks.OffersExtractOperator(task_id="extract", conn_id="bol_x", poll_interval=0.01, deferrable=False)


def _context(tmp_path: Path, end: datetime) -> dict:
    class Dag:
        dag_id = "bol_offers_daily"

    return {
        "data_interval_start": end - timedelta(days=1),
        "data_interval_end": end,
        "params": {},
        "dag": Dag(),
        "run_id": "manual__x",
    }


def test_resume_downloads_and_stages_the_file(operator, tmp_path: Path) -> None:
    carry = {
        "conn_id": "bol_x",
        "retailer_id": "R1",
        "window": ["2026-11-26T00:00:00+00:00", "2026-11-27T00:00:00+00:00"],
        "staging_file": str(tmp_path / "s" / extract.EXPORT_FILE),
        "api": {"api_calls": 1},
    }
    result = operator.execute_complete({}, {"status": "SUCCESS", "report_id": "rep-1", "carry": carry})
    assert result["source_rows"] == 1
    assert Path(result["staging_file"]).read_text() == CSV
    assert result["api"]["api_calls"] == 2  # the export request before the deferral, and the download


@pytest.mark.parametrize("status", ["FAILURE", "TIMEOUT", "EXPIRED", "STILL_PENDING"])
def test_resume_after_a_failed_export_raises_bols_reason(operator, status: str) -> None:
    carry = {"conn_id": "bol_x", "retailer_id": "R1", "window": ["2026-11-26T00:00:00", "2026-11-27T00:00:00"]}
    event = {"status": status, "message": f"bol ended the offer export with {status}: reason", "carry": carry}
    with pytest.raises(tasks.OfferExportFailed, match=f"with {status}: reason"):
        operator.execute_complete({}, event)


def test_without_deferral_the_operator_polls_in_the_worker(operator, tmp_path: Path, monkeypatch) -> None:
    polls = []

    def fake_run(self):
        polls.append(self.process_status_id)
        yield self._event("SUCCESS", report_id="rep-1")

    monkeypatch.setattr(OfferExportTrigger, "run", fake_run)

    async def first(trigger):
        for event in trigger.run():
            return event
        return None

    monkeypatch.setattr(tasks, "first_event", first)
    result = operator.execute(_context(tmp_path, datetime.now(UTC)))
    assert polls == ["p-1"]
    assert result["source"] == "export"
    assert result["source_rows"] == 1


def test_a_past_day_changes_nothing(operator, tmp_path: Path) -> None:
    result = operator.execute(_context(tmp_path, datetime.now(UTC) - timedelta(days=2)))
    assert "bol keeps no offer history" in result["skipped"]
