"""The CeleryExecutor cluster end to end (``make cluster-test``): what does not depend on timing.

One run of the driver (two workers, PostgreSQL metadata and warehouse, Redis broker and shared state, the
emulator's two demo accounts): every run succeeds, the rows equal the emulator's truth exactly, tasks ran on
both workers, and each credential fetched one token per token lifetime (single-flight across workers).
"""

from __future__ import annotations

import pytest

from tests.cluster.measure import TOKEN_WINDOW_FRACTION
from tests.cluster.run import ClusterReport, format_report, run_cluster
from tests.cluster.stack import ClusterSpec
from tests.support.services import postgres_url, redis_url

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(900)]

#: Short token lifetime: the run outlives several tokens, so refreshes race across the workers.
TOKEN_LIFETIME = 45


@pytest.fixture(scope="module")
def report() -> ClusterReport:
    postgres_url()
    redis_url()
    spec = ClusterSpec(rate_per_second=3.0, token_lifetime=TOKEN_LIFETIME, pools={"bol_warehouse": 4})
    result = run_cluster(spec, days=4, max_active_runs=4, timeout=480)
    print(format_report(result))
    return result


def test_every_run_succeeds(report: ClusterReport) -> None:
    assert report.error is None
    assert report.backfill.ok, report.backfill
    assert len(report.backfill.run_states) == 4


def test_rows_equal_the_emulators_truth(report: ClusterReport) -> None:
    assert len(report.rows) == 2
    for check in report.rows:
        assert check.expected_items > 0, check.conn_id
        assert check.missing == [], check.conn_id
        assert check.unexpected == [], check.conn_id
        assert check.wrong == [], check.conn_id
        assert check.stored_orders == check.expected_orders, check.conn_id


def test_tasks_ran_on_both_workers(report: ClusterReport) -> None:
    assert set(report.hosts) == {"w1", "w2"}, report.hosts
    for host, counts in report.hosts.items():
        assert counts["sync_account.sync"] > 0, host


def test_one_token_per_credential_per_lifetime(report: ClusterReport) -> None:
    """No two token requests of a credential within 0.8 lifetimes, whichever worker refreshed."""
    assert len(report.credentials) == 2
    for figures in report.credentials:
        assert figures.token_requests >= 2, f"{figures.conn_id}: the run should outlive its first token"
        assert figures.max_tokens_in_window == 1, figures
        assert figures.min_token_gap_seconds is not None
        assert figures.min_token_gap_seconds >= TOKEN_WINDOW_FRACTION * TOKEN_LIFETIME, figures
