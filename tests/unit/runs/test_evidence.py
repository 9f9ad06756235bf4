"""The evidence rule before mass deletions (``runs.evidence``): thresholds, the empty extreme, confirmation,
settings and the operator's message."""

from __future__ import annotations

import pytest

from bolsync.runs import config
from bolsync.runs.evidence import DeletionCheck, DeletionThreshold, FullListEvidence, confirmed, in_a_run
from bolsync_provider.errors import BolConfigError

DEFAULT = DeletionThreshold()


@pytest.mark.parametrize(
    ("live", "named", "missing", "held"),
    [
        (120, 1, 119, True),  # a valid export of one offer
        (120, 99, 21, True),  # 17.5 % and 21: both limits passed
        (120, 100, 20, False),  # 20 is not more than 20
        (300, 275, 25, False),  # 8.3 %: not more than 10 %
        (300, 269, 31, True),
        (10, 5, 5, False),  # half of a small account: not more than 20 offers
        (2, 0, 2, True),  # an empty list: names none of the live records, whatever their number
        (1, 0, 1, True),
        (5, 0, 3, True),  # names none (two more are protected: seen after the list)
        (0, 0, 0, False),  # nothing stored: nothing to lose
        (120, 120, 0, False),
        (120, 0, 0, False),  # names none, but deletes none either (all seen after the list)
    ],
)
def test_out_of_proportion(live: int, named: int, missing: int, held: bool) -> None:
    assert FullListEvidence(live, named, missing).out_of_proportion(DEFAULT) is held


def test_the_limits_are_configurable() -> None:
    evidence = FullListEvidence(live=120, named=110, missing=10)
    assert not evidence.out_of_proportion(DEFAULT)
    assert evidence.out_of_proportion(DeletionThreshold(percent=5, count=5))
    assert not evidence.out_of_proportion(DeletionThreshold(percent=5, count=10))
    assert not evidence.out_of_proportion(DeletionThreshold(percent=10, count=0))


def test_a_confirmed_check_applies_and_an_unconfirmed_one_holds() -> None:
    evidence = FullListEvidence(live=120, named=1, missing=119)
    check = DeletionCheck("offers", "bol's offer export", "offers", "bol.offers", listed=1, evidence=evidence)
    assert (check.held, check.held_deletions) == (True, 119)
    done = DeletionCheck("offers", "bol's offer export", "offers", "bol.offers", 1, evidence, confirmed=True)
    assert (done.held, done.needs_confirmation, done.held_deletions) == (False, True, 0)


def test_the_message_says_what_was_held_and_exactly_how_to_confirm() -> None:
    check = DeletionCheck(
        "offers", "bol's offer export", "offers", "bol.offers", 1, FullListEvidence(live=120, named=1, missing=119)
    )
    text = check.message("1234", in_a_run("bol_offers_daily"))
    assert "bol's offer export for retailer 1234 listed 1 offers" in text
    assert "flag 119 of the 120 live offers in bol.offers deleted" in text
    assert "more than 10 % and more than 20 of the 120 live offers" in text
    assert "none of them was flagged deleted" in text
    assert "the param confirm_deletions = true (UI: Trigger DAG, tick confirm_deletions" in text
    assert """airflow dags trigger bol_offers_daily --conf '{"confirm_deletions": true}'""" in text
    assert "confirm_empty works too" in text
    empty = DeletionCheck("offers", "bol's v11 full sweep", "offers", "bol.offers", 0, FullListEvidence(3, 0, 3))
    assert "it names none of the 3 live offers" in empty.message("1234", in_a_run("bol_offers_daily"))


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"confirm_deletions": True}, True),
        ({"confirm_empty": True}, True),  # the older name
        ({"confirm_deletions": "true"}, True),
        ({"confirm_deletions": False, "confirm_empty": False}, False),
        ({}, False),
        (None, False),
    ],
)
def test_confirmed_by_either_param(params, expected: bool) -> None:
    assert confirmed(params) is expected


def test_thresholds_come_from_the_bolsync_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    assert DeletionThreshold.configured() == DeletionThreshold(10.0, 20)
    monkeypatch.setenv("AIRFLOW__BOLSYNC__MASS_DELETION_PERCENT", "25%")
    monkeypatch.setenv("AIRFLOW__BOLSYNC__MASS_DELETION_COUNT", "50")
    assert DeletionThreshold.configured() == DeletionThreshold(25.0, 50)


@pytest.mark.parametrize("raw", ["abc", "-1", "101", "nan"])
def test_a_bad_percent_names_the_setting(raw: str) -> None:
    with pytest.raises(BolConfigError, match=r"\[bolsync\] mass_deletion_percent .* must be a number from 0 to 100"):
        config.mass_deletion_percent(raw, read=False)


@pytest.mark.parametrize("raw", ["2.5", "-3", "many"])
def test_a_bad_count_names_the_setting(raw: str) -> None:
    with pytest.raises(BolConfigError, match=r"\[bolsync\] mass_deletion_count"):
        config.mass_deletion_count(raw, read=False)
