"""The pseudonym key is stored only in an encrypted Variable: without a Fernet key it is refused, clearly."""

from __future__ import annotations

import pytest

from bolsync.personal.secret import SECRET_VARIABLE, pseudonym_secret
from bolsync_provider.config import fernet_key_configured, get_variable
from bolsync_provider.errors import BolConfigError
from tests.support.airflow_env import migrate_airflow_db


@pytest.fixture(scope="module")
def metadata_db() -> None:
    migrate_airflow_db()


@pytest.fixture
def no_secret(metadata_db: None) -> None:
    from airflow.models.variable import Variable

    Variable.delete(SECRET_VARIABLE)


def test_without_a_fernet_key_the_pseudonym_key_is_refused_not_stored(
    no_secret: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__CORE__FERNET_KEY", "")
    assert fernet_key_configured() is False
    with pytest.raises(BolConfigError) as refused:
        pseudonym_secret()
    assert "[core] fernet_key" in str(refused.value)
    assert "AIRFLOW__CORE__FERNET_KEY" in str(refused.value)
    assert get_variable(SECRET_VARIABLE) is None


def test_with_a_fernet_key_the_pseudonym_key_is_stored_encrypted_once(no_secret: None) -> None:
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session

    assert fernet_key_configured() is True
    key = pseudonym_secret()
    assert len(key) == 64
    assert pseudonym_secret() == key
    with create_session() as session:
        stored = session.query(Variable).filter(Variable.key == SECRET_VARIABLE).one()
        assert stored.is_encrypted
        assert key.decode() not in str(stored._val)
