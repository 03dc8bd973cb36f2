"""Moderator accounts and their sign-ins, each recorded in the audit log.

No Flask here: the sign-in view hands over a name, a password and the
client's address, and keeps the session token it gets back in a cookie.
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets

from werkzeug.security import check_password_hash, generate_password_hash

from .db import Database

LOGIN_MAX_AGE = 12 * 3600.0  # a working day; then sign in again
USER_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$")
PASSWORD_MAX_CHARS = 1024  # hashing a megabyte of "password" is work a stranger chooses


@functools.cache
def _dummy_hash() -> str:
    return generate_password_hash(secrets.token_hex(16))


def password_matches(stored: str | None, password: str) -> bool:
    """Whether `password` is the one `stored` is a hash of, at the cost of one hash always.

    An unknown name, or an account with no password (single sign-on only,
    stored as "!sso"), is checked against a hash of nothing anyone knows: a
    failed sign-in costs the same whatever the name, so response times do
    not tell which names exist.
    """
    usable = stored is not None and not stored.startswith("!")
    matches = check_password_hash(
        stored if usable else _dummy_hash(), password[:PASSWORD_MAX_CHARS]
    )
    return usable and matches


def token_hash(token: str) -> str:
    """What the database keeps of a session token: never the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()


class Accounts:
    """Who may moderate, and their signed-in sessions."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def check_password(self, name: str, password: str) -> str | None:
        """The account's name when the password is right; None otherwise, at the same cost."""
        user = self.db.get_user(name) if USER_NAME_RE.match(name) else None
        stored = user["password_hash"] if user is not None else None
        return user["name"] if password_matches(stored, password) and user is not None else None

    def sign_in(self, name: str, address: str, replacing: str | None = None) -> str:
        """Start a session for `name` (ending the one it replaces); return its token."""
        if replacing:
            self.db.end_login(token_hash(replacing))
        token = secrets.token_urlsafe(32)
        self.db.start_login(token_hash(token), name, address)
        self.db.audit(name, "signed in", None, f"from {address}")
        return token

    def sign_out(self, token: str, name: str | None) -> None:
        self.db.end_login(token_hash(token))
        if name:
            self.db.audit(name, "signed out")

    def session_user(self, token: str) -> str | None:
        """Whose session `token` is, while it is young enough and the account exists."""
        return self.db.login_user(token_hash(token), LOGIN_MAX_AGE)

    def is_moderator(self, name: str) -> bool:
        return self.db.get_user(name) is not None
