"""The raw archive: the hook's response sink, owner-only gzip files, personal data, purge, settings, plans."""

from __future__ import annotations

import gzip
import json
import stat
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bolsync.archive.location import MANIFEST_FILE, RESPONSES_FILE, ArchiveLocation, location_of
from bolsync.archive.purge import purge_archive
from bolsync.archive.reader import ArchivedHook, archived_attempts
from bolsync.archive.replay import ReplayError, _details_elsewhere, plan_replay, stream_of
from bolsync.archive.writer import STAMP, ArchiveRun, ResponseArchive
from bolsync.personal.policy import PersonalDataPolicy
from bolsync.runs import config
from bolsync_provider.errors import BolConfigError, BolResponseError
from bolsync_provider.hooks.bol_retailer import ORDER_ENDPOINT, ORDERS_ENDPOINT

RUN = ArchiveRun("bol_orders_daily", "scheduled__2026-11-02T23:00:00+00:00", "bol_shop", 1)
ORDER = {
    "orderId": "O1",
    "shipmentDetails": {"firstName": "Jan", "email": "jan@example.com", "countryCode": "NL"},
    "billingDetails": {"surname": "Jansen"},
    "orderItems": [{"orderItemId": "I1"}],
}
PAGE = {"orders": [{"orderId": "O1", "orderItems": [{"orderItemId": "I1"}]}]}


def _archive(root: Path | str, *, personal: bool = False, run: ArchiveRun = RUN, day: int = 2) -> ResponseArchive:
    """An archived extract of the Amsterdam day 2026-11-<day>: one list page and one order detail."""
    archive = ResponseArchive(location_of(str(root)), run, personal=personal)
    hook = ArchivedHook(
        run.conn_id, "R1", [_line("/retailer/orders", _page_params(1), PAGE), _line("/retailer/orders/O1", {}, ORDER)]
    )
    hook.response_sink = archive
    assert hook.get_orders_page(1) == PAGE["orders"]
    assert hook.get_order("O1")["orderId"] == "O1"
    start = datetime(2026, 11, day - 1, 23, tzinfo=UTC)
    archive.finish(
        retailer_id="R1",
        window_start=start.isoformat(),
        window_end=(start + timedelta(days=1)).isoformat(),
        extracted_at=(start + timedelta(days=1, hours=2)).isoformat(),
    )
    return archive


def _line(path: str, params: dict, body: object) -> dict:
    return {"endpoint": "x", "path": path, "params": params, "body": body, "received_at": "2026-11-03T01:00:00Z"}


def _page_params(page: int) -> dict:
    return {"page": page, "fulfilment-method": "ALL", "status": "ALL"}


