"""A plan as text: the per-day table and totals for the CLI and the task log, one line for the run note."""

from __future__ import annotations

from bolsync.planner.plan import BUDGET_SOURCE, BackfillPlan


def duration(seconds: float) -> str:
    """``1 h 05 min``, ``12 min``, ``40 s``."""
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min" if minutes >= 10 else f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def history_line(plan: BackfillPlan) -> str:
    if plan.inside_history:
        return f"inside bol's 3 months of order history (bol serves from {plan.oldest_served})"
    return f"OUTSIDE bol's 3 months of order history: the first day bol still serves is {plan.oldest_served}"


def render(plan: BackfillPlan) -> str:
    """The readable plan."""
    lines = [
        f"Backfill plan for {plan.dag_id} (the daily DAG; the hourly DAG's change-interval queries differ), "
        f"account {plan.account} (retailer {plan.retailer_id})",
        f"Days {plan.first} .. {plan.last} (Europe/Amsterdam), {len(plan.days)} days: {history_line(plan)}",
        f"Estimated by: {plan.mode}"
        + (f" ({plan.probe_calls} order-list calls spent on the probe)" if plan.mode == "probe" else ""),
        "",
        f"{'day':<12}{'pages':>7}{'orders':>8}{'list calls':>12}{'details':>9}{'calls':>8}",
    ]
    for day in plan.days:
        lines.append(
            f"{day.day.isoformat():<12}{day.pages:>7}{day.orders:>8}{day.list_calls:>12}{day.details:>9}{day.calls:>8}"
        )
    limits = plan.limits
    lines += [
        f"{'total':<12}{sum(d.pages for d in plan.days):>7}{sum(d.orders for d in plan.days):>8}"
        f"{plan.list_calls:>12}{plan.details:>9}{plan.calls:>8}",
        "",
        f"API calls: {plan.calls} ({plan.list_calls} order-list pages incl. settle re-reads, {plan.details} order "
        "details for orders not yet in the warehouse)",
        f"Wall time: at least {duration(plan.wall_seconds)} at {limits.per_second:g}/s, {limits.hourly_left} of "
        f"{limits.per_hour}/h left, order list {limits.order_list[0]}/{limits.order_list[1]:g}s, order detail "
        f"{limits.order_detail[0]}/{limits.order_detail[1]:g}s; budget: {BUDGET_SOURCE}",
        f"Backfill: {plan.backfill_command()}",
        f"  or in the UI: {plan.dag_id} > Trigger > Backfill, {plan.first} .. {plan.last}, "
        f'run conf {{"accounts": ["{plan.account}"]}}; runs one after another avoid fetching an order twice',
    ]
    lines += [f"Note: {note}" for note in plan.notes]
    return "\n".join(lines)


def summary(plan: BackfillPlan) -> str:
    """One line for the DAG run note."""
    return (
        f"Plan {plan.account} {plan.first}..{plan.last} ({plan.dag_id}): {plan.calls} API calls "
        f"({plan.list_calls} list, {plan.details} details), at least {duration(plan.wall_seconds)}; "
        f"{history_line(plan)}; probe cost {plan.probe_calls} calls."
    )
