"""What a cluster run achieved, measured where it is true: the emulator's request timeline (what bol would
see), the task instances' hosts (Airflow's REST API) and the warehouse against the emulator's ground truth."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from bolsync_demo.api import AirflowClient, emulator_json
from bolsync_provider.budget.rate_budget import WINDOW_SAFETY_FRACTION
from tests.cluster.stack import Account
from tests.support.ground_truth import ITEM_COLUMNS
from tests.support.windows import max_in_window

#: A refresh is due a margin (10 % of the lifetime) before expiry, so two token requests of one credential
#: are at least ~0.9 lifetimes apart; any window of this fraction of a lifetime holds at most one.
TOKEN_WINDOW_FRACTION = 0.8


@dataclass(frozen=True)
class CredentialFigures:
    """One credential's API traffic as the emulator recorded it (rates over first to last API request)."""

    conn_id: str
    budget: float
    api_requests: int
    span_seconds: float
    rate: float
    max_in_1s: int
    answered_429: int
    token_requests: int
    token_lifetime: int
    token_span_seconds: float
    max_tokens_in_window: int
    min_token_gap_seconds: float | None
    mean_token_gap_seconds: float | None
    idle_seconds: float
    longest_gap_seconds: float
    #: Requests that arrived while the sliding second before them already held ``floor(budget)`` others.
    over_budget: int
    shortest_gap_seconds: float

    @property
    def budget_fraction(self) -> float:
        return self.rate / self.budget if self.budget else 0.0

    @property
    def lifetimes(self) -> int:
        """Token lifetimes the credential was in use: from its first token request to its last API request."""
        return max(1, math.ceil(self.token_span_seconds / self.token_lifetime))

    @property
    def tokens_per_lifetime(self) -> float:
        """Token requests per token lifetime in steady state: lifetime / mean gap between two of them
        (1.0 = one per lifetime; a refresh due 10 % before expiry gives ~1.1). With a single token: 1.0."""
        if not self.mean_token_gap_seconds:
            return float(min(self.token_requests, 1))
        return self.token_lifetime / self.mean_token_gap_seconds


def credential_figures(emulator_url: str, account: Account, budget: float, token_lifetime: int) -> CredentialFigures:
    """Rate, busiest second, 429s and token requests of one credential, from the emulator's timeline."""
    timeline = emulator_json(emulator_url, f"/_emulator/stats/timeline?client_id={account.client_id}", timeout=30)
    api = [entry for entry in timeline["api"] if entry["status"] != 0]
    tokens = sorted(entry["t"] for entry in timeline["token"])
    stamps = sorted(entry["t"] for entry in api)
    span = stamps[-1] - stamps[0] if len(stamps) > 1 else 0.0
    answered_429 = sum(e["answered_429"] for e in timeline["api"]) + sum(e["answered_429"] for e in timeline["token"])
    token_gaps = [later - earlier for earlier, later in itertools.pairwise(tokens)]
    request_gaps = [later - earlier for earlier, later in itertools.pairwise(stamps)]
    slot = (1 + WINDOW_SAFETY_FRACTION) / budget  # the budget's own spacing: a longer gap is idle time
    return CredentialFigures(
        conn_id=account.conn_id,
        budget=budget,
        api_requests=len(stamps),
        span_seconds=span,
        rate=(len(stamps) - 1) / span if span else 0.0,
        max_in_1s=max_in_window(stamps, 1.0),
        answered_429=answered_429,
        token_requests=len(tokens),
        token_lifetime=token_lifetime,
        token_span_seconds=(stamps[-1] - tokens[0]) if stamps and tokens else 0.0,
        max_tokens_in_window=max_in_window(tokens, TOKEN_WINDOW_FRACTION * token_lifetime),
        min_token_gap_seconds=min(token_gaps) if token_gaps else None,
        mean_token_gap_seconds=sum(token_gaps) / len(token_gaps) if token_gaps else None,
        idle_seconds=sum(max(0.0, gap - slot) for gap in request_gaps),
        longest_gap_seconds=max(request_gaps, default=0.0),
        over_budget=_over_budget(stamps, budget),
        shortest_gap_seconds=min(request_gaps, default=0.0),
    )


def _over_budget(stamps: list[float], budget: float) -> int:
    """Arrivals that made more than ``budget`` requests in a sliding second (``stamps`` sorted)."""
    allowed = max(1, math.floor(budget))
    return sum(1 for i in range(allowed, len(stamps)) if stamps[i] - stamps[i - allowed] < 1.0)


