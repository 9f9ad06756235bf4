"""
### bol.com data retention, daily (Apache Airflow DAG)

Every night (03:00 Europe/Amsterdam), whatever the sync DAGs did, purges what bolsync may no longer keep:

- **personal store** (`purge_personal_store`): contact details of opted-in accounts' customers after the
  account's `retention_days` (at once for accounts that opted out, were removed or are no longer synced),
  rows after the 7-year fiscal retention; every retailer in the store.
- **raw archive** (`purge_raw_archive`): archived API responses after `[bolsync] archive_retention_days`
  (opted-in accounts' after their `retention_days`).

Each try is recorded in `bol.retention_purges`. Active as soon as it is deployed: if no purge succeeds for two
days (paused, failing), the check at the start of every sync run and the coverage check alert.
"""

from __future__ import annotations

from datetime import datetime

from bolsync.retention.dag import retention_dag

dag = retention_dag(
    dag_id="bol_retention",
    cron="0 3 * * *",
    timezone="Europe/Amsterdam",
    start_date=datetime(2026, 1, 1),
    doc_md=__doc__,
)
