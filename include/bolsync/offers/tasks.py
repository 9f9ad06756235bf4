"""The Airflow tasks of the offers DAG: extract (deferrable export wait, or v11 pages), load, quality check.

Light to import: what they run (``offers.extract_steps``, ``offers.load_steps``) is imported when they run.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import BaseOperator, get_current_context, task

from bolsync.runs import assets, config
from bolsync.runs.defaults import WAREHOUSE_POOL


class OffersExtractOperator(BaseOperator):
    """Fetch one account's offers: the v10 export (defers while bol prepares the file) or the v11 list.

    ``deferrable=False`` polls in the worker instead (for setups without a triggerer).
    """

    template_fields = ("conn_id",)

    def __init__(
        self,
        *,
        conn_id: str,
        poll_interval: float = config.DEFAULT_OFFERS_POLL_SECONDS,
        max_poll_interval: float = 60.0,
        export_timeout: timedelta = timedelta(hours=3),
        deferrable: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self.export_timeout = export_timeout
        self.deferrable = deferrable

    def execute(self, context: Any) -> dict[str, Any]:
        from bolsync.offers.extract_steps import start_extract, wait_in_worker

        started = start_extract(
            context,
            self.conn_id,
            poll_interval=self.poll_interval,
            max_poll_interval=self.max_poll_interval,
            export_timeout=self.export_timeout,
        )
        if isinstance(started, dict):
            return started
        if not self.deferrable:
            return self.execute_complete(context, wait_in_worker(started))
        self.defer(trigger=started, method_name="execute_complete", timeout=self.export_timeout + timedelta(minutes=10))
        raise AssertionError("unreachable: defer raises")

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resumed after the trigger fired: download the file on SUCCESS, fail clearly otherwise."""
        from bolsync.offers.extract_steps import finish_export

        return finish_export(context, event)


@task(
    task_id="load",
    pool=WAREHOUSE_POOL,
    map_index_template="{{ account_label }}",
    outlets=assets.OFFERS_LOAD_OUTLETS,
)
def load_offers(payload: dict[str, Any]) -> dict[str, Any]:
    """Upsert one account's staged offers, flag deletions (full sources), write the day's snapshot."""
    from bolsync.offers.load_steps import load_staged

    return load_staged(get_current_context(), payload)


@task(pool=WAREHOUSE_POOL, map_index_template="{{ account_label }}")
def check_quality(loaded: dict[str, Any]) -> dict[str, Any]:
    """After the load: every source offer live and loaded once, keys unique and not null (``offers.quality``)."""
    from bolsync.offers.load_steps import check_loaded

    return check_loaded(get_current_context(), loaded)
