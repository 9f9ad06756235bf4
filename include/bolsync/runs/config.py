"""Every pipeline setting, typed and validated in one place.

Settings come from Airflow Variables (changeable at run time in the UI) or ``[bolsync]`` settings (airflow.cfg
or ``AIRFLOW__BOLSYNC__<KEY>``), both read through :mod:`bolsync_provider.config`. A bad value is a
:class:`BolConfigError` that names the setting and what it accepts; a renamed setting still set under its old
name is reported with the name that replaced it.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bolsync_provider.config import get_variable, setting
from bolsync_provider.errors import BolConfigError

log = logging.getLogger(__name__)

ACCOUNTS_VARIABLE = "bolsync_accounts"
DEFAULT_ACCOUNTS = ("bol_retailer_default",)
STALE_AFTER_VARIABLE = "bolsync_stale_after_hours"
#: A daily-only deployment syncs every 24 h; two hours of slack before calling the data stale.
DEFAULT_STALE_AFTER_HOURS = 26.0
OFFERS_SOURCE_VARIABLE = "bolsync_offers_source"
OFFERS_SOURCES = ("export", "v11")
DEFAULT_OFFERS_SOURCE = "export"
OFFERS_POLL_VARIABLE = "bolsync_offers_poll_seconds"
DEFAULT_OFFERS_POLL_SECONDS = 5.0
DUCKDB_MEMORY_SETTING = "duckdb_memory_limit"
#: DuckDB's own default is 80 % of the machine's RAM, per task process; a worker runs several.
DEFAULT_DUCKDB_MEMORY_LIMIT = "512MB"
ALERT_CONN_SETTING = "alert_conn_id"
DEFAULT_ALERT_CONN_ID = "bolsync_alerts"
STAGING_DIR_ENV = "BOLSYNC_STAGING_DIR"
ARCHIVE_URL_SETTING = "archive_url"
#: Values of ``[bolsync] archive_url`` that turn the raw archive off.
ARCHIVE_OFF = ("off", "false", "no", "none")
ARCHIVE_RETENTION_SETTING = "archive_retention_days"
DEFAULT_ARCHIVE_RETENTION_DAYS = 30
MAX_ARCHIVE_RETENTION_DAYS = 3660
MASS_DELETION_PERCENT_SETTING = "mass_deletion_percent"
DEFAULT_MASS_DELETION_PERCENT = 10.0
MASS_DELETION_COUNT_SETTING = "mass_deletion_count"
DEFAULT_MASS_DELETION_COUNT = 20
RETURNS_MARGIN_SETTING = "returns_registration_margin_minutes"
#: How long after its registration time a return may first be listed (bol's clock against ours, listing delays).
DEFAULT_RETURNS_MARGIN_MINUTES = 180.0
SHIPMENTS_MARGIN_SETTING = "shipments_listing_margin_minutes"
#: How long after its shipment time a shipment may first be listed (bol's clock against ours, listing delays).
DEFAULT_SHIPMENTS_MARGIN_MINUTES = 60.0
SHIPMENTS_REFRESH_SETTING = "shipments_event_refresh_days"
#: How many days after shipping the daily run re-reads a shipment whose journey has not ended.
DEFAULT_SHIPMENTS_REFRESH_DAYS = 14
#: Variables an earlier version read, and what replaced them.
RETIRED_VARIABLES = {
    "bolsync_freshness_hours": f"Variable {STALE_AFTER_VARIABLE} (one freshness check: hours without a successful "
    "load before an alert)",
}


def number(name: str, raw: Any, *, default: float, minimum: float, maximum: float) -> float:
    """``raw`` as a finite number in ``[minimum, maximum]`` (``default`` when unset), else BolConfigError."""
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value) or not minimum <= value <= maximum:
        raise BolConfigError(f"{name} must be a number from {minimum:g} to {maximum:g}, got {raw!r}.")
    return value


def resolve_accounts(params: Mapping[str, Any] | None, variable_value: str | None) -> list[str]:
    """The run's ``accounts`` param (trigger form or run conf), else Variable ``bolsync_accounts``, else the default."""
    source = "the run's 'accounts' param"
    value: Any = (params or {}).get("accounts")
    if value is None and variable_value:
        source = f"Variable {ACCOUNTS_VARIABLE}"
        try:
            value = json.loads(variable_value)
        except ValueError:
            value = [part.strip() for part in variable_value.split(",") if part.strip()]
    if value is None:
        return list(DEFAULT_ACCOUNTS)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise BolConfigError(
            f"{source} must be a non-empty list of bol_retailer connection ids, e.g. "
            f'["bol_retailer_default", "bol_retailer_shop2"]; got {value!r}.'
        )
    return list(dict.fromkeys(v.strip() for v in value))


