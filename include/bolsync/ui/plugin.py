"""The Airflow plugin (entry point ``airflow.plugins``): the status page's app, mounted by the API server under
``/bolsync``, and its entry in the UI's navigation."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from bolsync.ui.app import URL_PREFIX, create_app
from bolsync.ui.test_button import BolTestButtonMiddleware


class BolsyncPlugin(AirflowPlugin):
    """bolsync's status page."""

    name = "bolsync"
    fastapi_apps = [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "bolsync status"}]
    fastapi_root_middlewares = [{"middleware": BolTestButtonMiddleware, "name": "bolsync Test button"}]
    external_views = [
        {
            "name": "bolsync",
            "href": f"{URL_PREFIX}/",
            "destination": "nav",
            "url_route": "bolsync",
        }
    ]
