"""Which failures alert, with what advice, and that duplicates are suppressed."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from bolsync.runs import alerts
from bolsync_provider.budget.shared_state.memory import MemorySharedState
from bolsync_provider.errors import BolAuthError, BolLoginError, BolServerError


def context(try_number: int = 1) -> dict:
    ti = SimpleNamespace(dag_id="d", run_id="r1", task_id="sync_account.extract", try_number=try_number, log_url="u")
    return {"ti": ti}


@pytest.mark.parametrize(
    ("error", "advice"),
    [
        (BolLoginError("login refused (HTTP 401: invalid_client)", status=401), "Recreate the API credentials"),
        (BolLoginError("login answered 404: blocked IP", status=404), "blocking this machine's IP"),
        (BolAuthError("GET /retailer/orders -> HTTP 403: Account is not active", status=403), "not active"),
        (BolLoginError("bol no longer accepts the refresh token (HTTP 400)", status=400), "authorize the app again"),
    ],
)
def test_auth_failures_alert_at_once_with_what_to_do(error: Exception, advice: str) -> None:
    alert = alerts.failure_alert(error, conn_id="bol_shop", retailer_id="123", context=context(), final=False)
    assert alert is not None
    assert alert.subject == "[bolsync] bol.com authentication failed for bol_shop"
    assert advice in alert.body
    assert str(error) in alert.body
    assert "Retailer: 123" in alert.body
    assert alert.key == "alert:d:r1:bol_shop"


def test_transient_errors_alert_only_when_retries_are_exhausted() -> None:
    error = BolServerError("GET /retailer/orders -> HTTP 503", status=503)
    assert alerts.failure_alert(error, conn_id="c", retailer_id=None, context=context(1), final=False) is None
    last = alerts.failure_alert(error, conn_id="c", retailer_id=None, context=context(4), final=True)
    assert last is not None
    assert "failed after 4 tries" in last.subject


def test_one_alert_per_key(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[str] = []
    monkeypatch.setattr(alerts, "_notify", lambda alert, context: sent.append(alert.subject))
    state = MemorySharedState()
    alert = alerts.Alert(key="alert:d:r1:c", subject="s", body="b")
    assert alerts.send(alert, {}, state)
    assert not alerts.send(alert, {}, state)
    assert sent == ["s"]


def test_a_broken_channel_never_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(alert: alerts.Alert, context: dict) -> None:
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setattr(alerts, "_notify", broken)
    assert not alerts.send(alerts.Alert(key="k", subject="s", body="b"), {}, MemorySharedState())


def test_an_alert_that_could_not_be_sent_is_sent_by_the_next_attempt_once(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[str] = []
    server_up = False

    def mail(alert: alerts.Alert, context: dict) -> None:
        if not server_up:
            raise ConnectionRefusedError("[Errno 111] Connection refused")
        sent.append(alert.subject)

    monkeypatch.setattr(alerts, "_notify", mail)
    state = MemorySharedState()
    alert = alerts.Alert(key="alert:window-too-old:bol_orders_daily:2026-09-01", subject="s", body="b")
    assert alerts.deliver(alert, {}, state) is alerts.Delivery.FAILED
    server_up = True
    assert alerts.deliver(alert, {}, state) is alerts.Delivery.SENT
    assert alerts.deliver(alert, {}, state) is alerts.Delivery.DUPLICATE
    assert sent == ["s"]


def test_without_an_alert_connection_the_alert_is_not_taken_for_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_BOLSYNC_ALERTS", raising=False)
    state = MemorySharedState()
    alert = alerts.Alert(key="k-no-channel", subject="s", body="b")
    assert alerts.deliver(alert, {}, state) is alerts.Delivery.FAILED
    assert state.claim_once(alert.key, 60)  # given back: a later attempt, once the channel exists, sends it


def test_a_broken_shared_state_sends_rather_than_loses_the_alert(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[str] = []
    monkeypatch.setattr(alerts, "_notify", lambda alert, context: sent.append(alert.key))

    class Broken(MemorySharedState):
        def claim_once(self, key: str, ttl: float) -> bool:
            raise OSError("shared state unreachable")

    assert alerts.send(alerts.Alert(key="k", subject="s", body="b"), {}, Broken())
    assert sent == ["k"]


def test_what_an_alert_is_about_comes_from_the_task_unless_it_says(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[alerts.Alert] = []
    monkeypatch.setattr(alerts, "_notify", lambda alert, context: seen.append(alert))
    dag = SimpleNamespace(tags=["bol", "orders", "hourly"])
    task_context = {"ti": context()["ti"], "dag": dag, "account_label": "bol_shop"}
    alerts.send(alerts.Alert(key="quarantine:bol_shop:O1", subject="s", body="b"), task_context, MemorySharedState())
    named = alerts.Alert(key="mass:x", subject="s", body="b", conn_id="other", stream="offers", retailer_id="9")
    alerts.send(named, task_context, MemorySharedState())
    assert [(a.conn_id, a.stream, a.retailer_id, a.kind) for a in seen] == [
        ("bol_shop", "orders", None, "quarantine"),
        ("other", "offers", "9", "mass"),
    ]


def test_secrets_are_redacted_before_the_alert_leaves(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[alerts.Alert] = []
    monkeypatch.setattr(alerts, "_notify", lambda alert, context: seen.append(alert))
    body = 'bol answered {"access_token": "eyJhbGciOiJSUzI1NiJ9.payload.signature"}'
    alerts.send(alerts.Alert(key="k-secret", subject="s", body=body), {}, MemorySharedState())
    assert "eyJhbGciOiJSUzI1NiJ9" not in seen[0].body


@pytest.mark.parametrize("conn_type", ["http", ""])
def test_an_unknown_channel_type_is_a_clear_error(conn_type: str) -> None:
    with pytest.raises(ValueError, match="use smtp, apprise, slackwebhook or slack"):
        alerts._notifier(conn_type, "bolsync_alerts", {}, alerts.Alert(key="k", subject="s", body="b"))


def test_smtp_channel_needs_recipients() -> None:
    with pytest.raises(ValueError, match="no extra 'to'"):
        alerts._notifier("smtp", "bolsync_alerts", {}, alerts.Alert(key="k", subject="s", body="b"))


def test_an_error_that_knows_its_fix_replaces_the_clear_the_task_advice() -> None:
    class EmptyList(Exception):
        what_to_do = "Do not clear the task: run the DAG again with the param confirm_empty = true."

    class Ti:
        dag_id, run_id, task_id, try_number = "bol_offers_daily", "r1", "sync_account.load", 1

    alert = alerts.failure_alert(
        EmptyList("bol's offer export listed no offers"),
        conn_id="shop",
        retailer_id="42",
        context={"ti": Ti()},
        final=True,
    )
    assert alert is not None
    assert "confirm_empty = true" in alert.body
    assert "clear the task to rerun it" not in alert.body
