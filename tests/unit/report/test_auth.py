"""Tokens, hashing and company access; the reprocess selection rules."""

from __future__ import annotations

import hashlib

import pytest

from workers.report import actions
from workers.report.auth import TOKEN_PREFIX, AccessDenied, Caller, check_user_id, hash_token, new_token


def test_tokens_are_long_random_and_prefixed() -> None:
    tokens = {new_token() for _ in range(100)}
    assert len(tokens) == 100
    assert all(t.startswith(TOKEN_PREFIX) and len(t) >= 40 for t in tokens)


def test_a_token_is_stored_as_its_sha256() -> None:
    token = new_token()
    assert hash_token(token) == hashlib.sha256(token.encode()).hexdigest()
    assert token not in hash_token(token)
    assert hash_token(f" {token}\n") == hash_token(token)


def test_default_company_is_the_users_first() -> None:
    assert Caller("ann", ("acme", "beta")).company(None) == "acme"
    assert Caller("ann", ("acme", "beta")).company("beta") == "beta"


def test_another_company_is_denied() -> None:
    with pytest.raises(AccessDenied, match="'gamma'"):
        Caller("ann", ("acme",)).company("gamma")


def test_a_user_without_companies_has_no_default() -> None:
    with pytest.raises(AccessDenied):
        Caller("ann", ()).company(None)


@pytest.mark.parametrize("bad", ["", "a b", "a:b", "x" * 65, "ann;drop"])
def test_user_ids_follow_the_contract_identifier(bad: str) -> None:
    with pytest.raises(ValueError):
        check_user_id(bad)


def test_plan_replays_open_failures_and_says_why_others_are_skipped() -> None:
    result = actions.plan(["A", "B", "C", "A", "D"], {"A": "open", "B": "resolved", "C": "reprocessing"})
    assert result.replaying == ["A"]
    assert [(s.charge_id, s.reason) for s in result.skipped] == [
        ("B", "not open (status resolved)"),
        ("C", "not open (status reprocessing)"),
        ("D", "not found among this company's failed charges"),
    ]
