"""The v10 offer export: request, process status (PENDING, end states, retention), the CSV and its faults."""

from __future__ import annotations

import csv
import io
import re
import time
from typing import Any

import pytest
import requests

from bol_emulator import start_emulator
from tests.emulator.conftest import CLIENT_B, V10, Api, small_config

V10_CSV = "application/vnd.retailer.v10+csv"
HEADER = (
    "offerId,ean,conditionName,conditionCategory,conditionComment,bundlePricesPrice,fulfilmentDeliveryCode,"
    "stockAmount,onHoldByRetailer,fulfilmentType,mutationDateTime,referenceCode,economicOperatorId"
)
MUTATION = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{1,3} UTC$")


def request_export(api: Api, body: Any = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {api.token}", "Accept": V10, "Content-Type": V10}
    return api.session.post(
        api.handle.base_url + "/retailer/offers/export",
        json={"format": "CSV"} if body is None else body,
        headers=headers,
        timeout=10,
    )


def poll(api: Api, process_id: str) -> requests.Response:
    return api.get(f"/shared/process-status/{process_id}")


def finished(api: Api, process_id: str, limit: int = 10) -> dict[str, Any]:
    for _ in range(limit):
        body = poll(api, process_id).json()
        if body["status"] != "PENDING":
            return body
    raise AssertionError("still PENDING")


def export_csv(api: Api) -> tuple[str, requests.Response]:
    process = request_export(api).json()
    status = finished(api, process["processStatusId"])
    assert status["status"] == "SUCCESS"
    return status["entityId"], api.get(f"/retailer/offers/export/{status['entityId']}", accept=V10_CSV)


def rows_by_header(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_export_flow(api: Api) -> None:
    response = request_export(api)
    assert response.status_code == 202
    assert response.headers["Content-Type"] == "application/vnd.retailer.v10+json;charset=UTF-8"
    process = response.json()
    assert process["status"] == "PENDING"
    assert process["eventType"] == "CREATE_OFFER_EXPORT"
    assert {"processStatusId", "description", "createTimestamp", "links"} <= set(process)
    assert "entityId" not in process
    assert process["links"] == [
        {
            "rel": "self",
            "href": f"{api.handle.base_url}/shared/process-status/{process['processStatusId']}",
            "method": "GET",
        }
    ]
    statuses = [poll(api, process["processStatusId"]).json() for _ in range(4)]
    assert [s["status"] for s in statuses] == ["PENDING", "PENDING", "SUCCESS", "SUCCESS"]
    assert "entityId" not in statuses[0]
    report_id = statuses[2]["entityId"]
    assert re.fullmatch(r"[0-9a-f-]{36}", report_id)
    assert statuses[3]["entityId"] == report_id
    report = api.get(f"/retailer/offers/export/{report_id}", accept=V10_CSV)
    assert report.status_code == 200
    assert report.headers["Content-Type"] == "application/vnd.retailer.v10+csv;charset=UTF-8"
    assert report.text.split("\n", 1)[0] == HEADER


def test_csv_matches_the_ground_truth(api: Api) -> None:
    _, report = export_csv(api)
    rows = rows_by_header(report.text)
    truth = api.control("GET", "/accounts/demo-client-a/offers").json()
    assert [row["offerId"] for row in rows] == [t["offer_id"] for t in truth]
    for row, t in zip(rows, truth, strict=True):
        assert row["ean"] == t["ean"]
        assert row["conditionName"] == t["condition_name"]
        assert row["conditionCategory"] == t["condition_category"]
        assert row["conditionComment"] == (t["condition_comment"] or "")
        assert row["bundlePricesPrice"] == f"{t['price']:.2f}"
        assert row["fulfilmentDeliveryCode"] == (t["delivery_code"] or "")
        assert row["stockAmount"] == str(t["stock_amount"])
        assert row["onHoldByRetailer"] == str(t["on_hold"]).lower()
        assert row["fulfilmentType"] == t["fulfilment_method"]
        assert MUTATION.match(row["mutationDateTime"]), row["mutationDateTime"]
        assert row["mutationDateTime"][:19].replace(" ", "T") == t["last_modified_at"][:19]
        assert row["referenceCode"] == (t["reference"] or "")
        assert row["economicOperatorId"] == (t["economic_operator_id"] or "")
    # comments with commas and quotes survive quoting
    assert any("," in row["conditionComment"] for row in rows)
    assert any('"' in row["conditionComment"] for row in rows)


def test_report_is_a_snapshot_taken_at_the_request(api: Api) -> None:
    process = request_export(api).json()
    api.control(
        "POST", "/world", json={"client_id": "demo-client-a", "action": "delete_offers", "count": 3}
    ).raise_for_status()
    report_id = finished(api, process["processStatusId"])["entityId"]
    rows = rows_by_header(api.get(f"/retailer/offers/export/{report_id}", accept=V10_CSV).text)
    assert len(rows) == 60
    _, fresh = export_csv(api)
    assert len(rows_by_header(fresh.text)) == 57


@pytest.mark.parametrize("body", [{}, {"format": "XML"}, [1], "CSV"], ids=["missing", "xml", "list", "string"])
def test_bad_export_requests(api: Api, body: Any) -> None:
    response = request_export(api, body)
    assert response.status_code == 400
    assert response.json()["violations"][0]["name"] == "format"


def test_pending_time_is_configurable(api: Api) -> None:
    api.control("POST", "/config", json={"export_pending_polls": 0, "export_pending_seconds": 0.4}).raise_for_status()
    process_id = request_export(api).json()["processStatusId"]
    assert poll(api, process_id).json()["status"] == "PENDING"
    time.sleep(0.45)
    assert poll(api, process_id).json()["status"] == "SUCCESS"
    api.control("POST", "/config", json={"export_pending_polls": 0, "export_pending_seconds": 0})
    assert poll(api, request_export(api).json()["processStatusId"]).json()["status"] == "SUCCESS"
    assert api.control("POST", "/config", json={"export_pending_polls": -1}).status_code == 400


@pytest.mark.parametrize("status", ["FAILURE", "TIMEOUT"])
def test_export_outcome_fault(api: Api, status: str) -> None:
    api.fault(kind="export_outcome", status=status, client_id="demo-client-a")
    process_id = request_export(api).json()["processStatusId"]
    body = finished(api, process_id)
    assert body["status"] == status
    assert "entityId" not in body
    assert body["errorMessage"]
    # consumed: the next export succeeds
    assert finished(api, request_export(api).json()["processStatusId"])["status"] == "SUCCESS"


def test_export_outcome_fault_is_per_client(api: Api) -> None:
    api.fault(kind="export_outcome", client_id="demo-client-b")
    assert finished(api, request_export(api).json()["processStatusId"])["status"] == "SUCCESS"
    other = Api(api.handle, CLIENT_B)
    assert finished(other, request_export(other).json()["processStatusId"])["status"] == "FAILURE"


def test_unknown_foreign_and_expired_ids_are_404(api: Api) -> None:
    assert poll(api, "nope").status_code == 404
    process_id = request_export(api).json()["processStatusId"]
    assert poll(Api(api.handle, CLIENT_B), process_id).status_code == 404
    missing = api.get("/retailer/offers/export/nope", accept=V10_CSV)
    assert missing.status_code == 404
    assert missing.headers["Content-Type"] == V10_CSV  # a Problem, labelled as CSV like the spec says
    assert missing.json()["status"] == 404
    api.control("POST", "/config", json={"process_status_retention": 1.0})
    report_id = finished(api, process_id)["entityId"]
    assert api.get(f"/retailer/offers/export/{report_id}", accept=V10_CSV).status_code == 200
    assert Api(api.handle, CLIENT_B).get(f"/retailer/offers/export/{report_id}", accept=V10_CSV).status_code == 404
    time.sleep(1.1)
    assert poll(api, process_id).status_code == 404
    assert api.get(f"/retailer/offers/export/{report_id}", accept=V10_CSV).status_code == 404


def test_report_media_types(api: Api) -> None:
    report_id, _ = export_csv(api)
    assert api.get(f"/retailer/offers/export/{report_id}", accept=V10).status_code == 406
    assert api.get(f"/retailer/offers/export/{report_id}", accept="*/*").status_code == 200
    assert api.get("/retailer/offers/export").status_code == 405


def test_extra_and_reordered_columns(api: Api) -> None:
    _, plain = export_csv(api)
    expected = rows_by_header(plain.text)
    api.fault(kind="csv_columns", extra=["correctedStock", "futureColumn"], position=2, order="reversed")
    _, changed = export_csv(api)
    header = changed.text.split("\n", 1)[0].split(",")
    assert header[0] == "economicOperatorId"
    assert header[-1] == "offerId"
    assert header[-4:] == ["futureColumn", "correctedStock", "ean", "offerId"]  # inserted after ean, reversed
    rows = rows_by_header(changed.text)
    assert {row["futureColumn"] for row in rows} == {"extra"}
    assert [{k: v for k, v in row.items() if k in HEADER.split(",")} for row in rows] == expected
    listed = api.control("GET", "/faults").json()["csv_columns"]
    assert listed[0]["extra"] == ["correctedStock", "futureColumn"]
    api.control("DELETE", "/faults")
    assert export_csv(api)[1].text.split("\n", 1)[0] == HEADER


def test_shuffled_and_dropped_columns(api: Api) -> None:
    api.fault(kind="csv_columns", extra=[], drop=["economicOperatorId"], order="shuffled")
    report_id, first = export_csv(api)
    header = first.text.split("\n", 1)[0].split(",")
    assert sorted(header) == sorted(HEADER.split(",")[:-1])
    assert header != HEADER.split(",")[:-1]
    again = api.get(f"/retailer/offers/export/{report_id}", accept=V10_CSV)
    assert again.text == first.text  # the same report reads the same every time


@pytest.mark.parametrize(
    "rule",
    [
        {"kind": "csv_columns", "order": "sideways"},
        {"kind": "csv_columns", "extra": "x"},
        {"kind": "csv_columns", "position": -1},
        {"kind": "export_outcome", "status": "PENDING"},
        {"kind": "export_outcome", "count": 0},
    ],
)
def test_malformed_offer_faults(api: Api, rule: dict[str, Any]) -> None:
    assert api.control("POST", "/faults", json=rule).status_code == 400


def test_stats_and_reset(api: Api) -> None:
    api.control("POST", "/stats/reset")
    report_id, _ = export_csv(api)
    requests_by_endpoint = api.control("GET", "/stats").json()["requests"]
    assert requests_by_endpoint["POST /retailer/offers/export"] == {"202": 1}
    assert requests_by_endpoint["GET /shared/process-status/{process-status-id}"] == {"200": 3}
    assert requests_by_endpoint["GET /retailer/offers/export/{report-id}"] == {"200": 1}
    api.control("POST", "/reset")
    assert api.get(f"/retailer/offers/export/{report_id}", accept=V10_CSV).status_code == 404


def test_export_rate_limits() -> None:
    with start_emulator(small_config(rate_scale=1.0)) as handle:
        api = Api(handle)
        api.control("POST", "/config", json={"export_pending_polls": 0})
        accepted = [request_export(api) for _ in range(9)]
        assert [r.status_code for r in accepted] == [202] * 9
        assert accepted[0].headers["X-RateLimit-Limit"] == "9"
        throttled = request_export(api)
        assert throttled.status_code == 429
        assert int(throttled.headers["Retry-After"]) > 3000
        report_id = poll(api, accepted[0].json()["processStatusId"]).json()["entityId"]
        downloads = [api.get(f"/retailer/offers/export/{report_id}", accept=V10_CSV).status_code for _ in range(10)]
        assert downloads == [200] * 9 + [429]
        assert [poll(api, accepted[1].json()["processStatusId"]).status_code for _ in range(5)] == [200] * 5


def test_a_short_list_fault_serves_a_valid_export_of_the_first_offers(api: Api) -> None:
    _, complete = export_csv(api)
    everything = rows_by_header(complete.text)
    api.fault(kind="short_list", keep=1, client_id="demo-client-a")
    assert api.control("GET", "/faults").json()["offer_defects"][0]["keep"] == 1
    _, short = export_csv(api)
    assert short.status_code == 200
    assert short.text.split("\n", 1)[0] == HEADER
    assert rows_by_header(short.text) == everything[:1]  # a well-formed file that lists one offer
    assert len(everything) > 1
    assert rows_by_header(export_csv(api)[1].text) == everything  # consumed: the next file is whole again


@pytest.mark.parametrize("rule", [{"keep": -1}, {"keep": "1"}, {"count": 0}])
def test_malformed_short_list_faults(api: Api, rule: dict[str, Any]) -> None:
    assert api.control("POST", "/faults", json={"kind": "short_list", **rule}).status_code == 400
