"""The page's HTML: values escaped, the age of a kept summary said, the chart's bars proportional."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from bolsync.ui.render import chart, page
from bolsync.ui.snapshot import Snapshot

NOW = datetime(2026, 11, 30, 7, tzinfo=UTC)


def summary() -> dict:
    days = ["2026-11-29", "2026-11-30"]
    metric = {"day": "2026-11-29", "api_calls": 100, "throttled": 25, "token_requests": 1, "rate_wait_seconds": 4.0}
    return {
        "generated_at": NOW.isoformat(),
        "backend": "duckdb",
        "days": days,
        "alerts": [],
        "accounts": [
            {
                "conn_id": "bol_<shop>",
                "retailer_id": "1234567",
                "streams": [{"stream": "orders", "title": "orders", "states": ["hole", "none"], "holes": []}],
                "runs": [
                    {
                        "dag_id": "bol_orders_daily",
                        "run_id": "scheduled__2026-11-29T23:00:00+00:00",
                        "task_id": "load",
                        "stream": "orders",
                        "status": "failed",
                        "started_at": NOW.isoformat(),
                        "finished_at": NOW.isoformat(),
                        "api_calls": 3,
                        "error": "<script>alert(1)</script>",
                    }
                ],
                "metrics": [metric, {**metric, "day": "2026-11-30", "api_calls": 50, "throttled": 0}],
                "alerts": [],
                "last_auth_failure": None,
            }
        ],
    }


def test_values_are_escaped_and_runs_link_to_their_run_page() -> None:
    html = page(Snapshot(summary(), NOW), NOW, {}, [], "/base")
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<h2>bol_&lt;shop&gt; (retailer 1234567)</h2>" in html
    assert 'href="/base/dags/bol_orders_daily/runs/scheduled__2026-11-29T23%3A00%3A00%2B00%3A00"' in html
    assert 'title="2026-11-29: hole"' in html
    assert html.count("<script>") == 1  # the one that moves the UI to a link's page (its frame may not)
    assert 'target="_top"' not in html


def test_a_kept_summary_says_why_and_how_old_it_is() -> None:
    later = NOW + timedelta(minutes=7)
    html = page(Snapshot(summary(), NOW, "a load holds the warehouse"), later, {}, [], "")
    assert "Read from the duckdb warehouse 7 min ago: a load holds the warehouse, so this is the last summary." in html
    missing = page(
        Snapshot(None, None, "a load holds the warehouse and no earlier summary is kept yet"), NOW, {}, [], ""
    )
    assert "No summary to show: a load holds the warehouse and no earlier summary is kept yet." in missing


def test_the_chart_bars_are_proportional_to_the_calls_and_the_429s_red() -> None:
    svg = chart(summary()["accounts"][0]["metrics"], width=200, height=80)
    heights = [float(h) for h in re.findall(r'<rect [^>]*height="([\d.]+)"', svg)]
    assert heights == [80.0, 20.0, 40.0]  # 100 calls, 25 of them 429s, then 50 calls
    assert "2026-11-29: 100 calls, 25 429s, 1 token requests, 4.0s budget wait" in svg
