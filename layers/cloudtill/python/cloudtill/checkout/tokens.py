"""Checkout access tokens.

The token is the shopper's only proof of owning a checkout. It is shown once (the 201 answer) and
only its SHA-256 hash is stored on the checkout. An idempotent replay must answer the same token
without the token being stored anywhere: with an `Idempotency-Key` the token is
`HMAC-SHA256(key=random salt, msg=Idempotency-Key)`; the idempotency record keeps the salt while
Powertools keeps only a hash of the key, so neither store alone can produce the token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

_DOMAIN = b"cloudtill-checkout-token:"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def new_salt() -> str:
    return secrets.token_urlsafe(24)


def token_for_idempotency_key(salt: str, idempotency_key: str) -> str:
    digest = hmac.new(salt.encode(), _DOMAIN + idempotency_key.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: str | None, stored_hash: str) -> bool:
    """Constant-time comparison of a presented token with the stored hash."""
    if not token:
        return False
    return hmac.compare_digest(token_hash(token), stored_hash)


def email_hash(email: str) -> str:
    """Emails appear in keys only as hashes (docs/data-model.md); callers normalise first."""
    return hashlib.sha256(email.encode()).hexdigest()
