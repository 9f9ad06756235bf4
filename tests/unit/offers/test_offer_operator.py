"""The extract operator's resume step and its in-worker fallback, without Airflow's scheduler."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bolsync.offers import extract, extract_steps, tasks
from bolsync.runs import config
from bolsync.warehouse.connection import as_target
from bolsync_provider.triggers.offer_export import OfferExportTrigger

CSV = "offerId,ean,newColumn\no-1,871,x\n"


class FakeHook:
    def __init__(self, conn_id: str) -> None:
        from bolsync_provider.transport.metrics import ApiMetrics

        self.metrics = ApiMetrics()
        self.bol_conn_id = conn_id
        self.response_sink = None

    def get_retailer_id(self) -> str:
        return "R1"

    def request_offer_export(self) -> dict:
        return {"processStatusId": "p-1", "status": "PENDING"}

    def download_offer_export(self, report_id: str) -> str:
        assert report_id == "rep-1"
        self.metrics.add(api_calls=1)
        return CSV


@pytest.fixture
def operator(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tasks.OffersExtractOperator:
    monkeypatch.setattr(extract_steps, "SyncHook", FakeHook)
    monkeypatch.setattr(extract_steps, "audited", lambda *args, **kwargs: contextlib.nullcontext())
    monkeypatch.setattr(extract_steps, "warehouse_target", lambda: as_target(tmp_path / "w.duckdb"))
    monkeypatch.setattr(config, "get_variable", lambda key: None)
    return tasks.OffersExtractOperator(task_id="extract", conn_id="bol_x", poll_interval=0.01, deferrable=False)


def _context(tmp_path: Path, end: datetime | None = None) -> dict:
    class Dag:
        dag_id = "bol_offers_daily"

    class Ti:
        try_number = 1

    end = end or datetime(2026, 11, 27, tzinfo=UTC)
    return {
        "data_interval_start": end - timedelta(days=1),
        "data_interval_end": end,
        "params": {},
        "dag": Dag(),
        "run_id": "manual__x",
        "ti": Ti(),
    }


def _carry(**more: object) -> dict:
    return {
        "conn_id": "bol_x",
        "retailer_id": "R1",
        "window_start": "2026-11-26T00:00:00+00:00",
        "window_end": "2026-11-27T00:00:00+00:00",
        "snapshot_date": "2026-11-26",
        "source": "export",
        "full": True,
        **more,
    }


def test_resume_downloads_and_stages_the_file(operator, tmp_path: Path) -> None:
    carry = _carry(api={"api_calls": 1})
    result = operator.execute_complete(_context(tmp_path), {"status": "SUCCESS", "report_id": "rep-1", "carry": carry})
    assert result["source_rows"] == 1
    staged = Path(result["staging_file"])
    assert staged.name == extract.EXPORT_FILE
    assert staged.read_text() == CSV
    assert staged.stat().st_mode & 0o777 == 0o600  # owner-only, like every staged file
    assert staged.parent.parent.parts[-3:] == ("bol_offers_daily", "manual__x", "bol_x")  # this try's folder
    assert staged.parent.name.endswith("-try1-" + staged.parent.name.rsplit("-", 1)[1])
    assert result["api"]["api_calls"] == 2  # the export request before the deferral, and the download


@pytest.mark.parametrize("status", ["FAILURE", "TIMEOUT", "EXPIRED", "STILL_PENDING"])
def test_resume_after_a_failed_export_raises_bols_reason(operator, tmp_path: Path, status: str) -> None:
    event = {"status": status, "message": f"bol ended the offer export with {status}: reason", "carry": _carry()}
    with pytest.raises(extract_steps.OfferExportFailed, match=f"with {status}: reason"):
        operator.execute_complete(_context(tmp_path), event)


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

    monkeypatch.setattr(extract_steps, "first_event", first)
    result = operator.execute(_context(tmp_path, datetime.now(UTC)))
    assert polls == ["p-1"]
    assert result["source"] == "export"
    assert result["source_rows"] == 1


def test_a_past_day_changes_nothing(operator, tmp_path: Path) -> None:
    result = operator.execute(_context(tmp_path, datetime.now(UTC) - timedelta(days=2)))
    assert "bol keeps no offer history" in result["skipped"]
