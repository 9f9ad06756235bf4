"""A local, seeded, stateful emulator of bol.com's Retailer API (orders, offers, returns, shipments, FBB
inventory, invoices) and login.bol.com (tokens, client credentials and the code flow).

See ``docs/emulator.md``. Typical use in tests::

    from bol_emulator import EmulatorConfig, start_emulator
    with start_emulator(EmulatorConfig(seed=7)) as handle:
        ...  # handle.base_url, handle.token_url, handle.world, handle.stats
"""

from __future__ import annotations

from bol_emulator.config import AccountConfig, EmulatorConfig
from bol_emulator.server import EmulatorHandle, start_emulator

__all__ = ["AccountConfig", "EmulatorConfig", "EmulatorHandle", "start_emulator"]
