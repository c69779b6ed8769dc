"""API keys: mint (shown once), list, revoke, authenticate; the Zipline token is a key with every scope.

Every rule about who may mint or revoke which key lives here (the CLI, the settings page and the Zipline
API only parse and shape the answer): a key never holds a scope its creator's credential lacks, ``admin``
only for administrators, keys only for oneself unless one manages the owner (``roles``), unknown scopes
refused, a bot key never makes or revokes keys.

A key may also hold roles limiting which of its user's links it reaches (Shlink's ``AUTHORED_SHORT_URLS`` and
``DOMAIN_SPECIFIC``; ``services/reach.py`` applies them): ``authored_only`` (only the links it creates) and
``domain`` (only one domain's links: one of the owner's verified custom domains or a platform host). Both may be
held at once, by bot keys too. They are fixed at minting, as in Shlink: to change them, mint another key. A key
holding a role mints only keys holding at least the same roles.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import select, update

from zipshort.codes import could_be_code
from zipshort.database import lock_key, publish_after_commit, write_transaction
from zipshort.dates import bounded
from zipshort.errors import Conflict, Forbidden, NotFound, ValidationError
from zipshort.events import KeyCreated, KeyRevoked, TokenReset
from zipshort.extensions import db
from zipshort.models import ApiKey, User, new_id, utcnow
from zipshort.models.apikey import DEFAULT_SCOPES as DEFAULT_SCOPES  # the faces show it
from zipshort.models.apikey import SCOPES
from zipshort.runtime import Runtime
from zipshort.security import derive_token, digests_equal, key_digest, mint_key
from zipshort.services import domains, roles
from zipshort.services.reach import links_domain

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


def user_scopes(user: User) -> frozenset[str]:
    """Every scope ``user`` can hold: all of them, ``admin`` for administrators only."""
    return frozenset(s for s in SCOPES if s != "admin" or user.is_administrator)


@dataclass(frozen=True)
class Actor:
    """Who asks: the user (None for the server console), whether they administer, the scopes of the
    credential they came with (a browser session and the Zipline token hold every scope of the user), and
    whether that credential is a bot key, and the roles it holds (``authored_only``, ``domain`` as stored on the
    key): a key minted by it holds at least those."""

    user: User | None
    admin: bool
    scopes: frozenset[str]
    bot: bool = False
    authored_only: bool = False
    domain: str | None = None

    @classmethod
    def of(cls, user: User, key: ApiKey | None = None) -> Actor:
        """``user`` calling with ``key``, or with a browser session (or the Zipline token) when None."""
        held = user_scopes(user)
        if key is not None:
            held &= key.scope_set
        if key is None:
            return cls(user, user.is_administrator, held)
        return cls(user, user.is_administrator, held, key.bot, key.authored_only, key.domain)

    @classmethod
    def console(cls) -> Actor:
        """The server's operator at the ``zipshort`` command: every scope, acting for anyone."""
        return cls(None, True, frozenset(SCOPES))


def _check_acts_for(actor: Actor, owner: User) -> None:
    """An actor manages its own keys; others' only as an administrator (with the ``admin`` scope) who
    manages the owner (``roles``), else NotFound as for a user who does not exist."""
    if actor.bot:
        raise Forbidden("A bot key cannot manage keys", code="bot_key")
    if actor.user is None or actor.user.id == owner.id:
        return
    if not (actor.admin and "admin" in actor.scopes and roles.can_manage(actor.user, owner)):
        raise NotFound("User not found", code="user_not_found")


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
    return " ".join(s for s in SCOPES if s in expanded)


def _role_domain(rt: Runtime, owner: User, domain: object, request_host: str) -> str | None:
    """What ``api_keys.domain`` stores for a domain role: None (no role); a platform host as given (normalised);
    ``''`` for the host of the request when no platform domain is configured; one of ``owner``'s verified custom
    domains.

    Raises:
        ValidationError: not a hostname, or none of those.
    """
    if domain is None:
        return None
    if not isinstance(domain, str):
        raise ValidationError("domain must be a hostname, or null for every domain", field="domain")
    try:
        host = domains.normalise_hostname(domain)
    except ValidationError as exc:
        raise ValidationError(f"domain: {exc.message}", field="domain") from None
    if host in rt.settings.allowed_domains:
        return host
    found = domains.find(rt, request_host.lower(), name=host, owner=owner)
    if found is None:
        raise ValidationError(f"{host} is neither one of your verified custom domains nor a domain of this server",
                              field="domain")
    return domains.link_domain(found)


def _check_roles(rt: Runtime, actor: Actor, authored_only: bool, domain: str | None) -> None:
    """A key holding a role mints only keys at least as narrow: its roles are not shed by minting another."""
    if actor.authored_only and not authored_only:
        raise Forbidden("A key limited to the links it creates can only mint keys limited the same way",
                        code="wider_reach", field="authoredOnly")
    if actor.domain is not None and links_domain(rt, domain) != links_domain(rt, actor.domain):
        raise Forbidden("A key limited to one domain can only mint keys limited to that domain",
                        code="wider_reach", field="domain")


