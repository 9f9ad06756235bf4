"""
### bol.com invoices and their specification lines, weekly and on demand (Apache Airflow DAG)

Syncs, for each account (Variable `bolsync_accounts` or run conf `{"accounts": [...]}`), the invoices bol issued
on the run's days into `bol.invoices`, and every line of their specification (commission, turnover, labels,
pick & pack, storage, return costs, corrections; each tied to its order, order item, EAN, shipment or return)
into `bol.invoice_lines`.

**Schedule: weekly**, Monday 00:00 Europe/Amsterdam, for the week (Monday to Sunday) of issue dates before it.
bol issues a seller's invoices once or twice a month (on the 1st, and the 16th for twice-monthly payouts), so
a daily run would list an empty week six days out of seven; a week after issue is soon enough for bookkeeping
and for the money per order line, and anyone who needs an invoice sooner triggers the DAG by hand. Each run's
first list request also names the week before its own (free: one request holds up to 31 days), so an invoice
bol published after the run that covered its issue date lands a week later.

**On demand**: Trigger with `period_start` and `period_end` (YYYY-MM-DD, issue dates, both included, ending
before today) to sync any period, e.g. after an invoice turned out to have a specification after all.
**Backfill past periods from the UI**: Trigger -> Backfill, pick the weeks. bol documents no history limit for
invoices, so every past week can be backfilled; each run lists its days in requests of at most 31 days (bol
answers 400 to longer ones). A week with no invoice is logged as an empty period and is covered.

**Covered** (`bol.sync_coverage`): the issue dates of the window were listed, and every invoice issued on them
was read and its lines reconciled with its totals per VAT rate (or recorded as having no JSON specification,
or held in `bol.quarantine`).

**Reads only what it lacks**: an issued invoice never changes (bol corrects one with correction lines on a
later invoice), so an invoice is read once (its specification pages and its UBL detail, one shared limit of
24 a minute); a known invoice costs nothing but its place in the list. Invoices whose lines do not add up to
their totals per VAT rate are held in `bol.quarantine` with the reason and alerted once (the rest lands), and
read again whenever a run lists them; invoices bol offers no JSON specification of (only xlsx, or none) are
recorded with their totals and reported once. Reruns and overlapping runs change no row.
"""

from __future__ import annotations

from datetime import datetime

from bolsync.invoices.dag import invoices_dag

dag = invoices_dag(
    dag_id="bol_invoices",
    cron="0 0 * * 1",
    timezone="Europe/Amsterdam",
    start_date=datetime(2026, 1, 1),
    doc_md=__doc__,
)
