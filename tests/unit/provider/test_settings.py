from __future__ import annotations

import pytest

from bolsync_provider.errors import BolConfigError
from bolsync_provider.settings import DEFAULT_ENDPOINT_LIMITS, BolConnectionSettings


def _settings(**extra: object) -> BolConnectionSettings:
    return BolConnectionSettings.from_connection("c", "id", "secret", extra)


def test_defaults() -> None:
    settings = _settings()
    assert settings.api_url == "https://api.bol.com"
    assert settings.login_url == "https://login.bol.com/token"
    assert (settings.rate_limit_per_second, settings.rate_limit_per_hour) == (5.0, 18_000)
    assert settings.endpoint_limits["GET /retailer/orders"] == (25, 60.0)
    assert "secret" not in repr(settings)


def test_overrides() -> None:
    settings = _settings(
        api_url="http://127.0.0.1:9/",
        rate_limit_per_second="2.5",
        endpoint_rate_limits={"GET /retailer/orders": [10, 60]},
    )
    assert settings.api_url == "http://127.0.0.1:9"
    assert settings.rate_limit_per_second == 2.5
    assert settings.endpoint_limits["GET /retailer/orders"] == (10, 60.0)
    assert settings.endpoint_limits["GET /retailer/orders/{id}"] == DEFAULT_ENDPOINT_LIMITS["GET /retailer/orders/{id}"]


@pytest.mark.parametrize(
    ("login", "password", "extra", "message"),
    [
        (None, "s3cr3t-VALUE", {}, "no Client ID"),
        ("i", None, {}, "no Client Secret"),
        ("i", "s3cr3t-VALUE", {"api_url": "ftp://x"}, "'api_url' must be an https URL"),
        ("i", "s3cr3t-VALUE", {"rate_limit_per_second": "fast"}, "must be a number"),
        ("i", "s3cr3t-VALUE", {"rate_limit_per_hour": 0}, "must be a whole number from 1 to"),
        ("i", "s3cr3t-VALUE", {"endpoint_rate_limits": {"GET /retailer/orders": 5}}, r"\[requests, seconds\]"),
    ],
)
def test_bad_config_is_actionable(login: str | None, password: str | None, extra: dict, message: str) -> None:
    with pytest.raises(BolConfigError, match=message) as caught:
        BolConnectionSettings.from_connection("shop1", login, password, extra)
    assert "connection 'shop1'" in str(caught.value)
    assert "s3cr3t-VALUE" not in str(caught.value)


def test_environment_defaults_to_production_and_keeps_the_paths() -> None:
    for extra in ({}, {"environment": ""}, {"environment": "production"}, {"extra__bol_retailer__environment": None}):
        settings = _settings(**extra)
        assert settings.environment == "production"
        assert not settings.is_demo
        assert settings.api_path("/retailer/orders") == "/retailer/orders"


def test_bol_demo_keeps_the_hosts_and_moves_the_paths() -> None:
    settings = _settings(environment=" bol-demo ", api_url="http://127.0.0.1:9", login_url="http://127.0.0.1:9/token")
    assert settings.is_demo
    assert (settings.api_url, settings.login_url) == ("http://127.0.0.1:9", "http://127.0.0.1:9/token")
    assert settings.api_path("/retailer/orders/123") == "/retailer-demo/orders/123"
    assert settings.api_path("/shared/process-status/7") == "/shared-demo/process-status/7"
    assert settings.endpoint_limits["GET /retailer/orders"] == (25, 60.0)  # budgeted like production


@pytest.mark.parametrize("value", ["demo", "Production", "sandbox", 1])
def test_an_unknown_environment_is_refused(value: object) -> None:
    with pytest.raises(BolConfigError, match=r"extra 'environment' must be 'production' .* or 'bol-demo'"):
        _settings(environment=value)