def accounts(params: Mapping[str, Any] | None) -> list[str]:
    """The connection ids a run syncs (see :func:`resolve_accounts`)."""
    return resolve_accounts(params, get_variable(ACCOUNTS_VARIABLE))


def stale_after_hours(raw: str | None = None, *, read: bool = True) -> float:
    """Hours without a successful load before the account counts as stale (Variable ``bolsync_stale_after_hours``)."""
    if read:
        raw = get_variable(STALE_AFTER_VARIABLE)
        warn_retired()
    return number(
        f"Variable {STALE_AFTER_VARIABLE}", raw, default=DEFAULT_STALE_AFTER_HOURS, minimum=1, maximum=24 * 92
    )


def resolve_offers_source(params: Mapping[str, Any] | None, variable_value: str | None) -> str:
    """Run param ``source``, else Variable ``bolsync_offers_source``, else ``export``."""
    value = (params or {}).get("source") or (variable_value or "").strip().strip('"') or DEFAULT_OFFERS_SOURCE
    if value not in OFFERS_SOURCES:
        raise BolConfigError(
            f"offers source {value!r} is not supported: set the param 'source' or the Variable "
            f"'{OFFERS_SOURCE_VARIABLE}' to 'export' (v10 CSV export, default) or 'v11' (v11 offer list)."
        )
    return str(value)


def offers_source(params: Mapping[str, Any] | None) -> str:
    return resolve_offers_source(params, get_variable(OFFERS_SOURCE_VARIABLE))


def offers_poll_seconds(default: float = DEFAULT_OFFERS_POLL_SECONDS) -> float:
    """Seconds before the first process-status poll of the offer export (then doubling)."""
    raw = get_variable(OFFERS_POLL_VARIABLE)
    return number(f"Variable {OFFERS_POLL_VARIABLE}", raw, default=default, minimum=0.1, maximum=600)


def duckdb_memory_limit() -> str:
    """DuckDB's memory limit per connection (``[bolsync] duckdb_memory_limit``, e.g. ``1GB``)."""
    return setting(DUCKDB_MEMORY_SETTING) or DEFAULT_DUCKDB_MEMORY_LIMIT


def alert_conn_id() -> str:
    """The Airflow connection alerts go to (``[bolsync] alert_conn_id``)."""
    return setting(ALERT_CONN_SETTING) or DEFAULT_ALERT_CONN_ID


def staging_root(default: Path) -> Path:
    """Where staged API data goes: ``$BOLSYNC_STAGING_DIR``, else ``default``."""
    configured = os.environ.get(STAGING_DIR_ENV)
    return Path(configured) if configured else default


def archive_url(default: Path) -> str | None:
    """Where raw API responses are archived (``[bolsync] archive_url``): a folder or an fsspec URL such as
    ``s3://bucket/bolsync``; ``default`` when unset; None when set to ``off``."""
    raw = (setting(ARCHIVE_URL_SETTING) or "").strip()
    if not raw:
        return str(default)
    if raw.lower() in ARCHIVE_OFF:
        return None
    if "://" not in raw:
        return str(Path(raw).expanduser().resolve())
    protocol = raw.split("://", 1)[0].lower()
    import fsspec

    if protocol not in fsspec.available_protocols():
        raise BolConfigError(
            f"[bolsync] {ARCHIVE_URL_SETTING} {raw.split('://', 1)[0]!r}:// is not a storage fsspec knows; use a "
            "folder, file://, s3://, gs://, abfs:// or another fsspec protocol (with its package installed), or "
            "'off' to archive nothing."
        )
    return raw


