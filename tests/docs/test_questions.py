"""The SQL of docs/questions.md runs on both engines and answers the four questions right on hand-made data (the
order lines of ``test_order_line_economics``, an invoice dated for them and an open return)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from bolsync.warehouse.connection import WarehouseTarget, connect_warehouse
from tests.unit.warehouse.test_order_line_economics import R, T
from tests.unit.warehouse.test_order_line_economics import _fill as fill_order_lines

PAGE = Path(__file__).resolve().parents[2] / "docs" / "questions.md"
QUESTIONS = ("Net revenue per day", "Return rate per EAN", "Fees per charge type per month", "Open unhandled returns")


def queries() -> dict[str, str]:
    """Each ``## question`` of the page and the one SQL block under it."""
    found: dict[str, str] = {}
    for section in re.split(r"^## ", PAGE.read_text(encoding="utf-8"), flags=re.M)[1:]:
        title, _, body = section.partition("\n")
        blocks = re.findall(r"```sql\n(.*?)```", body, flags=re.S)
        assert len(blocks) == 1, f"{title}: expected one SQL block, found {len(blocks)}"
        found[title.strip()] = blocks[0]
    return found


def _fill(conn: Any) -> None:
    fill_order_lines(conn)
    conn.execute(
        "INSERT INTO bol.invoices (retailer_id, invoice_id, issue_date, specification_status, specification_read, "
        "reconciled, read_at, first_synced_at) VALUES (?, '1001', DATE '2026-12-01', 'reconciled', TRUE, TRUE, ?, ?)",
        [R, T, T],
    )
    opened = datetime(2026, 11, 25, 9, tzinfo=UTC)
    conn.execute(
        "INSERT INTO bol.returns (retailer_id, return_id, registered_at, fulfilment_method, item_count, handled, "
        "result_count, state_fingerprint, observed_at, first_synced_at) VALUES (?, 'RET2', ?, 'FBR', 1, FALSE, 0, "
        "'y', ?, ?)",
        [R, opened, opened, opened],
    )
    conn.execute(
        "INSERT INTO bol.return_item_states (retailer_id, rma_id, return_id, order_id, ean, expected_quantity, "
        "handled, result_count, processed_quantity, observed_at, first_synced_at) "
        "VALUES (?, 'RMA3', 'RET2', 'O1', 'E2', 2, FALSE, 0, 0, ?, ?)",
        [R, opened, opened],
    )


def _plain(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """Numbers as Decimal, dates as dates, timestamps in UTC: the engines' types compared alike."""
    out: list[Any] = []
    for value in row:
        if isinstance(value, datetime):
            value = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
        elif isinstance(value, date):
            pass
        elif isinstance(value, int | float | Decimal) and not isinstance(value, bool):
            value = Decimal(str(value)).normalize()
        out.append(value)
    return tuple(out)


def _d(value: str) -> Decimal:
    return Decimal(value).normalize()


def test_the_page_holds_the_four_questions() -> None:
    assert tuple(queries()) == QUESTIONS


def test_the_four_questions_answer_right(warehouse: WarehouseTarget) -> None:
    sql = queries()
    with connect_warehouse(warehouse) as conn:
        _fill(conn)
        answers = {title: [_plain(row) for row in conn.query(text)] for title, text in sql.items()}
    # Order lines I1 .. I4 (placed 2026-11-20), I1 and I2 invoiced: revenue 40 + 20 + 10; commission 2 + 3 + 2 (I3
    # estimated, I4 nothing shipped); other charges: I1 4 + 5 + 20 - 1.50, I2 2 + 1; net 10.50 + 14.00 + 8.00.
    assert answers["Net revenue per day"] == [
        (R, date(2026, 11, 20), _d("4"), _d("2"), _d("70.00"), _d("7.00"), _d("30.50"), _d("32.50"))
    ]
    # E1: 2 shipped, 2 returned (one accepted); E2: 2 shipped, 2 returned, none processed; E3: 1 shipped, none.
    assert answers["Return rate per EAN"] == [
        (R, "E1", _d("2"), _d("2"), _d("1"), _d("100.0")),
        (R, "E2", _d("2"), _d("2"), _d("0"), _d("100.0")),
        (R, "E3", _d("1"), _d("0"), _d("0"), _d("0.0")),
    ]
    month = date(2026, 12, 1)
    assert answers["Fees per charge type per month"] == [
        (R, month, "COMMISSION", "commission", _d("2"), _d("7.00"), _d("1.47")),
        (R, month, "SHIPMENT_LABEL", "fees", _d("1"), _d("6.00"), _d("1.26")),
        (R, month, "PLAZA_RETURN_SHIPPING_LABEL", "return_costs", _d("1"), _d("5.00"), _d("1.05")),
        (R, month, "SOMETHING_NEW", "other", _d("1"), _d("1.00"), _d("0.21")),
        (R, month, "CORRECTION_CORRECTION", "other", _d("1"), _d("-1.50"), _d("0.00")),
        (R, month, "CORRECTION_COMMISSION", "commission", _d("1"), _d("-2.00"), _d("-0.42")),
    ]
    assert answers["Open unhandled returns"] == [
        (R, "FBR", _d("1"), _d("1"), _d("2"), datetime(2026, 11, 25, 9, tzinfo=UTC))
    ]