def create_key(rt: Runtime, actor: Actor, owner: User, *, name: object, scopes: object = None,
               expires_at: dt.datetime | None = None, bot: bool = False, authored_only: object = False,
               domain: object = None, request_host: str = "", now: dt.datetime | None = None) -> tuple[ApiKey, str]:
    """THE door for minting a key: ``actor`` mints one for ``owner``; return the row and the plaintext
    (never stored). ``scopes`` as for :func:`parse_scopes` (none: ``DEFAULT_SCOPES``).

    A bot key (at most one live per user, h0p's "bot key") works on the user's links, files and domains
    but never on the account itself: no password, token, key or 2FA endpoints.

    Roles (fixed for the key's life; see the module's doc): ``authored_only`` (a bool) limits the key to the
    links it creates; ``domain`` (a host, None for every domain) to one domain's links: one of ``owner``'s
    verified custom domains or a platform host (``domains``, ``core.default_domain``; without any, the host
    of the request, ``request_host``, stored as ``''``).

    Raises:
        NotFound: ``owner`` is someone the actor may not act for.
        Forbidden: a scope the actor's credential lacks (``missing_scope``), ``admin`` for a user who is no
            administrator, the actor is a bot key, a role wider than the actor's credential holds (``wider_reach``).
        ValidationError: bad name, unknown scopes, an expiry not in the future, a bot key with ``admin``, a
            non-boolean ``authored_only``, a ``domain`` that is no hostname or not one of those above.
        Conflict: a live bot key exists already.
    """
    _check_acts_for(actor, owner)
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > MAX_NAME_LENGTH \
            or not name.isprintable():
        raise ValidationError(f"name is required (1-{MAX_NAME_LENGTH} characters)", field="name")
    scope_text = parse_scopes(scopes)
    wanted = set(scope_text.split())
    if "admin" in wanted and not owner.is_administrator:
        raise Forbidden("Only administrators can hold the admin scope", code="missing_scope", field="scopes")
    beyond = [s for s in SCOPES if s in wanted - actor.scopes]
    if beyond:
        raise Forbidden(f"A key cannot have more scopes than its creator holds (not held: {', '.join(beyond)})",
                        code="missing_scope", field="scopes")
    if bot and "admin" in wanted:
        raise ValidationError("A bot key cannot hold the admin scope", field="scopes")
    if not isinstance(authored_only, bool):
        raise ValidationError("authoredOnly must be a boolean", field="authoredOnly")
    role_domain = _role_domain(rt, owner, domain, request_host)
    _check_roles(rt, actor, authored_only, role_domain)
    now = now or utcnow()
    if expires_at is not None and bounded(expires_at, "expiresAt") <= now:
        raise ValidationError("expiresAt must be in the future", field="expiresAt")
    plaintext = mint_key()
    row = ApiKey(id=new_id(), user_id=owner.id, name=name.strip(), prefix=plaintext[:10],
                 key_hash=key_digest(plaintext), scopes=scope_text, is_token=False, created_at=now,
                 expires_at=expires_at, bot=bot, authored_only=authored_only, domain=role_domain)
    with write_transaction(db.session):
        if bot:
            lock_key(db.session, f"bot-key:{owner.id}")
            live = db.session.scalars(select(ApiKey.id).where(
                ApiKey.user_id == owner.id, ApiKey.bot.is_(True), ApiKey.revoked_at.is_(None),
                (ApiKey.expires_at.is_(None)) | (ApiKey.expires_at > now))).first()
            if live is not None:
                raise Conflict("You already have a bot key; revoke it first", code="bot_key_exists")
        db.session.add(row)
        publish_after_commit(db.session, rt.events, KeyCreated(
            key_id=row.id, owner_id=owner.id, key_name=row.name, scopes=tuple(scope_text.split()),
            actor_id=actor.user.id if actor.user is not None else None))
    return row, plaintext


def list_keys(user: User) -> list[ApiKey]:
    """The user's keys (not the Zipline token), newest first, revoked ones included."""
    stmt = (select(ApiKey).where(ApiKey.user_id == user.id, ApiKey.is_token.is_(False))
            .order_by(ApiKey.created_at.desc(), ApiKey.id.desc()))
    return list(db.session.scalars(stmt))


def role_labels(key: ApiKey) -> list[str]:
    """The roles ``key`` holds, as the CLI lists them: ``authored-only``, ``domain=<host>`` (``domain=`` alone:
    the platform's domain-less links)."""
    labels = ["authored-only"] if key.authored_only else []
    if key.domain is not None:
        labels.append(f"domain={key.domain}")
    return labels


def revoke_key(rt: Runtime, actor: Actor, owner: User, key_id: str, now: dt.datetime | None = None) -> ApiKey:
    """THE door for revoking: ``actor`` revokes one of ``owner``'s keys; effective on the next request.

    Raises:
        NotFound: no such key of this owner, or an owner the actor may not act for.
        Forbidden: the actor is a bot key.
    """
    _check_acts_for(actor, owner)
    if not could_be_code(key_id):
        raise NotFound("Key not found", code="key_not_found")
    with write_transaction(db.session):
        key = db.session.scalar(select(ApiKey).where(ApiKey.id == key_id, ApiKey.user_id == owner.id,
                                                     ApiKey.is_token.is_(False)))
        if key is None:
            raise NotFound("Key not found", code="key_not_found")
        if key.revoked_at is None:
            key.revoked_at = now or utcnow()
            publish_after_commit(db.session, rt.events, KeyRevoked(
                key_id=key.id, owner_id=owner.id, key_name=key.name,
                actor_id=actor.user.id if actor.user is not None else None))
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


def rotate_token(rt: Runtime, user: User) -> str:
    """A person asks for a new Zipline token (rate limited per user: ``ratelimit.token_reset``).

    Raises:
        RateLimited.
    """
    rt.limiter.hit(rt.settings.ratelimit.token_reset, "token-reset", user.id)
    return reset_token(rt, user)


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
        if not keep_valid:  # a person's reset (first use and a changed server secret make one silently)
            publish_after_commit(db.session, rt.events, TokenReset(user_id=user.id, username=user.username,
                                                                   actor_id=user.id))
        row.key_hash = key_digest(token)
        row.prefix = token[:10]
        row.scopes = ALL_SCOPES
    return token
