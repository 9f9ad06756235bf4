"""The evidence a full offers load needs before it flags a retailer's offers deleted."""

from __future__ import annotations

from typing import Any

from bolsync.offers.load import count
from bolsync.offers.transform import OFFERS
from bolsync_provider.errors import BolResponseError

#: The run param that confirms an empty offer list (the account really has no offers any more).
CONFIRM_EMPTY_PARAM = "confirm_empty"


class EmptyOfferList(BolResponseError):
    """A full source listed no offers for a retailer with live ones: not trusted without confirmation."""

    #: The alert's advice (a rerun or a cleared task fails the same way).
    what_to_do = (
        "Do not clear the task: it fails the same way. If the account really has no offers now, run the DAG "
        f"again with the param {CONFIRM_EMPTY_PARAM} = true (the error above shows how); otherwise wait for "
        "tomorrow's run or contact bol if the export stays empty."
    )


def check_empty_list(
    conn: Any, retailer_id: str, *, source: str, full: bool, listed: int, confirmed: bool, dag_id: str
) -> None:
    """Refuse a full load of zero offers over live ones unless the run confirms it (``confirm_empty``).

    An empty export or v11 sweep is what a failed or cut-off answer looks like, and loading it would flag every
    offer deleted; an incremental run never flags deletions, so it needs no evidence.
    """
    if not full or listed > 0 or confirmed:
        return
    live = count(conn, f"SELECT count(*) FROM {OFFERS.name} WHERE retailer_id = ? AND NOT deleted", [retailer_id])
    if live == 0:
        return
    what = "offer export" if source == "export" else "v11 full sweep"
    raise EmptyOfferList(
        f"bol's {what} for retailer {retailer_id} listed no offers, but {live} of its offers are live in "
        f"{OFFERS.name}. An empty list is also what a failed or cut-off answer looks like, so nothing was changed "
        f"and no offer was flagged deleted. If the account really has no offers now, run {dag_id} again with "
        f"the param {CONFIRM_EMPTY_PARAM} = true (UI: Trigger DAG with that param; CLI: airflow dags trigger "
        f"{dag_id} --conf '{{\"{CONFIRM_EMPTY_PARAM}\": true}}'). Clearing this task fails the same way."
    )
