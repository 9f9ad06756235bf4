"""The coverage check's result as the DAG run's note."""

from __future__ import annotations

from bolsync.runs.coverage_check import check_note


def counts(open_: int = 0, alerted: int = 0, held: int = 0) -> dict[str, int]:
    return {"open": open_, "alerted": alerted, "quarantined": held}


def test_holes_are_counted_per_account_stream_with_the_newly_alerted_and_the_held_records() -> None:
    summary = {"bol_shop/orders": counts(2, 1), "bol_shop/offers": counts(), "bol_b/returns": counts(1, 1, held=3)}
    assert check_note(summary) == (
        "Coverage check: 3 open hole(s) in 2 of 3 account streams (bol_shop/orders: 2, bol_b/returns: 1); 2 newly "
        "alerted. 3 record(s) held in the quarantine. The bolsync page (Airflow UI, menu bolsync) shows each hole "
        "and the backfill that fills it."
    )


def test_no_holes_and_a_long_list_cut_short() -> None:
    assert check_note({"a/orders": counts(), "b/orders": counts()}) == "Coverage check: no holes in 2 account streams."
    many = {f"shop{n}/orders": counts(1) for n in range(12)}
    note = check_note(many, shown=3)
    assert "(shop0/orders: 1, shop1/orders: 1, shop2/orders: 1, and 9 more)" in note
    assert note.startswith("Coverage check: 12 open hole(s) in 12 of 12 account streams")