def archive_retention_days(raw: str | None = None, *, read: bool = True) -> int:
    """Days an archived run is kept (``[bolsync] archive_retention_days``, a whole number from 1 to 3660)."""
    if read:
        raw = setting(ARCHIVE_RETENTION_SETTING)
    name = f"[bolsync] {ARCHIVE_RETENTION_SETTING}"
    value = number(name, raw, default=DEFAULT_ARCHIVE_RETENTION_DAYS, minimum=1, maximum=MAX_ARCHIVE_RETENTION_DAYS)
    if not float(value).is_integer():
        raise BolConfigError(f"{name} must be a whole number of days, got {raw!r}.")
    return int(value)


def mass_deletion_percent(raw: str | None = None, *, read: bool = True) -> float:
    """The share of an account's live records (0-100 %) above which a full list's deletions need confirmation
    (``[bolsync] mass_deletion_percent``; see ``runs.evidence``)."""
    if read:
        raw = setting(MASS_DELETION_PERCENT_SETTING)
    text = raw.strip().removesuffix("%").strip() if isinstance(raw, str) else raw
    return number(
        f"[bolsync] {MASS_DELETION_PERCENT_SETTING} (percent of the live records a full list may flag deleted "
        "without confirmation)",
        text,
        default=DEFAULT_MASS_DELETION_PERCENT,
        minimum=0,
        maximum=100,
    )


def mass_deletion_count(raw: str | None = None, *, read: bool = True) -> int:
    """The number of live records above which a full list's deletions need confirmation
    (``[bolsync] mass_deletion_count``, a whole number; see ``runs.evidence``)."""
    if read:
        raw = setting(MASS_DELETION_COUNT_SETTING)
    name = f"[bolsync] {MASS_DELETION_COUNT_SETTING} (records a full list may flag deleted without confirmation)"
    value = number(name, raw, default=DEFAULT_MASS_DELETION_COUNT, minimum=0, maximum=10**9)
    if not float(value).is_integer():
        raise BolConfigError(f"{name} must be a whole number, got {raw!r}.")
    return int(value)


def returns_registration_margin_minutes(raw: str | None = None, *, read: bool = True) -> float:
    """Minutes a return may be listed after its registration time says (``[bolsync]
    returns_registration_margin_minutes``, 0-10080): the handled return lists are read that far past the last
    complete scan's start (see ``returns.extract``)."""
    if read:
        raw = setting(RETURNS_MARGIN_SETTING)
    return number(
        f"[bolsync] {RETURNS_MARGIN_SETTING} (minutes a return may be listed after its registration time)",
        raw,
        default=DEFAULT_RETURNS_MARGIN_MINUTES,
        minimum=0,
        maximum=7 * 24 * 60,
    )


def shipments_listing_margin_minutes(raw: str | None = None, *, read: bool = True) -> float:
    """Minutes a shipment may be listed after its shipment time says (``[bolsync] shipments_listing_margin_minutes``,
    0-10080): the shipment lists are read that far past the last complete scan's start (see ``shipments.extract``)."""
    if read:
        raw = setting(SHIPMENTS_MARGIN_SETTING)
    return number(
        f"[bolsync] {SHIPMENTS_MARGIN_SETTING} (minutes a shipment may be listed after its shipment time)",
        raw,
        default=DEFAULT_SHIPMENTS_MARGIN_MINUTES,
        minimum=0,
        maximum=7 * 24 * 60,
    )


def shipments_event_refresh_days(raw: str | None = None, *, read: bool = True) -> int:
    """Days after shipping during which the daily run re-reads a shipment whose journey has not ended, for its
    transport events (``[bolsync] shipments_event_refresh_days``, 0-92; 0: never)."""
    if read:
        raw = setting(SHIPMENTS_REFRESH_SETTING)
    name = f"[bolsync] {SHIPMENTS_REFRESH_SETTING} (days the transport events of a shipment are re-read)"
    value = number(name, raw, default=DEFAULT_SHIPMENTS_REFRESH_DAYS, minimum=0, maximum=92)
    if not float(value).is_integer():
        raise BolConfigError(f"{name} must be a whole number, got {raw!r}.")
    return int(value)


def warn_retired() -> None:
    """Log a warning for every retired Variable that is still set, naming what replaced it."""
    for old, new in RETIRED_VARIABLES.items():
        if get_variable(old) is not None:
            log.warning("Variable %s is no longer read; use %s, and delete %s.", old, new, old)
