"""Parsing the offer export by header name, and mapping v11 offers (pure, no I/O)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bolsync.offers.transform import V11_COLUMNS, latest_per_offer, parse_export_csv, parse_time, parse_v11_offers
from bolsync_provider.errors import BolResponseError

HEADER = (
    "offerId,ean,conditionName,conditionCategory,conditionComment,bundlePricesPrice,fulfilmentDeliveryCode,"
    "stockAmount,onHoldByRetailer,fulfilmentType,mutationDateTime,referenceCode,economicOperatorId"
)
LINE_A = (
    'o-1,8712345678906,GOOD,SECONDHAND,"Box dented, ""as new""",25.00,1-2d,3,false,FBR,'
    "2019-06-04 11:03:12.26 UTC,REF-1,eo-1"
)
LINE_B = "o-2,8712345678913,NEW,NEW,,9.99,,0,true,FBB,2026-11-20 13:03:11 UTC,,"


def _csv(header: str, *lines: str) -> str:
    return "\n".join([header, *lines]) + "\n"


def test_documented_layout() -> None:
    rows = parse_export_csv(_csv(HEADER, LINE_A, LINE_B))
    first, second = rows.frame.to_dict("records")
    assert first["offer_id"] == "o-1"
    assert first["condition_comment"] == 'Box dented, "as new"'
    assert first["unit_price"] == 25.0
    assert first["stock_amount"] == 3
    assert first["on_hold_by_retailer"] is False
    assert first["mutation_date_time"] == datetime(2019, 6, 4, 11, 3, 12, 260000, tzinfo=UTC)
    assert first["economic_operator_id"] == "eo-1"
    assert first["extra"] is None or str(first["extra"]) == "<NA>"
    assert second["fulfilment_delivery_code"] is None or str(second["fulfilment_delivery_code"]) == "<NA>"
    assert second["on_hold_by_retailer"] is True
    assert "corrected_stock" not in rows.provided  # not in the export: the load keeps what v11 stored
    assert rows.source_rows == 2


def test_reordered_columns_give_the_same_rows() -> None:
    names = HEADER.split(",")
    order = list(reversed(range(len(names))))
    reordered = parse_export_csv(_write([[fields[i] for i in order] for fields in [names, *_split(LINE_A, LINE_B)]]))
    original = parse_export_csv(_csv(HEADER, LINE_A, LINE_B))
    assert reordered.frame.equals(original.frame)
    assert set(reordered.provided) == set(original.provided)


def _write(rows: list[list[str]]) -> str:
    import csv
    import io

    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def _split(*lines: str) -> list[list[str]]:
    import csv

    return [next(csv.reader([line])) for line in lines]


def test_unknown_columns_are_kept_in_extra() -> None:
    fields = _split(LINE_A)[0]
    header = ["offerId", "ean", "newColumn", *HEADER.split(",")[2:], "anotherOne"]
    rows = parse_export_csv(_write([header, [*fields[:2], "x1", *fields[2:], "y"]]))
    record = rows.frame.to_dict("records")[0]
    assert json.loads(record["extra"]) == {"newColumn": "x1", "anotherOne": "y"}
    assert record["ean"] == "8712345678906"
    assert record["unit_price"] == 25.0


def test_missing_columns_are_not_provided() -> None:
    names = [n for n in HEADER.split(",") if n not in ("economicOperatorId", "referenceCode")]
    fields = _split(LINE_A)[0]
    keep = [i for i, n in enumerate(HEADER.split(",")) if n in names]
    rows = parse_export_csv(_write([names, [fields[i] for i in keep]]))
    assert "economic_operator_id" not in rows.provided
    assert "reference_code" not in rows.provided
    assert rows.frame.loc[0, "offer_id"] == "o-1"


def test_malformed_exports_fail_clearly_and_malformed_lines_are_refused_alone() -> None:
    with pytest.raises(BolResponseError, match="without an 'offerId' column"):
        parse_export_csv("ean,price\n1,2\n")
    rows = parse_export_csv(_csv(HEADER, LINE_A.replace(",3,false", ",three,false"), LINE_B))
    assert list(rows.frame["offer_id"]) == ["o-2"]
    [refused] = rows.rejected
    assert (refused.key, refused.field) == ("o-1", "stockAmount")
    assert "line 2 (offer o-1), stockAmount: 'three' is not a whole number" in refused.reason
    [unnamed] = parse_export_csv(_csv(HEADER, "," + LINE_A.split(",", 1)[1])).rejected
    assert "line 2 has no offerId" in unnamed.reason
    assert not unnamed.keyed


def test_empty_export_has_no_rows() -> None:
    assert parse_export_csv(HEADER + "\n").source_rows == 0


def test_times_of_both_apis() -> None:
    assert parse_time("2026-11-20T13:03:11.250Z", "x") == datetime(2026, 11, 20, 13, 3, 11, 250000, tzinfo=UTC)
    assert parse_time("2019-06-04 11:03:12.2 UTC", "x") == datetime(2019, 6, 4, 11, 3, 12, 200000, tzinfo=UTC)
    assert parse_time("", "x") is None


def test_v11_mapping() -> None:
    offer = {
        "offerId": "o-9",
        "ean": "123",
        "lastModifiedDateTime": "2026-11-20T13:03:11.250Z",
        "onHoldByRetailer": False,
        "stock": {"amount": 4, "correctedStock": 3, "managedByRetailer": True},
        "countryAvailabilities": [{"countryCode": "NL", "forSale": True}],
        "condition": {"category": "SECONDHAND", "state": "GOOD", "comment": "ok"},
        "pricing": {"bundlePrices": [{"quantity": 3, "unitPrice": 9.5}, {"quantity": 1, "unitPrice": 10.0}]},
        "fulfilment": {"method": "FBR", "schedule": "MY_DELIVERY_PROMISE"},
        "product": {"bolProductId": "9200"},
    }
    rows = parse_v11_offers([offer])
    record = rows.frame.to_dict("records")[0]
    assert record["unit_price"] == 10.0
    assert (record["condition_name"], record["condition_category"]) == ("GOOD", "SECONDHAND")
    assert (record["stock_amount"], record["corrected_stock"]) == (4, 3)
    assert record["fulfilment_type"] == "FBR"
    extra = json.loads(record["extra"])
    assert extra["product"] == {"bolProductId": "9200"}
    assert extra["stock.managedByRetailer"] is True
    assert rows.provided == V11_COLUMNS
    assert "fulfilment_delivery_code" not in rows.provided
    new = parse_v11_offers([{**offer, "condition": {"category": "NEW"}}]).frame.to_dict("records")[0]
    assert new["condition_name"] == "NEW"


def test_latest_per_offer_keeps_the_last_line() -> None:
    rows = parse_export_csv(_csv(HEADER, LINE_A, LINE_A.replace(",25.00,", ",26.00,")))
    deduplicated = latest_per_offer(rows.frame)
    assert len(deduplicated) == 1
    assert deduplicated.loc[0, "unit_price"] == 26.0
