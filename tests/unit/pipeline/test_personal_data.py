"""Opt-in personal data: the policy, the pseudonymised rows, the separate store and its retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bolsync.personal.policy import DEFAULT_RETENTION_DAYS, TAX_RETENTION_DAYS, PersonalDataPolicy
from bolsync.personal.records import CONTACT_COLUMNS, INVOICE_COLUMNS, personal_record, pseudonym
from bolsync.personal.staging import PERSONAL_FILE, PersonalStaging, staged_personal_rows
from bolsync.personal.store import TABLE, connect_personal_store, personal_store_path, purge, upsert
from bolsync_provider.exceptions import BolConfigError

SECRET = b"k" * 32
ORDER = {
    "orderId": "A2K8290LP8",
    "orderPlacedDateTime": "2026-11-20T14:03:11+01:00",
    "shipmentDetails": {
        "salutation": "FEMALE",
        "firstName": "Zoë",
        "surname": "Müller",
        "streetName": "Dorpsstraat",
        "houseNumber": "1",
        "zipCode": "3401 AB",
        "city": "IJsselstein",
        "countryCode": "NL",
        "email": "2x5k8q@verkopen.bol.com",
        "deliveryPhoneNumber": "0612345678",
    },
    "billingDetails": {
        "firstName": "Zoë",
        "surname": "Müller",
        "streetName": "Dorpsstraat",
        "houseNumber": "1",
        "zipCode": "3401 AB",
        "city": "IJsselstein",
        "countryCode": "NL",
        "email": "2x5k8q@verkopen.bol.com",
        "company": "Müller BV",
        "vatNumber": "NL123456789B01",
        "kvkNumber": "12345678",
    },
    "orderItems": [],
}


def test_default_policy_stores_nothing() -> None:
    assert PersonalDataPolicy.from_extra("c", {}) == PersonalDataPolicy(store=False)
    policy = PersonalDataPolicy.from_extra("c", {"personal_data": {"store": True, "retention_days": 30}})
    assert policy == PersonalDataPolicy(store=True, retention_days=30)
    assert PersonalDataPolicy.from_extra("c", {"personal_data": {"store": True}}).retention_days == (
        DEFAULT_RETENTION_DAYS
    )


@pytest.mark.parametrize(
    "raw",
    [
        "yes",
        {"store": "true"},
        {"store": True, "retention_days": 0},
        {"store": True, "retention_days": TAX_RETENTION_DAYS + 1},
        {"store": True, "retention_days": 1.5},
        {"store": True, "keep": 1},
    ],
)
def test_bad_policy_is_a_clear_error(raw: object) -> None:
    with pytest.raises(BolConfigError, match="connection 'c': extra 'personal_data'"):
        PersonalDataPolicy.from_extra("c", {"personal_data": raw})


def test_record_pseudonymises_the_email_stably_and_case_insensitively() -> None:
    row = personal_record(ORDER, SECRET)
    assert row["email_pseudonym"] == pseudonym("2X5K8Q@verkopen.bol.com ", SECRET)
    assert row["email_pseudonym"] != pseudonym("2x5k8q@verkopen.bol.com", b"other-key")
    assert "verkopen" not in row["email_pseudonym"]
    assert row["shipment_first_name"] == "Zoë"
    assert row["vat_number"] == "NL123456789B01"
    assert row["billing_company_name"] == "Müller BV"
    assert set(CONTACT_COLUMNS) | set(INVOICE_COLUMNS) <= set(row)


def test_nothing_is_staged_without_opt_in(tmp_path: Path) -> None:
    with PersonalStaging(tmp_path, [], set(), secret=None) as staging:
        staging.add(ORDER)
    assert not (tmp_path / PERSONAL_FILE).exists()
    assert staged_personal_rows(tmp_path) == []


def test_a_retry_restages_the_rows_of_reused_orders(tmp_path: Path) -> None:
    first, second = tmp_path / "try1", tmp_path / "try2"
    first.mkdir()
    second.mkdir()
    with PersonalStaging(first, [], set(), SECRET) as staging:
        staging.add(ORDER)
    with PersonalStaging(second, [first], {"A2K8290LP8"}, SECRET):
        pass
    assert [row["order_id"] for row in staged_personal_rows(second)] == ["A2K8290LP8"]


def test_store_is_its_own_file_upsert_is_idempotent_and_retention_purges(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    path = personal_store_path(warehouse)
    assert path == tmp_path / "warehouse.personal.duckdb"
    now = datetime(2026, 11, 27, tzinfo=UTC)
    fresh = {**personal_record(ORDER, SECRET), "order_placed_at": (now - timedelta(days=5)).isoformat()}
    old = {
        **personal_record({**ORDER, "orderId": "OLD0000001"}, SECRET),
        "order_placed_at": (now - timedelta(days=40)).isoformat(),
    }
    ancient = {
        **personal_record({**ORDER, "orderId": "ANC0000001"}, SECRET),
        "order_placed_at": (now - timedelta(days=TAX_RETENTION_DAYS + 1)).isoformat(),
    }
    with connect_personal_store(path) as conn:
        assert upsert(conn, "1", [fresh, old, ancient], now) == 3
        assert upsert(conn, "1", [fresh, old, ancient], now) == 0
        result = purge(conn, "1", retention_days=30, now=now)
        assert (result.contacts_purged, result.rows_deleted) == (2, 1)
        rows = {
            r[0]: r[1:]
            for r in conn.execute(
                f"SELECT order_id, shipment_surname, email_address, vat_number, billing_surname, email_pseudonym, "
                f"contact_purged_at IS NOT NULL FROM {TABLE} ORDER BY order_id"
            ).fetchall()
        }
        assert set(rows) == {"A2K8290LP8", "OLD0000001"}
        assert rows["A2K8290LP8"][:2] == ("Müller", "2x5k8q@verkopen.bol.com")
        assert rows["OLD0000001"][:2] == (None, None)  # contact details purged
        assert rows["OLD0000001"][2:4] == ("NL123456789B01", "Müller")  # invoice data kept for the tax law
        assert rows["OLD0000001"][4] == fresh["email_pseudonym"]  # joins still work
        second = purge(conn, "1", retention_days=30, now=now)
        assert (second.contacts_purged, second.rows_deleted) == (0, 0)
    assert not warehouse.exists()  # the warehouse file is untouched
