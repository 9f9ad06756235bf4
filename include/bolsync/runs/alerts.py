"""Alerts through Airflow notifiers: one per DAG run and account, saying what happened and what to do.

The channel is an Airflow connection (``[bolsync] alert_conn_id``, default ``bolsync_alerts``) whose type
picks the notifier: ``smtp`` (e-mail, the default; extra ``to`` and ``from_email``), ``apprise`` or
``slackwebhook``/``slack`` (their providers must be installed). Duplicates are suppressed with a one-time
claim in the shared state, so retries, parallel tasks and several workers still send one message: the claim
is held for ``SENDING_SECONDS`` while the message is sent, for ``DEDUPE_SECONDS`` once it got out, and given
back when it could not be sent, so the next task that raises the alert sends it. Every attempt is recorded
in ``bol.alerts`` (``runs.alert_log``).
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from bolsync.runs import alert_log
from bolsync.runs.config import STALE_AFTER_VARIABLE, alert_conn_id
from bolsync.runs.coverage import stream_of
from bolsync_provider.budget.shared_state import SharedState, shared_state
from bolsync_provider.errors import BolAuthError, BolLoginError, BolWindowTooOld
from bolsync_provider.redaction import redact

log = logging.getLogger(__name__)

#: How long a sent alert suppresses its duplicates.
DEDUPE_SECONDS = 30 * 24 * 3600
#: How long an alert being sent suppresses its duplicates (a process killed mid-send frees it after this).
SENDING_SECONDS = 15 * 60


@dataclass(frozen=True)
class Alert:
    """One message; ``key`` identifies its duplicates.

    ``conn_id``, ``stream`` and ``retailer_id`` say what it is about (by default the task's account and its
    DAG's stream); ``kind`` how it is cleared (by default the key up to its first ``:``; see ``alert_log``).
    """

    key: str
    subject: str
    body: str
    conn_id: str | None = None
    stream: str | None = None
    retailer_id: str | None = None
    kind: str | None = None


class NoAlertChannel(LookupError):
    """The alert connection does not exist."""


def what_to_do(error: BaseException) -> str:
    """The action that fixes an auth failure, from what bol answered."""
    status = getattr(error, "status", None)
    text = str(error)
    if "refresh token" in text:
        return "Have the seller authorize the app again and store the new code (see the error above)."
    if isinstance(error, BolLoginError) and status == 404:
        return "bol is blocking this machine's IP address: stop the sync and contact bol partner service."
    if isinstance(error, BolLoginError):
        return (
            "Recreate the API credentials in the bol Seller Dashboard (Settings > API settings) and update "
            "the connection's Client ID and Client Secret."
        )
    if status == 403:
        return "Check the seller account in the bol Seller Dashboard: it is not active or lacks access."
    return "Check the connection's credentials and the seller account in the bol Seller Dashboard."


def failure_alert(
    error: BaseException, *, conn_id: str, retailer_id: str | None, context: Any, final: bool
) -> Alert | None:
    """The alert for a failed task try, or None when retries can still succeed."""
    ti = context["ti"]
    where = (
        f"Connection: {conn_id}\nRetailer: {retailer_id or 'unknown'}\n"
        f"DAG run: {ti.dag_id} / {ti.run_id}\nTask: {ti.task_id} (try {ti.try_number})\n"
        f"Log: {getattr(ti, 'log_url', '')}\n"
    )
    key = f"alert:{ti.dag_id}:{ti.run_id}:{conn_id}"
    if isinstance(error, BolWindowTooOld):
        return replace(
            window_too_old_alert(error, where=where, dag_id=ti.dag_id), conn_id=conn_id, retailer_id=retailer_id
        )
    if isinstance(error, BolAuthError):
        return Alert(
            key=key,
            subject=f"[bolsync] bol.com authentication failed for {conn_id}",
            body=f"{where}\nWhat bol answered:\n{error}\n\nWhat to do:\n{what_to_do(error)}\n\n"
            "This account is skipped until it is fixed; the other accounts keep syncing.",
            conn_id=conn_id,
            retailer_id=retailer_id,
            kind="auth",
        )
    if not final:
        return None
    advice = getattr(error, "what_to_do", None) or (
        "Read the task log; if bol had an outage, clear the task to rerun it (reruns are idempotent)."
    )
    return Alert(
        key=key,
        subject=f"[bolsync] sync of {conn_id} failed after {ti.try_number} tries",
        body=f"{where}\nLast error:\n{type(error).__name__}: {error}\n\nWhat to do:\n{advice}",
        conn_id=conn_id,
        retailer_id=retailer_id,
        kind="sync_failed",
    )


def window_too_old_alert(error: BolWindowTooOld, *, where: str, dag_id: str) -> Alert:
    """An input error: the run asks for history bol no longer keeps. A rerun fails the same way, so the advice
    is a new backfill from the first date bol still serves. One alert per DAG and first-served date: every
    too-old run of a backfill (and every account of it) shares it."""
    first = error.first_served.isoformat() if error.first_served else "the date 3 months ago"
    return Alert(
        key=f"alert:window-too-old:{dag_id}:{first}",
        subject=f"[bolsync] {dag_id}: a run asks for order history older than bol keeps (before {first})",
        body=f"{where}\nWhat happened:\n{error}\n\nWhat to do:\nThis is an input error: rerunning or clearing these "
        f"runs fails again. bol serves order history from {first} on. Start the backfill there: in the Airflow UI, "
        f"{dag_id} > Trigger > Backfill with From = {first}; or `airflow backfill create --dag-id {dag_id} "
        f"--from-date {first} --to-date <last day>`. History before {first} is gone at bol.\n\n"
        "Other runs of this backfill that ask for too-old days fail the same way and are not alerted again.",
        kind="window_too_old",
    )


def stale_alert(conn_id: str, hours: float, last_success: str | None, threshold_hours: float) -> Alert:
    """The alert for an account whose data has gone stale."""
    since = f"since {last_success}" if last_success else "ever"
    return Alert(
        key=f"stale:{conn_id}:{last_success or 'never'}",
        subject=f"[bolsync] no successful sync of {conn_id} for {hours:.0f} hours",
        body=f"Connection: {conn_id}\nNo successful load {since} ({hours:.1f} h; threshold {threshold_hours:g} h, "
        f"Variable {STALE_AFTER_VARIABLE}).\n\nWhat to do:\nLook at the failed runs of the bol_orders DAGs; "
        "earlier alerts name the cause. The warehouse is missing everything bol changed since then.",
        conn_id=conn_id,
        kind="stale",
    )


class Delivery(enum.Enum):
    """What became of an alert: sent now, sent (or being sent) by another task, or not sent."""

    SENT = "sent"
    DUPLICATE = "duplicate"
    FAILED = "failed"


def send(alert: Alert, context: Any, state: SharedState | None = None) -> bool:
    """Send ``alert`` unless an identical one went out already or is going out; True when it was sent now."""
    return deliver(alert, context, state) is Delivery.SENT


def deliver(alert: Alert, context: Any, state: SharedState | None = None) -> Delivery:
    """:func:`send`, saying whether a message not sent now went out elsewhere or could not be sent.

    Never raises (the task's error wins). A message that could not be sent gives its claim back, so the next
    task that raises the same alert sends it; every attempt is recorded (``alert_log``).
    """
    alert = _about(alert, context)
    store: SharedState | None = state
    try:
        store = store or shared_state()
        if not store.claim_once(alert.key, SENDING_SECONDS):
            log.info("Alert %r was sent already (by this run or another task); not sending it again.", alert.key)
            return Delivery.DUPLICATE
    except Exception:
        log.exception("The shared state cannot say whether alert %r went out; sending it anyway.", alert.key)
        store = None
    redacted = replace(alert, subject=redact(alert.subject), body=redact(alert.body))  # no secret ever leaves
    try:
        _notify(redacted, context)
    except Exception as error:
        log.error(
            "Could not send the alert %r (%s); the next task that raises it sends it. Its text:\n%s\n%s",
            alert.key,
            redact(f"{type(error).__name__}: {error}"),
            redacted.subject,
            redacted.body,
            exc_info=not isinstance(error, NoAlertChannel),
        )
        _claim(store, alert.key, None)
        _record(redacted, context, error=redact(f"{type(error).__name__}: {error}"))
        return Delivery.FAILED
    _claim(store, alert.key, DEDUPE_SECONDS)
    log.warning("Sent alert: %s", redacted.subject)
    _record(redacted, context, error=None)
    return Delivery.SENT


def _about(alert: Alert, context: Any) -> Alert:
    """``alert`` with what the task's context tells about it where the alert does not say."""
    get = getattr(context, "get", None)
    if get is None:
        return alert
    label = get("account_label")
    return replace(
        alert,
        conn_id=alert.conn_id or (str(label) if label else None),
        stream=alert.stream or stream_of(context),
        kind=alert.kind or alert.key.split(":", 1)[0],
    )


def _claim(store: SharedState | None, key: str, seconds: float | None) -> None:
    """Hold the claim on ``key`` for ``seconds`` from now, or give it back (None)."""
    if store is None:
        return
    try:
        store.release_claim(key)
        if seconds is not None:
            store.claim_once(key, seconds)
    except Exception:
        log.exception("Could not update the shared-state claim of alert %r.", key)


def _record(alert: Alert, context: Any, error: str | None) -> None:
    ti = context.get("ti") if hasattr(context, "get") else None
    alert_log.note(
        alert_log.AlertAttempt(
            key=alert.key,
            kind=alert.kind or alert.key.split(":", 1)[0],
            subject=alert.subject,
            body=alert.body,
            at=datetime.now(UTC),
            sent=error is None,
            error=error,
            conn_id=alert.conn_id,
            retailer_id=alert.retailer_id,
            stream=alert.stream,
            dag_id=getattr(ti, "dag_id", None),
            run_id=getattr(ti, "run_id", None),
            task_id=getattr(ti, "task_id", None),
        )
    )


def _notify(alert: Alert, context: Any) -> None:
    from airflow.sdk import BaseHook

    conn_id = alert_conn_id()
    try:
        conn = BaseHook.get_connection(conn_id)
    except Exception:
        raise NoAlertChannel(
            f"no alert channel: create the Airflow connection '{conn_id}' (smtp, apprise or slackwebhook)"
        ) from None
    notifier = _notifier(conn.conn_type or "", conn_id, conn.extra_dejson, alert)
    notifier.notify(context)


def _notifier(conn_type: str, conn_id: str, extra: dict[str, Any], alert: Alert) -> Any:
    if conn_type in ("smtp", "email"):
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        to = extra.get("to")
        if not to:
            raise ValueError(f"alert connection '{conn_id}' has no extra 'to' (comma-separated addresses)")
        html = "<pre>" + alert.body.replace("&", "&amp;").replace("<", "&lt;") + "</pre>"
        return SmtpNotifier(
            to=to,
            from_email=extra.get("from_email"),
            subject=alert.subject,
            html_content=html,
            smtp_conn_id=conn_id,
        )
    if conn_type == "apprise":
        from airflow.providers.apprise.notifications.apprise import AppriseNotifier

        return AppriseNotifier(title=alert.subject, body=alert.body, apprise_conn_id=conn_id)
    if conn_type == "slackwebhook":
        from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier

        return SlackWebhookNotifier(slack_webhook_conn_id=conn_id, text=f"*{alert.subject}*\n{alert.body}")
    if conn_type == "slack":
        from airflow.providers.slack.notifications.slack import SlackNotifier

        return SlackNotifier(slack_conn_id=conn_id, text=f"*{alert.subject}*\n{alert.body}", channel=extra["channel"])
    raise ValueError(f"alert connection '{conn_id}' has type '{conn_type}'; use smtp, apprise, slackwebhook or slack")
