"""The hook every sync builds: a ``bol_retailer`` connection in bol's demo environment is refused.

bol's demo answers fixed examples for every seller: they are not a shop's data and must never reach the
warehouse. The check runs when the connection is first read (no I/O when the hook is built), inside the task's
audit, so the run fails once, recorded and alerted, with the connection and the field to change.
"""

from __future__ import annotations

from bolsync_provider.errors import BolConfigError
from bolsync_provider.hooks.bol_retailer import BolRetailerHook
from bolsync_provider.settings import PRODUCTION, BolConnectionSettings


class SyncHook(BolRetailerHook):
    """:class:`BolRetailerHook` for syncing into the warehouse: production connections only."""

    def read_settings(self) -> BolConnectionSettings:
        settings = super().read_settings()
        if settings.is_demo:
            raise BolConfigError(
                f"connection '{settings.conn_id}' is set to bol's demo environment (its field Environment, extra "
                f"'environment', is '{settings.environment}'): the demo answers fixed examples, not your shop's "
                "data, so bolsync does not sync it into the warehouse. Set the connection's environment to "
                f"'{PRODUCTION}' to sync this account, or remove '{settings.conn_id}' from the accounts to sync "
                "(Variable bolsync_accounts or the run's accounts param)."
            )
        return settings
