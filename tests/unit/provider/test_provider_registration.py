"""The installed provider package registers the bol_retailer connection type and its form."""

from __future__ import annotations

import json

from bolsync_provider.get_provider_info import get_provider_info


def test_provider_info_names_the_distribution_and_hook() -> None:
    from importlib.metadata import distribution

    info = get_provider_info()
    assert distribution(info["package-name"]).metadata["Name"] == "bolsync-provider"
    (conn_type,) = info["connection-types"]
    assert conn_type["connection-type"] == "bol_retailer"
    assert conn_type["ui-field-behaviour"]["relabeling"] == {"login": "Client ID", "password": "Client Secret"}
    fields = conn_type["conn-fields"]
    assert fields["api_url"]["schema"]["default"] == "https://api.bol.com"
    assert fields["login_url"]["schema"]["default"] == "https://login.bol.com/token"
    assert not any("token" in name for name in fields)  # Airflow masks extras named like tokens
    assert fields["environment"]["schema"]["enum"] == ["production", "bol-demo"]
    assert fields["environment"]["schema"]["default"] == "production"


def test_airflow_discovers_the_connection_type() -> None:
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    hook = manager.hooks["bol_retailer"]
    assert hook is not None
    assert hook.hook_class_name == "bolsync_provider.hooks.bol_retailer.BolRetailerHook"
    assert hook.connection_testable
    widgets = manager.connection_form_widgets
    assert "extra__bol_retailer__api_url" in widgets
    assert "extra__bol_retailer__rate_limit_per_second" in widgets
    assert widgets["extra__bol_retailer__environment"].field["schema"]["enum"] == ["production", "bol-demo"]


def test_connection_as_env_json_is_read(set_connection) -> None:
    from bolsync_provider.hooks.bol_retailer import BolRetailerHook

    set_connection("bol_retailer_default", api_url="http://127.0.0.1:8765", login_url="http://127.0.0.1:8765/token")
    settings = BolRetailerHook().settings
    assert settings.conn_id == "bol_retailer_default"
    assert settings.api_url == "http://127.0.0.1:8765"
    assert json.dumps(settings.endpoint_limits)  # serialisable, for logs of the configuration
