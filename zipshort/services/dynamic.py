"""Dynamic links (hozip): made on the client from a destination and the user's signing secret; nothing
is stored. The server checks the signature when the link is visited.

    https://<host>/dl/<user id>/<signature>?u=<destination, URL-encoded>
    signature = base64url(HMAC-SHA256(key = signing secret as UTF-8, message = destination as UTF-8)),
                without '=' padding, first 22 characters (132 bits)

A wrong signature, an unknown or disabled user, a user without a secret or a destination that
is not https:// answers 404. Rotating the secret breaks every dynamic link signed with the old one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from sqlalchemy import update

from zipshort.codes import could_be_code
from zipshort.database import publish_after_commit, write_transaction
from zipshort.destinations import validate_web_url
from zipshort.errors import NotFound, ValidationError
from zipshort.events import SettingsChanged
from zipshort.extensions import db
from zipshort.models import User
from zipshort.runtime import Runtime

SIGNATURE_LENGTH = 22


def sign(secret: str, destination: str) -> str:
    """The signature of ``destination`` under ``secret`` (the documented algorithm)."""
    digest = hmac.new(secret.encode(), destination.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")[:SIGNATURE_LENGTH]


def rotate_secret(rt: Runtime, user: User) -> str:
    """Give the user a new signing secret (the old links stop working); return it."""
    return _new_secret(user, rt)


def _new_secret(user: User, rotating: Runtime | None = None) -> str:
    """Store a new signing secret; a rotation (not the first secret) publishes ``user.settings_changed``."""
    secret = secrets.token_urlsafe(32)
    with write_transaction(db.session):
        db.session.execute(update(User).where(User.id == user.id).values(link_signing_secret=secret)
                           .execution_options(synchronize_session=False))
        if rotating is not None:
            publish_after_commit(db.session, rotating.events, SettingsChanged(
                user_id=user.id, username=user.username, settings=("dynamic_link_secret",), actor_id=user.id))
    db.session.expire(user)
    return secret


def secret_of(user: User) -> str:
    """The user's signing secret, made on first use."""
    return user.link_signing_secret or _new_secret(user)


def resolve(user_id: str, signature: str, destination: str | None) -> str:
    """The destination if the link is genuine.

    Raises:
        NotFound: anything wrong (no oracle about which part).
    """
    missing = NotFound("Not found", code="not_found")
    if not destination or not could_be_code(user_id) or len(signature) != SIGNATURE_LENGTH:
        raise missing
    user = db.session.get(User, user_id)
    db.session.rollback()
    if user is None or user.disabled or not user.link_signing_secret:
        raise missing
    if not hmac.compare_digest(sign(user.link_signing_secret, destination), signature):
        raise missing
    try:
        return validate_web_url(destination, 2048, schemes=("https",))
    except ValidationError:
        raise missing from None
