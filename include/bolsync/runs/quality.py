"""The one style of data-quality check, shared by every stream.

A check is a function over a DB-API-like connection (anything with ``execute(sql, params)`` returning an
object with ``fetchall()``) in the SQL both DuckDB and PostgreSQL accept, with ``?`` parameters. It returns the
failures it found (:class:`CheckFailure`: the check's name, the problem and at most :data:`MAX_KEYS_SHOWN`
offending keys); :func:`enforce` turns failures into one :class:`QualityCheckFailed` (an
``AirflowFailException``: a retry cannot fix bad data) naming the checks, the account and the keys.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from bolsync.warehouse.base import Table

#: Offending keys named in a failure message (the count is always given).
MAX_KEYS_SHOWN = 20
#: Keys per ``IN (...)`` list (well below PostgreSQL's 65,535 parameters per statement).
IN_CHUNK = 1000


class QualityCheckFailed(AirflowFailException):
    """A data-quality check failed after a load; not retried (the data, not the try, is wrong)."""

    def __init__(self, failures: Sequence[CheckFailure], conn_id: str, retailer_id: str) -> None:
        self.failures = list(failures)
        names = ", ".join(f.check for f in failures)
        lines = [f"Data-quality check(s) failed for account '{conn_id}' (retailer {retailer_id}): {names}."]
        lines += [f"- {f.describe()}" for f in failures]
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class CheckFailure:
    """One failed check: its name, what is wrong, and (some of) the offending keys."""

    check: str
    problem: str
    keys: list[str] = field(default_factory=list)
    count: int = 0

    def describe(self) -> str:
        text = f"{self.check}: {self.problem}"
        if self.keys:
            shown = ", ".join(self.keys[:MAX_KEYS_SHOWN])
            more = f" (+{self.count - MAX_KEYS_SHOWN} more)" if self.count > MAX_KEYS_SHOWN else ""
            text += f" ({self.count}): {shown}{more}"
        return text


def rows(conn: Any, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    return list(conn.execute(sql, list(params)).fetchall())


def chunks(values: Iterable[str]) -> Iterable[list[str]]:
    ordered = sorted(values)
    for start in range(0, len(ordered), IN_CHUNK):
        yield ordered[start : start + IN_CHUNK]


def present(conn: Any, table: str, column: str, retailer_id: str, keys: Iterable[str]) -> set[str]:
    found: set[str] = set()
    for chunk in chunks(keys):
        marks = ", ".join("?" for _ in chunk)
        sql = f"SELECT DISTINCT {column} FROM {table} WHERE retailer_id = ? AND {column} IN ({marks})"
        found.update(str(row[0]) for row in rows(conn, sql, [retailer_id, *chunk]))
    return found


def limited(conn: Any, sql: str, params: Sequence[Any]) -> tuple[list[tuple[Any, ...]], int]:
    """The first rows of ``sql`` (enough to show) and how many it has in all."""
    count = rows(conn, f"SELECT count(*) FROM ({sql}) AS offending", params)[0][0]
    if not count:
        return [], 0
    return rows(conn, f"{sql} ORDER BY 1 LIMIT {MAX_KEYS_SHOWN}", params), int(count)


def check_key(
    conn: Any, check: str, table: Table, retailer_id: str, also_not_null: Sequence[str] = ()
) -> list[CheckFailure]:
    """``check``: ``table``'s declared key is unique and not null for the retailer."""
    failures = []
    key = [c for c in table.key if c != "retailer_id"]
    key_sql = ", ".join(key)
    found, count = limited(
        conn,
        f"SELECT {key_sql}, count(*) FROM {table.name} WHERE retailer_id = ? AND "
        + " AND ".join(f"{c} IS NOT NULL" for c in key)
        + f" GROUP BY {key_sql} HAVING count(*) > 1",
        [retailer_id],
    )
    if count:
        keys = [f"{', '.join(str(v) for v in row[:-1])} (x{row[-1]})" for row in found]
        failures.append(CheckFailure(check, f"duplicate {key_sql} in {table.name}", keys, count))
    null_columns = [*key, *also_not_null]
    where = " OR ".join(f"{c} IS NULL" for c in null_columns)
    found, count = limited(
        conn, f"SELECT {', '.join(null_columns)} FROM {table.name} WHERE retailer_id = ? AND ({where})", [retailer_id]
    )
    if count:
        keys = [
            ", ".join(f"{c}={v if v is not None else 'NULL'}" for c, v in zip(null_columns, row, strict=True))
            for row in found
        ]
        failures.append(CheckFailure(check, f"null {' or '.join(null_columns)} in {table.name}", keys, count))
    return failures


def enforce(failures: Sequence[CheckFailure], conn_id: str, retailer_id: str) -> None:
    """Raise :class:`QualityCheckFailed` when any check failed."""
    if failures:
        raise QualityCheckFailed(failures, conn_id, retailer_id)
