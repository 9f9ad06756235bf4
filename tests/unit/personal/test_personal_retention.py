"""The nightly purge's rule: which retention applies to each retailer in the personal store (``retention``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bolsync.personal.policy import PersonalDataPolicy
from bolsync.personal.retention import UNCLAIMED_AFTER, retention_days

NOW = datetime(2026, 11, 27, tzinfo=UTC)
IN_30, IN_90, OUT = PersonalDataPolicy(True, 30), PersonalDataPolicy(True, 90), PersonalDataPolicy(False)


def test_opted_in_synced_accounts_keep_their_retention_and_everything_else_is_purged_at_once() -> None:
    claims = {
        "r-in": {"shop_in"},
        "r-two": {"shop_in", "shop_in_90"},  # two opted-in connections store it: the longest retention
        "r-half": {"shop_out", "shop_in"},
        "r-out": {"shop_out"},  # opted out since
        "r-gone": {"shop_removed"},  # not synced any more (no policy: not in bolsync_accounts nor in the run)
    }
    policies = {"shop_in": IN_30, "shop_in_90": IN_90, "shop_out": OUT}
    assert retention_days(claims, policies, NOW - timedelta(days=1), NOW) == {
        "r-in": 30,
        "r-two": 90,
        "r-half": 30,
        "r-out": 0,
        "r-gone": 0,
    }


def test_unknown_policies_and_rows_from_before_claims_are_kept_for_now() -> None:
    claims = {"r-unreadable": {"shop_typo"}, "r-legacy": set()}
    policies = {"shop_typo": None}
    assert retention_days(claims, policies, NOW - timedelta(days=1), NOW) == {"r-unreadable": None, "r-legacy": None}
    assert retention_days(claims, policies, None, NOW)["r-legacy"] is None
    # Once claims are old enough, every synced account has claimed its retailers: the rest is nobody's.
    assert retention_days(claims, policies, NOW - UNCLAIMED_AFTER, NOW) == {"r-unreadable": None, "r-legacy": 0}
