"""API keys: mint (shown once), list, revoke, authenticate; the Zipline token is a key with every scope."""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import select, update

from zipshort.codes import could_be_code
from zipshort.database import lock_key, write_transaction
from zipshort.dates import bounded
from zipshort.errors import Conflict, NotFound, ValidationError
from zipshort.extensions import db
from zipshort.models import ApiKey, User, new_id, utcnow
from zipshort.models.apikey import DEFAULT_SCOPES, SCOPES
from zipshort.runtime import Runtime
from zipshort.security import derive_token, digests_equal, key_digest, mint_key

ALL_SCOPES = " ".join(SCOPES)
# Permission names other link APIs use for the same rights: h0p's (domains, shortLinks, files, stats,
# apiKeys) and hoko's camel-case scopes; each stands for the zipshort scopes it grants.
ALIASES = {
    "domains": ("domains:read", "domains:write"), "shortLinks": ("links:read", "links:write"),
    "files": ("files:read", "files:write"), "stats": ("stats:read",), "apiKeys": ("keys:read", "keys:write"),
    "links": ("links:read", "links:write"), "linksRead": ("links:read",), "linksWrite": ("links:write",),
    "filesRead": ("files:read",), "filesWrite": ("files:write",), "statsRead": ("stats:read",),
}
LAST_USED_RESOLUTION = dt.timedelta(seconds=60)  # last-used is written at most once a minute per key
MAX_NAME_LENGTH = 100


def parse_scopes(scopes: object) -> str:
    """Validate a list (or space/comma separated string) of scopes; empty means DEFAULT_SCOPES."""
    if scopes is None or scopes == "" or scopes == []:
        return " ".join(DEFAULT_SCOPES)
    if isinstance(scopes, str):
        items = scopes.replace(",", " ").split()
    elif isinstance(scopes, list) and all(isinstance(s, str) for s in scopes):
        items = scopes
    else:
        raise ValidationError("scopes must be a list of strings", field="scopes")
    expanded = set()
    for item in items:
        base, _, access = item.partition(":")
        if item in SCOPES:
            expanded.add(item)
        elif item in ALIASES:
            expanded.update(ALIASES[item])
        elif base in ALIASES and access in ("read", "write"):  # e.g. shortLinks:read
            expanded.update(s for s in ALIASES[base] if s.endswith(":" + access))
        else:
            expanded.add(item)
    unknown = sorted(expanded - set(SCOPES))
    if unknown:
        raise ValidationError(f"Unknown scopes: {', '.join(unknown)} (known: {', '.join(SCOPES)}; "
                              f"also {', '.join(ALIASES)})", field="scopes")
    items = expanded
    return " ".join(s for s in SCOPES if s in items)


def create_key(user: User, name: object, scopes: object = None, expires_at: dt.datetime | None = None,
               now: dt.datetime | None = None, bot: bool = False) -> tuple[ApiKey, str]:
    """Mint a key for ``user``; return the row and the plaintext (never stored).

    A bot key (at most one live per user, h0p's "bot key") works on the user's links, files and domains
    but never on the account itself: no password, token, key or 2FA endpoints.

    Raises:
        ValidationError: bad name, scopes or expiry. Conflict: a live bot key exists already.
    """
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > MAX_NAME_LENGTH \
            or not name.isprintable():
        raise ValidationError(f"name is required (1-{MAX_NAME_LENGTH} characters)", field="name")
    scope_text = parse_scopes(scopes)
    now = now or utcnow()
    if expires_at is not None and bounded(expires_at, "expiresAt") <= now:
        raise ValidationError("expiresAt must be in the future", field="expiresAt")
    plaintext = mint_key()
    row = ApiKey(id=new_id(), user_id=user.id, name=name.strip(), prefix=plaintext[:10],
                 key_hash=key_digest(plaintext), scopes=scope_text, is_token=False, created_at=now,
                 expires_at=expires_at, bot=bot)
    with write_transaction(db.session):
        if bot:
            lock_key(db.session, f"bot-key:{user.id}")
            live = db.session.scalars(select(ApiKey.id).where(
                ApiKey.user_id == user.id, ApiKey.bot.is_(True), ApiKey.revoked_at.is_(None),
                (ApiKey.expires_at.is_(None)) | (ApiKey.expires_at > now))).first()
            if live is not None:
                raise Conflict("You already have a bot key; revoke it first", code="bot_key_exists")
        db.session.add(row)
    return row, plaintext


