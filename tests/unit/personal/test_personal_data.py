"""Opt-in personal data: the policy, the pseudonymised rows and their staging (the store: test_personal_store)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bolsync.personal.policy import DEFAULT_RETENTION_DAYS, TAX_RETENTION_DAYS, PersonalDataPolicy
from bolsync.personal.records import CONTACT_COLUMNS, INVOICE_COLUMNS, personal_record, pseudonym
from bolsync.personal.staging import PERSONAL_FILE, PersonalStaging, staged_personal_rows
from bolsync_provider.errors import BolConfigError

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
