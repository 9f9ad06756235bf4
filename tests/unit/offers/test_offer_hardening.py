"""Bad offer data gets a clear error and changes nothing: truncated exports, control characters."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import pytest

from bolsync.offers.load import load_offer_list
from bolsync.offers.transform import parse_export_csv, parse_v11_offers
from bolsync.warehouse.connection import connect_warehouse
from bolsync_provider.errors import BolResponseError
from tests.unit.offers.test_offer_load import _export, listing
from tests.unit.offers.test_offer_transform import HEADER, LINE_A, LINE_B, _csv

V11: dict[str, Any] = {
    "offerId": "o-9",
    "ean": "8712345678906",
    "reference": "REF-9",
    "lastModifiedDateTime": "2026-11-20T13:03:11.250Z",
    "onHoldByRetailer": False,
    "condition": {"category": "SECONDHAND", "state": "GOOD", "comment": "ok"},
    "pricing": {"bundlePrices": [{"quantity": 1, "unitPrice": 10.0}]},
    "fulfilment": {"method": "FBR"},
    "unknownProductTitle": "Title",
}


def test_a_short_last_line_is_a_truncated_export() -> None:
    cut = LINE_B[: LINE_B.index(",9.99")]  # the file ends after the condition comment
    with pytest.raises(BolResponseError, match="truncated offer export: line 3 has 5 fields, the header 13"):
        parse_export_csv(_csv(HEADER, LINE_A).rstrip("\n") + "\n" + cut)


def test_a_short_line_in_the_middle_is_refused_too() -> None:
    with pytest.raises(BolResponseError, match="line 2 has 2 fields"):
        parse_export_csv(_csv(HEADER, "o-1,8712345678906", LINE_B))


def test_an_export_ending_inside_a_quoted_value_is_truncated() -> None:
    cut = LINE_A[: LINE_A.index("dented") + 6]  # inside "Box dented, ""as new"""
    with pytest.raises(BolResponseError, match="truncated or malformed offer export: line 3"):
        parse_export_csv(_csv(HEADER, LINE_B) + cut)


def test_an_empty_body_is_not_an_empty_export() -> None:
    with pytest.raises(BolResponseError, match="without an 'offerId' column"):
        parse_export_csv("")


def test_free_text_loses_control_characters_and_the_warning_names_each(caplog) -> None:
    line = LINE_A.replace("REF-1", "REF\x00-1").replace("Box dented", "Box\x07 dented\ttab\nline")
    line = line.replace('""as new"""', '""as new"""'.replace("as", "a\x1bs"))
    header = HEADER + ",futureColumn"
    with caplog.at_level(logging.WARNING, logger="bolsync.offers.transform"):
        record = parse_export_csv(_csv(header, line + ",x\x00y")).frame.to_dict("records")[0]
    assert record["reference_code"] == "REF-1"
    assert record["condition_comment"] == 'Box dented\ttab\nline, "as new"'
    assert json.loads(record["extra"]) == {"futureColumn": "xy"}
    assert "from 3 offer text values" in caplog.text
    assert "export line 2 (offer o-1), referenceCode" in caplog.text
    assert "export line 2 (offer o-1), extra.futureColumn" in caplog.text


@pytest.mark.parametrize(
    ("column", "value", "match"),
    [
        ("o-1", "o\x00-1", r"export line 2, offerId: 'o\\x00-1' contains the control character U\+0000"),
        ("8712345678906", "871234\x1f5678906", r"line 2 \(offer o-1\), ean: .* U\+001F"),
        ("eo-1", "eo-\x851", r"line 2 \(offer o-1\), economicOperatorId: .* U\+0085"),
        (",FBR,", ",F\x00BR,", r"fulfilmentType"),
    ],
)
def test_an_id_or_code_with_a_control_character_refuses_that_offer_alone(column: str, value: str, match: str) -> None:
    rows = parse_export_csv(_csv(HEADER, LINE_A.replace(column, value, 1), LINE_B))
    assert list(rows.frame["offer_id"]) == ["o-2"]  # the other line lands
    assert rows.source_rows == 2
    [refused] = rows.rejected
    assert re.search(match, refused.reason), refused.reason
    assert "never cleaned" in refused.reason
    assert json.loads(refused.raw_json)["offerId"] == ("o\x00-1" if column == "o-1" else "o-1")
    assert refused.keyed == (column != "o-1")  # a broken id names no offer


def test_v11_free_text_is_cleaned_and_ids_are_refused(caplog) -> None:
    dirty = {**V11, "reference": "REF\x00-9", "condition": {**V11["condition"], "comment": "o\x00k"}}
    dirty["unknownProductTitle"] = "Ti\x00tle \ud800"
    with caplog.at_level(logging.WARNING, logger="bolsync.offers.transform"):
        record = parse_v11_offers([dirty]).frame.to_dict("records")[0]
    assert (record["reference_code"], record["condition_comment"]) == ("REF-9", "ok")
    assert ascii(json.loads(record["extra"])["unknownProductTitle"]) == ascii("Title ")  # a surrogate prints
    assert "v11 offer o-9, reference" in caplog.text
    refused = parse_v11_offers(
        [
            {**V11, "offerId": "o\x00-9"},
            {**V11, "ean": "8712345678906\x00"},
            {**V11, "condition": {"category": "NEW\x00"}},
        ]
    )
    assert refused.frame.empty
    reasons = [r.reason for r in refused.rejected]
    assert re.search(r"v11 offer, offerId: 'o\\x00-9'", reasons[0])
    assert re.search(r"v11 offer o-9, ean", reasons[1])
    assert re.search(r"v11 offer o-9, condition.category", reasons[2])
    assert [r.field for r in refused.rejected] == ["offerId", "ean", "condition.category"]


def test_cleaned_offers_land_on_both_engines(warehouse) -> None:
    text = _export(("a", "10.00", 1)).replace(",eo,x", ",eo,x\x00y")
    rows = parse_export_csv(text.replace(",NEW,NEW,,", ",NEW,NEW,c\x00c,"))
    with connect_warehouse(warehouse) as conn:
        load_offer_list(conn, "R1", rows, listing())
        stored = conn.execute("SELECT condition_comment, CAST(extra AS VARCHAR) FROM bol.offers").fetchall()
    assert stored == [("cc", '{"futureColumn":"xy"}')]