def list_keys(user: User) -> list[ApiKey]:
    """The user's keys (not the Zipline token), newest first, revoked ones included."""
    stmt = (select(ApiKey).where(ApiKey.user_id == user.id, ApiKey.is_token.is_(False))
            .order_by(ApiKey.created_at.desc(), ApiKey.id.desc()))
    return list(db.session.scalars(stmt))


def revoke_key(user: User, key_id: str, now: dt.datetime | None = None) -> ApiKey:
    """Revoke one of ``user``'s keys; effective on the next request.

    Raises:
        NotFound: no such key of this user.
    """
    if not could_be_code(key_id):
        raise NotFound("Key not found", code="key_not_found")
    with write_transaction(db.session):
        key = db.session.scalar(select(ApiKey).where(ApiKey.id == key_id, ApiKey.user_id == user.id,
                                                     ApiKey.is_token.is_(False)))
        if key is None:
            raise NotFound("Key not found", code="key_not_found")
        if key.revoked_at is None:
            key.revoked_at = now or utcnow()
    return key


def authenticate_key(presented: str, now: dt.datetime | None = None) -> ApiKey | None:
    """The live key matching ``presented`` (with its user), or None.

    Looks the digest up by its unique index and compares in constant time; refuses revoked,
    expired and disabled users' keys; records the last-used time at most once a minute.
    """
    if not presented or len(presented) > 512:
        return None
    digest = key_digest(presented)
    key = db.session.scalar(select(ApiKey).where(ApiKey.key_hash == digest)
                            .execution_options(populate_existing=True))
    if key is None or not digests_equal(key.key_hash, digest):
        return None
    now = now or utcnow()
    if key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= now) or key.user.disabled:
        return None
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        with write_transaction(db.session):
            db.session.execute(update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now))
        key.last_used_at = now
    return key


def _token_row(user: User) -> ApiKey | None:
    stmt = select(ApiKey).where(ApiKey.user_id == user.id, ApiKey.is_token.is_(True))
    return db.session.scalar(stmt.execution_options(populate_existing=True))


def get_token(rt: Runtime, user: User) -> str:
    """The user's Zipline token, derived from the server secret; created on first use."""
    row = _token_row(user)
    if row is not None:
        token = derive_token(rt.settings.core.secret, user.id, row.token_nonce or "")
        if digests_equal(row.key_hash, key_digest(token)):
            return token
    return reset_token(rt, user, keep_valid=True)


def reset_token(rt: Runtime, user: User, keep_valid: bool = False) -> str:
    """Replace the user's Zipline token; the old one stops working at once.

    With ``keep_valid`` (first use, or a changed server secret) a token that still verifies is kept,
    so parallel first requests agree on one token.
    """
    nonce = secrets.token_hex(16)
    token = derive_token(rt.settings.core.secret, user.id, nonce)
    with write_transaction(db.session):
        lock_key(db.session, f"token:{user.id}")
        row = _token_row(user)
        if keep_valid and row is not None:
            current = derive_token(rt.settings.core.secret, user.id, row.token_nonce or "")
            if digests_equal(row.key_hash, key_digest(current)):
                return current
        if row is None:
            row = ApiKey(id=new_id(), user_id=user.id, name="Zipline token", is_token=True, created_at=utcnow())
            db.session.add(row)
        row.token_nonce = nonce
        row.key_hash = key_digest(token)
        row.prefix = token[:10]
        row.scopes = ALL_SCOPES
    return token
