"""The key of the e-mail pseudonyms: a random secret in a masked, encrypted Airflow Variable."""

from __future__ import annotations

import secrets

from bolsync_provider.budget.shared_state import leased, shared_state
from bolsync_provider.config import get_variable, set_variable

#: Contains "secret", so Airflow masks it in the UI, the API and logs; encrypted at rest with the Fernet key.
SECRET_VARIABLE = "bolsync_pseudonym_secret"  # noqa: S105 (a Variable name, not a secret)


def pseudonym_secret() -> bytes:
    """The pseudonym key; created once (under a lease, so concurrent tasks agree on one key)."""
    value = get_variable(SECRET_VARIABLE)
    if value:
        return value.encode("utf-8")
    with leased(shared_state(), "pseudonym-secret", ttl=60, wait=60):
        value = get_variable(SECRET_VARIABLE)
        if not value:
            value = secrets.token_hex(32)
            set_variable(
                SECRET_VARIABLE,
                value,
                description="bolsync: key of the e-mail pseudonyms in the personal store (keep it; rotating it "
                "breaks joins on older rows)",
            )
    return value.encode("utf-8")
