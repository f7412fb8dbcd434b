"""API tokens and who may see which company. Pure: storage keeps only the hashes.

A token is shown once, when it is made; the database holds its SHA-256 so that a copy of
the database does not hand out working tokens. Tokens are long and random, so a plain
(unsalted) hash is enough and lets a request find its token with one indexed lookup.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

#: Recognisable in a leaked config file or a secret scanner's rules.
TOKEN_PREFIX = "cfr_"
USER_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")


class AccessDenied(Exception):
    """The caller asked for a company they do not belong to."""


@dataclass(frozen=True)
class Caller:
    """An authenticated user and their companies; the first is their own (the default)."""

    user_id: str
    companies: tuple[str, ...]

    def company(self, requested: str | None) -> str:
        """The company a request works in: the one asked for, if the caller belongs to it."""
        if requested is None:
            if not self.companies:
                raise AccessDenied("you belong to no company; ask an administrator to add you to one")
            return self.companies[0]
        if requested not in self.companies:
            raise AccessDenied(f"you do not belong to company {requested!r}")
        return requested


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.strip().encode()).hexdigest()


def check_user_id(user_id: str) -> str:
    """User ids travel as `requested_by` in a ReprocessRequest, so they follow its rules."""
    if not USER_ID.match(user_id):
        raise ValueError("a user id is 1-64 letters, digits, '.', '_' or '-'")
    return user_id