def _lines(archive: ResponseArchive) -> list[dict]:
    with gzip.open(Path(archive.folder) / RESPONSES_FILE, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def test_the_hook_hands_every_data_response_to_its_sink_without_personal_data(tmp_path: Path) -> None:
    archive = _archive(tmp_path / "archive")
    page, detail = _lines(archive)
    assert (page["endpoint"], page["params"], page["body"]) == (ORDERS_ENDPOINT, _page_params(1), PAGE)
    assert (detail["endpoint"], detail["path"]) == (ORDER_ENDPOINT, "/retailer/orders/O1")
    assert detail["body"]["shipmentDetails"] == {"countryCode": "NL"}
    assert "billingDetails" not in detail["body"]
    assert datetime.fromisoformat(page["received_at"]).tzinfo is not None
    manifest = json.loads((Path(archive.folder) / MANIFEST_FILE).read_text())
    assert manifest["complete"]
    assert manifest["responses"] == 2
    assert manifest["personal"] is False


def test_an_opted_in_account_keeps_customer_data_owner_only(tmp_path: Path) -> None:
    archive = _archive(tmp_path / "archive", personal=True)
    assert _lines(archive)[1]["body"]["billingDetails"] == {"surname": "Jansen"}
    folder = Path(archive.folder)
    for path in [folder, *folder.parents[: len(folder.relative_to(tmp_path).parts) - 1]]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o700, path
    for path in folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_any_fsspec_url_works(tmp_path: Path) -> None:
    _archive("memory://bolsync-test/archive")
    location = location_of("memory://bolsync-test/archive")
    (attempt,) = archived_attempts(location, RUN.dag_id)
    assert attempt.complete
    assert attempt.retailer_id == "R1"
    assert [r["path"] for r in attempt.responses()] == ["/retailer/orders", "/retailer/orders/O1"]


def test_replay_hook_answers_from_the_archive_and_never_sends(tmp_path: Path) -> None:
    _archive(tmp_path)
    (attempt,) = archived_attempts(location_of(str(tmp_path)), RUN.dag_id)
    hook = ArchivedHook(attempt.conn_id, attempt.retailer_id, attempt.responses())
    assert hook.get_orders_page(1) == PAGE["orders"] == hook.get_orders_page(1)
    with pytest.raises(BolResponseError, match="no response"):
        hook.get_orders_page(2)
    with pytest.raises(BolResponseError, match="does not send"):
        hook.request_offer_export()


def _aged(root: Path, archive: ResponseArchive, days: int) -> None:
    folder = Path(archive.folder)
    stamp = (datetime.now(UTC) - timedelta(days=days)).strftime(STAMP)
    folder.rename(folder.with_name(stamp + folder.name[len(stamp) :]))


def test_purge_keeps_the_retention_and_personal_archives_follow_the_policy(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    runs = {name: ArchiveRun("bol_orders_daily", f"run_{name}", name, 1) for name in ("plain", "opted", "out", "odd")}
    for name, run in runs.items():
        _aged(root, _archive(root, run=run, personal=name != "plain"), days=10)
    _aged(root, _archive(root, run=ArchiveRun("bol_orders_daily", "run_old", "plain", 1)), days=40)
    policies = {"opted": PersonalDataPolicy(True, 30), "out": PersonalDataPolicy(False), "odd": None}
    purged = purge_archive(location_of(str(root)), 30, policies.get, datetime.now(UTC))
    assert sorted(Path(p).parent.name for p in purged.removed) == ["out", "plain"]
    assert purged.failed == []
    assert not (root / "bol_orders_daily" / "run_old").exists()  # the empty run folder goes too
    left = {a.conn_id for a in archived_attempts(location_of(str(root)), "bol_orders_daily")}
    assert left == {"plain", "opted", "odd"}
    assert purge_archive(location_of(str(root)), 7, policies.get, datetime.now(UTC)).removed  # shorter: all of them


def test_a_folder_that_cannot_be_removed_is_listed_and_the_others_still_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "archive"
    for name in ("stuck", "free"):
        _aged(root, _archive(root, run=ArchiveRun("bol_orders_daily", f"run_{name}", name, 1)), days=40)
    remove = ArchiveLocation.remove

    def refuse_stuck(location: ArchiveLocation, path: str) -> None:
        if "/stuck/" in path:
            raise PermissionError(13, "Permission denied", path)
        remove(location, path)

    monkeypatch.setattr(ArchiveLocation, "remove", refuse_stuck)
    purged = purge_archive(location_of(str(root)), 30, lambda conn_id: None, datetime.now(UTC))
    assert [Path(p).parent.name for p in purged.removed] == ["free"]
    assert [Path(p).parent.name for p in purged.failed] == ["stuck"]


def test_plan_names_the_days_the_archive_lacks(tmp_path: Path) -> None:
    for day in (2, 3, 5):
        _archive(tmp_path, run=ArchiveRun("bol_orders_daily", f"run_{day}", "bol_shop", 1), day=day)
    location = location_of(str(tmp_path))
    assert len(plan_replay(location, "bol_orders_daily", date(2026, 11, 2), date(2026, 11, 3))) == 2
    with pytest.raises(ReplayError, match=r"bol_shop: 2026-11-01, 2026-11-04$|bol_shop: 2026-11-01, 2026-11-04\."):
        plan_replay(location, "bol_orders_daily", date(2026, 11, 1), date(2026, 11, 5))
    with pytest.raises(ReplayError, match="other: 2026-11-02"):
        plan_replay(location, "bol_orders_daily", date(2026, 11, 2), date(2026, 11, 2), "other")
    with pytest.raises(ReplayError, match="syncs none of the streams"):
        stream_of("my_dag")
    assert stream_of("bol_offers_daily") == "offers"


def test_archive_settings_are_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert config.archive_url(tmp_path) == str(tmp_path)
    monkeypatch.setenv("AIRFLOW__BOLSYNC__ARCHIVE_URL", "off")
    assert config.archive_url(tmp_path) is None
    monkeypatch.setenv("AIRFLOW__BOLSYNC__ARCHIVE_URL", "nosuch://bucket/x")
    with pytest.raises(BolConfigError, match="archive_url 'nosuch'"):
        config.archive_url(tmp_path)
    monkeypatch.setenv("AIRFLOW__BOLSYNC__ARCHIVE_URL", "memory://x")
    assert config.archive_url(tmp_path) == "memory://x"
    assert config.archive_retention_days(None, read=False) == config.DEFAULT_ARCHIVE_RETENTION_DAYS
    for bad in ("0", "1.5", "many", "99999"):
        with pytest.raises(BolConfigError, match="archive_retention_days"):
            config.archive_retention_days(bad, read=False)


def test_details_another_run_fetched_are_found_in_its_archive(tmp_path: Path) -> None:
    _archive(tmp_path, run=ArchiveRun("bol_orders_hourly", "hourly_run", "bol_shop", 1))
    mine = _archive(tmp_path)
    location = location_of(str(tmp_path))
    (attempt,) = archived_attempts(location, "bol_orders_daily")
    assert attempt.folder == mine.folder
    found = _details_elsewhere(location, attempt, {"O1", "O9"})
    assert list(found) == ["O1"]
    assert "hourly_run" not in mine.folder