def tasks_per_host(client: AirflowClient, dag_id: str, run_ids: list[str]) -> dict[str, Counter[str]]:
    """Per task instance ``hostname`` (the worker that ran its last try): how many of each task it ran."""
    hosts: dict[str, Counter[str]] = {}
    for run_id in run_ids:
        for ti in client.task_instances(dag_id, run_id):
            host = ti.get("hostname") or "(none)"
            hosts.setdefault(host, Counter())[ti["task_id"]] += 1
    return hosts


@dataclass
class RowCheck:
    """One account's warehouse rows against the emulator's ground truth for the synced window."""

    conn_id: str
    expected_items: int = 0
    stored_items: int = 0
    expected_orders: int = 0
    stored_orders: int = 0
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    wrong: list[tuple[str, str, Any, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        exact = not (self.missing or self.unexpected or self.wrong)
        return exact and self.expected_items > 0 and self.stored_orders == self.expected_orders


def check_rows(warehouse_url: str, emulator_url: str, account: Account, start: datetime, end: datetime) -> RowCheck:
    """Items whose latest change is in [start, end) are stored at their current state; nothing else is
    stored but the other items of the same orders (a full order brings them); bol.orders holds exactly
    those orders. Compares every column the truth has."""
    import psycopg

    truth = {row["order_item_id"]: row for row in emulator_json(emulator_url, _truth_path(account), timeout=60)}
    expected = {i for i, row in truth.items() if start <= datetime.fromisoformat(row["latest_changed_at"]) < end}
    orders = {truth[i]["order_id"] for i in expected}
    allowed = {i for i, row in truth.items() if row["order_id"] in orders}
    columns = ", ".join(ITEM_COLUMNS)
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        if _no_tables(conn):
            return RowCheck(account.conn_id, len(expected), 0, len(orders), 0, missing=sorted(expected))
        items = conn.execute(
            f"SELECT order_item_id, {columns} FROM bol.order_items WHERE retailer_id = %s",
            [account.retailer_id],
        ).fetchall()
        order_rows = conn.execute(
            "SELECT order_id, order_placed_at, item_count FROM bol.orders WHERE retailer_id = %s",
            [account.retailer_id],
        ).fetchall()
    stored = {row[0]: dict(zip(ITEM_COLUMNS, row[1:], strict=True)) for row in items}
    check = RowCheck(account.conn_id, len(expected), len(items), len(orders), len(order_rows))
    check.missing = sorted(expected - stored.keys())
    check.unexpected = sorted(stored.keys() - allowed) + (["(duplicate keys)"] if len(stored) != len(items) else [])
    check.wrong = [
        (item, column, value, truth[item][column])
        for item, row in stored.items()
        if item in truth
        for column, value in row.items()
        if not _same(column, value, truth[item][column])
    ]
    of_order = Counter(row["order_id"] for row in truth.values())
    placed = {row["order_id"]: row["order_placed_at"] for row in truth.values()}
    for order_id, placed_at, item_count in order_rows:
        if order_id not in orders:
            check.unexpected.append(f"order {order_id}")
        elif item_count != of_order[order_id] or placed_at != datetime.fromisoformat(placed[order_id]):
            check.wrong.append((order_id, "order", (placed_at, item_count), (placed[order_id], of_order[order_id])))
    return check


def _no_tables(conn: Any) -> bool:
    """No load has created the warehouse tables yet."""
    row = conn.execute("SELECT to_regclass('bol.order_items') IS NULL OR to_regclass('bol.orders') IS NULL").fetchone()
    return bool(row and row[0])


def _truth_path(account: Account) -> str:
    return f"/_emulator/accounts/{account.client_id}/order-items"


def _same(column: str, stored: Any, truth: Any) -> bool:
    if column == "latest_changed_at":
        return bool(stored == datetime.fromisoformat(truth))
    if column in ("unit_price", "commission"):
        return stored is not None and truth is not None and Decimal(str(stored)) == Decimal(str(truth))
    return bool(stored == truth)


def api_calls_by_endpoint(emulator_url: str) -> dict[str, int]:
    """Answered API and token requests per endpoint (all statuses), from ``/_emulator/stats``."""
    stats = emulator_json(emulator_url, "/_emulator/stats", timeout=30)
    return {endpoint: sum(codes.values()) for endpoint, codes in stats["requests"].items()}
