"""The key of the e-mail pseudonyms: a random secret in a masked, encrypted Airflow Variable."""

from __future__ import annotations

import secrets

from bolsync_provider.budget.shared_state import leased, shared_state
from bolsync_provider.config import fernet_key_configured, get_variable, set_variable
from bolsync_provider.errors import BolConfigError

#: Contains "secret", so Airflow masks it in the UI, the API and logs; encrypted at rest with the Fernet key.
SECRET_VARIABLE = "bolsync_pseudonym_secret"  # noqa: S105 (a Variable name, not a secret)


def pseudonym_secret() -> bytes:
    """The pseudonym key; created once (under a lease, so concurrent tasks agree on one key).

    Raises BolConfigError instead of creating it when no Fernet key is configured: Airflow would store the
    Variable in plain text.
    """
    value = get_variable(SECRET_VARIABLE)
    if value:
        return value.encode("utf-8")
    with leased(shared_state(), "pseudonym-secret", ttl=60, wait=60):
        value = get_variable(SECRET_VARIABLE)
        if not value:
            _require_encryption()
            value = secrets.token_hex(32)
            set_variable(
                SECRET_VARIABLE,
                value,
                description="bolsync: key of the e-mail pseudonyms in the personal store (keep it; rotating it "
                "breaks joins on older rows)",
            )
    return value.encode("utf-8")


def _require_encryption() -> None:
    if not fernet_key_configured():
        raise BolConfigError(
            f"Refusing to store the pseudonym key (Variable {SECRET_VARIABLE}) unencrypted: no Fernet key is "
            "configured. Set [core] fernet_key in airflow.cfg or AIRFLOW__CORE__FERNET_KEY (the same key for every "
            "Airflow component; generate one with: python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'), or set the Variable yourself through an encrypted secrets "
            "backend."
        )
