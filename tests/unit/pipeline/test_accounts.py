from __future__ import annotations

import pytest

from bolsync.accounts import resolve_accounts
from bolsync_provider.exceptions import BolConfigError


def test_default_variable_and_conf_precedence() -> None:
    assert resolve_accounts(None, None) == ["bol_retailer_default"]
    assert resolve_accounts({}, '["a", "b", "a"]') == ["a", "b"]
    assert resolve_accounts({}, "a, b") == ["a", "b"]
    assert resolve_accounts({"accounts": ["c"]}, '["a"]') == ["c"]
    assert resolve_accounts({"accounts": "c"}, None) == ["c"]


@pytest.mark.parametrize("bad", [[], [""], [1], {"a": 1}])
def test_bad_account_lists_are_explained(bad: object) -> None:
    with pytest.raises(BolConfigError, match="non-empty list of bol_retailer connection ids"):
        resolve_accounts({"accounts": bad}, None)
