"""The inventory transform: every entry lands as a row or is refused naming its EAN and field; one row per EAN."""

from __future__ import annotations

from typing import Any

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bolsync.inventory.transform import inventory_rows
from bolsync.runs.quarantine import UNKEYED
from bolsync.runs.values import CONTROL, INTEGER_MAX


def entry(ean: Any = "8712345678901", regular: Any = 5, graded: Any = 0, **more: Any) -> dict[str, Any]:
    return {"ean": ean, "bsku": "2950000000001", "title": "Mok", "regularStock": regular, "gradedStock": graded, **more}


def test_entries_become_one_row_per_ean_with_the_last_entry_winning() -> None:
    rows = inventory_rows([entry("A", 1), entry("B", 2, 3), entry("A", 7)])
    assert rows.frame.to_dict("records") == [
        {"ean": "B", "bsku": "2950000000001", "title": "Mok", "regular_stock": 2, "graded_stock": 3},
        {"ean": "A", "bsku": "2950000000001", "title": "Mok", "regular_stock": 7, "graded_stock": 0},
    ]
    assert rows.rejected == []
    assert rows.listed == 2
    assert rows.keys_complete
    assert dict(rows.frame.dtypes.astype(str)) == {
        "ean": "string",
        "bsku": "string",
        "title": "string",
        "regular_stock": "Int64",
        "graded_stock": "Int64",
    }


def test_a_stock_beyond_integer_is_held_naming_the_ean_and_the_rest_lands() -> None:
    rows = inventory_rows([entry("A", INTEGER_MAX + 1), entry("B", 4)])
    assert rows.frame["ean"].tolist() == ["B"]
    [held] = rows.rejected
    assert (held.key, held.field) == ("A", "regular_stock")
    assert "bol's FBB inventory entry 'A': regularStock 2147483648 is outside INTEGER" in held.reason
    assert rows.held_keys == {"A"}
    assert rows.listed == 2
    assert rows.keys_complete


def test_an_entry_without_an_ean_is_held_and_the_list_cannot_tell_what_is_gone() -> None:
    rows = inventory_rows([entry(None), entry("B")])
    [held] = rows.rejected
    assert held.key.startswith(UNKEYED)
    assert held.field == "ean"
    assert "without a usable EAN: ean is missing" in held.reason
    assert not rows.keys_complete
    assert rows.held_keys == set()
    assert rows.frame["ean"].tolist() == ["B"]


def test_missing_stock_a_fraction_or_a_control_character_in_the_ean_are_held() -> None:
    rows = inventory_rows([entry("A", None), entry("B", graded=1.5), entry("C\x00"), entry("D", bsku=["x"])])
    assert {(r.key if r.keyed else "unkeyed", r.field) for r in rows.rejected} == {
        ("A", "regular_stock"),
        ("B", "graded_stock"),
        ("unkeyed", "ean"),
        ("D", "bsku"),
    }
    assert rows.frame.empty
    assert list(rows.frame.columns) == ["ean", "bsku", "title", "regular_stock", "graded_stock"]


def test_the_title_loses_control_characters_but_tab_and_newline_and_bsku_title_may_be_missing() -> None:
    rows = inventory_rows([entry("A", title="Mok\x07\tblauw\n"), {"ean": "B", "regularStock": 0, "gradedStock": 0}])
    assert rows.frame["title"].tolist() == ["Mok\tblauw\n", pd.NA]
    assert rows.frame["bsku"].isna().tolist() == [False, True]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "ean": st.one_of(st.none(), st.sampled_from(["A", "B", "C", "D"]), st.text(max_size=3)),
                "regularStock": st.one_of(st.integers(-(2**40), 2**40), st.none(), st.floats(), st.text(max_size=2)),
                "gradedStock": st.integers(0, 2**33),
                "title": st.one_of(st.none(), st.text(max_size=5)),
            }
        ),
        max_size=12,
    )
)
def test_every_entry_lands_or_is_held_once_per_ean(entries: list[dict[str, Any]]) -> None:
    rows = inventory_rows(entries)
    assert rows.frame["ean"].is_unique
    landed, held = set(rows.frame["ean"]), {r.key for r in rows.rejected if r.keyed}
    assert not landed & held
    assert landed | held == {e["ean"] for e in entries if e["ean"] and not CONTROL.search(e["ean"])}
    assert len(rows.frame) + len(rows.rejected) == rows.listed
    stocks = rows.frame["regular_stock"].tolist() + rows.frame["graded_stock"].tolist()
    assert all(-(2**31) <= v < 2**31 for v in stocks)
