"""Start-time configuration of the emulator: where it listens, its accounts, its world and its defaults.

The knobs that can change while it runs live in :mod:`bol_emulator.runtime`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class AccountConfig:
    """One retailer account: its client credentials and its retailer id."""

    client_id: str
    client_secret: str
    retailer_id: str
    orders_per_day: int | None = None

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> AccountConfig:
        """Build an account from a JSON object with ``client_id``, ``client_secret``, ``retailer_id``."""
        missing = [key for key in ("client_id", "client_secret", "retailer_id") if not raw.get(key)]
        if missing:
            raise ValueError(f"account {raw!r} lacks {', '.join(missing)}")
        per_day = raw.get("orders_per_day")
        return cls(
            client_id=str(raw["client_id"]),
            client_secret=str(raw["client_secret"]),
            retailer_id=str(raw["retailer_id"]),
            orders_per_day=int(per_day) if per_day is not None else None,
        )


def demo_accounts() -> list[AccountConfig]:
    """The two accounts of ``--accounts demo``."""
    return [
        AccountConfig("demo-client-a", "demo-secret-a", "1000001"),
        AccountConfig("demo-client-b", "demo-secret-b", "1000002"),
    ]


def load_accounts(spec: str) -> list[AccountConfig]:
    """``demo`` or the path of a JSON file holding a list of account objects."""
    if spec == "demo":
        return demo_accounts()
    raw = json.loads(Path(spec).read_text(encoding="utf-8"))
    if not isinstance(raw, list) or not raw:
        raise ValueError(f"{spec}: expected a non-empty JSON list of accounts")
    accounts = [AccountConfig.from_dict(item) for item in raw]
    for attr in ("client_id", "retailer_id"):
        values = [getattr(account, attr) for account in accounts]
        if len(set(values)) != len(values):
            raise ValueError(f"{spec}: duplicate {attr}")
    return accounts


@dataclass
class EmulatorConfig:
    """Everything ``start_emulator`` needs; the defaults match bol's production behaviour.

    ``host`` is the address to listen on (``0.0.0.0``: every interface); ``public_url`` (optional) is the
    base URL put in responses instead of one derived from each request's ``Host`` header; ``anchor``
    (default: the moment of start) is the world's "now" at start: same seed and anchor, same data.
    """

    host: str = "127.0.0.1"
    port: int = 0
    public_url: str | None = None
    seed: int = 42
    anchor: datetime | None = None
    accounts: list[AccountConfig] = field(default_factory=demo_accounts)
    orders_per_day: int = 40
    history_days: int = 30
    #: Relative order volume per day, most recent day first, repeated over ``history_days`` (e.g.
    #: ``(0.2, 1, 4)``: quiet, normal and peak days); empty = orders placed uniformly. The total stays
    #: ``orders_per_day * history_days``.
    day_weights: tuple[float, ...] = ()
    token_lifetime: int = 300
    code_flow_token_lifetime: int = 600
    rate_scale: float = 1.0
    retry_after: bool = True
    token_rate_limit: int = 20
    credential_rate_per_second: float | None = None
    export_pending_polls: int = 2
    export_pending_seconds: float = 0.0
    process_status_retention: float = 48 * 3600.0
    invoice_specification_page_size: int = 25_000
    verbose: bool = False
