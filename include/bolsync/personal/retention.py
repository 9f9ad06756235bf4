"""Which retention applies to each retailer's rows in the personal store: the daily purge's rule.

The purge (DAG ``bol_retention``) goes by the data, not by a run's accounts: every retailer with rows in the store.

- Claimed by a synced connection that opts in (``personal_data.store``): that connection's
  ``retention_days`` (the longest, when several such connections store the retailer).
- Otherwise, when every connection that stored the retailer no longer opts in, no longer exists or is no
  longer synced: 0, the contact details are purged at once (the retention of an opt-in no longer applies).
- Rows past the fiscal retention are deleted in every case.

"Synced": in Variable ``bolsync_accounts`` (the default account when unset) or in the purging run's accounts. A
connection claims a retailer once one of its loads stored the retailer's rows (``retailer_accounts``).
Never guessing towards a loss, two cases keep contact details for now (None): a connection whose
``personal_data`` extra (or the Variable) cannot be read (its own runs fail with that error), and rows no
connection claims yet (stored before claims were recorded) until claims are ``UNCLAIMED_AFTER`` old.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from bolsync.personal.policy import PersonalDataPolicy

#: Every synced account has had a load since claims began: an unclaimed retailer is not synced.
UNCLAIMED_AFTER = timedelta(days=7)


def retention_days(
    claims: Mapping[str, set[str]],
    policies: Mapping[str, PersonalDataPolicy | None],
    claims_since: datetime | None,
    now: datetime,
) -> dict[str, int | None]:
    """Each retailer of ``claims`` (retailer -> connections that stored it) and the days its contact details
    are kept (None: not purged now). ``policies``: the synced connections' policies (None: unreadable)."""
    return {retailer: _days(connections, policies, claims_since, now) for retailer, connections in claims.items()}


def _days(
    connections: set[str],
    policies: Mapping[str, PersonalDataPolicy | None],
    claims_since: datetime | None,
    now: datetime,
) -> int | None:
    if not connections:
        return 0 if claims_since is not None and now - claims_since >= UNCLAIMED_AFTER else None
    known = [policies[c] for c in connections if c in policies]
    opted_in = [policy.retention_days for policy in known if policy is not None and policy.store]
    if opted_in:
        return max(opted_in)
    return None if None in known else 0
