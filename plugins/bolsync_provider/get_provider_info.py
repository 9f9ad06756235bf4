"""Provider metadata: registers the ``bol_retailer`` connection type with its UI form."""

from __future__ import annotations

from typing import Any

from bolsync_provider import __version__


def get_provider_info() -> dict[str, Any]:
    """Return the provider description Airflow's ProvidersManager reads."""
    return {
        "package-name": "bolsync-provider",
        "name": "bolsync (bol.com Retailer API)",
        "description": "Hook and connection type for the bol.com Retailer API.",
        "versions": [__version__],
        "hooks": [
            {
                "integration-name": "bol.com Retailer API",
                "python-modules": ["bolsync_provider.hooks.bol_retailer"],
            }
        ],
        "connection-types": [
            {
                "connection-type": "bol_retailer",
                "hook-class-name": "bolsync_provider.hooks.bol_retailer.BolRetailerHook",
                "hook-name": "bol.com Retailer API",
                "ui-field-behaviour": {
                    "hidden-fields": ["host", "schema", "port"],
                    "relabeling": {"login": "Client ID", "password": "Client Secret"},
                    "placeholders": {
                        "login": "client id from the Seller Dashboard (API settings)",
                        "password": "client secret",
                    },
                },
                "conn-fields": {
                    "environment": {
                        "label": "Environment",
                        "schema": {
                            "type": ["string", "null"],
                            "default": "production",
                            "enum": ["production", "bol-demo"],
                        },
                        "description": "production, or bol-demo: bol's demo API with fixed answers, to try the "
                        "credentials (never synced)",
                    },
                    "api_url": {
                        "label": "API URL",
                        "schema": {"type": ["string", "null"], "default": "https://api.bol.com"},
                    },
                    "login_url": {
                        "label": "Login (token) URL",
                        "schema": {"type": ["string", "null"], "default": "https://login.bol.com/token"},
                    },
                    "retailer_id": {
                        "label": "Retailer ID (only if the token has no aid claim)",
                        "schema": {"type": ["string", "null"]},
                    },
                    "rate_limit_per_second": {
                        "label": "Request budget per second",
                        "schema": {"type": ["number", "null"], "default": 5},
                    },
                    "rate_limit_per_hour": {
                        "label": "Request budget per hour",
                        "schema": {"type": ["integer", "null"], "default": 18000},
                    },
                    "timeout_seconds": {
                        "label": "HTTP timeout (seconds)",
                        "schema": {"type": ["number", "null"], "default": 30},
                    },
                    "max_attempts": {
                        "label": "Attempts per request (429, 5xx, network errors)",
                        "schema": {"type": ["integer", "null"], "default": 6},
                    },
                    "max_response_bytes": {
                        "label": "Largest response accepted (bytes)",
                        "schema": {"type": ["integer", "null"], "default": 64 * 1024 * 1024},
                    },
                    "allow_insecure_http": {
                        "label": "Allow plain http to a non-loopback host (a local emulator only)",
                        "schema": {"type": ["boolean", "null"], "default": False},
                    },
                },
            }
        ],
    }
