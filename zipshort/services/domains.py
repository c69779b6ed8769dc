"""Domains links are served on.

Platform domains come from settings (``domains`` and ``core.default_domain``, else the host the request
came to); each has a stable UUID (v5 of its name), so dialects that address domains by id (hozip's
``domain_id``, h0p's ``domainId``) get the same id every time. Links on a platform domain are stored
domain-less and answer on every host.

Every domain may send visitors who find nothing elsewhere (Shlink's special redirects, the ``domain_redirects``
table, with server-wide fallbacks in ``urls.*_redirect``): ``special_redirect``.

Custom domains belong to one user. Links may use one once it is verified, by a proof of control of the
name (services/domainproofs.py: a DNS TXT record) or by an administrator's hand. Several users may claim
a hostname while it is unproven, so nobody blocks a name by adding it first; proving it makes the claim
the only one. Links on a custom domain answer on that host only, and their codes are unique per domain;
only verified custom domains pass ``core.trusted_hosts``.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import secrets
import uuid
from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping
from urllib.parse import quote_plus

from sqlalchemy import Engine, delete, exists, func, select
from sqlalchemy.exc import IntegrityError

from zipshort.codes import could_be_code
from zipshort.database import lock_key, publish_after_commit, write_transaction
from zipshort.errors import Conflict, Forbidden, NotFound, ValidationError
from zipshort.events import DomainAdded, DomainDeleted, DomainVerified, SettingsChanged
from zipshort.extensions import db
from zipshort.inputs import check_text
from zipshort.models import CustomDomain, DomainRedirect, Link, User, new_id, utcnow
from zipshort.runtime import Runtime
from zipshort.services import roles

_NAMESPACE = uuid.UUID("6f1c9a52-8d1e-4c39-9a0e-2b7d4f3c8e10")


@dataclass(frozen=True)
class Domain:
    """One host links can be served on."""

    id: str
    hostname: str
    is_primary: bool
    is_verified: bool = True
    custom: bool = False
    created_at: dt.datetime | None = None


def domain_id(hostname: str) -> str:
    """The stable id of ``hostname``."""
    return str(uuid.uuid5(_NAMESPACE, hostname.lower()))


def platform_domains(rt: Runtime, request_host: str) -> list[Domain]:
    """The enabled platform domains, the primary (default domain, else the first) first."""
    names = list(rt.settings.allowed_domains) or [request_host.lower()]
    primary = (rt.settings.core.default_domain or names[0]).lower()
    ordered = [primary] + [n for n in names if n != primary]
    return [Domain(domain_id(n), n, n == primary) for n in ordered]


def find(rt: Runtime, request_host: str, ident: str | None = None, name: str | None = None,
         owner: User | None = None) -> Domain | None:
    """The platform domain, or ``owner``'s verified custom domain, with this id or hostname; else None."""
    for domain in platform_domains(rt, request_host):
        if (ident and domain.id == ident.lower()) or (name and domain.hostname == name.lower()):
            return domain
    if owner is None:
        return None
    if ident:
        cond = CustomDomain.id == ident.lower()
    elif name:
        cond = CustomDomain.hostname == name.lower()
    else:
        return None
    row = db.session.scalars(select(CustomDomain).where(cond, CustomDomain.user_id == owner.id,
                                                        CustomDomain.verified_at.is_not(None))).first()
    return as_domain(row) if row else None


def choose(rt: Runtime, request_host: str, ident: str | None = None, name: str | None = None,
           owner: User | None = None) -> Domain:
    """The requested domain if it exists (and, when custom, is ``owner``'s and verified), else the primary one."""
    return find(rt, request_host, ident, name, owner) or platform_domains(rt, request_host)[0]


def link_domain(domain: Domain) -> str:
    """What a link on ``domain`` stores: '' (every host) for platform domains, the hostname for custom ones."""
    return domain.hostname if domain.custom else ""


def of_link(rt: Runtime, request_host: str, link: Link) -> Domain:
    """The domain a link is served on (its custom domain, else the primary platform domain)."""
    if link.domain:
        found = find(rt, request_host, name=link.domain)
        if found is not None:
            return found
        row = db.session.scalars(select(CustomDomain).where(CustomDomain.hostname == link.domain)
                                 .order_by(CustomDomain.verified_at.is_(None))).first()
        if row is not None:
            return as_domain(row)
        return Domain(domain_id(link.domain), link.domain, False)
    return platform_domains(rt, request_host)[0]


# --- custom domains ---------------------------------------------------------------------------------

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOSTNAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*(?::[1-9][0-9]{{0,4}})?")


def as_domain(row: CustomDomain) -> Domain:
    """A custom domain row as a :class:`Domain`."""
    return Domain(row.id, row.hostname, False, row.verified, True, row.created_at)


def normalise_hostname(value: object) -> str:
    """A hostname (international names to punycode), lower-case, with an optional port.

    Raises:
        ValidationError: not a hostname.
    """
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("hostname is required", field="hostname")
    text = value.strip().lower().rstrip(".")
    if "://" in text or "/" in text:
        raise ValidationError("Give the hostname only (no scheme or path), e.g. links.example.com",
                              field="hostname")
    host, _, port = text.partition(":")
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValidationError("Not a valid hostname", field="hostname") from None
    text = f"{host}:{port}" if port else host
    if len(host) > 253 or not _HOSTNAME.fullmatch(text) or (port and int(port) > 65535):
        raise ValidationError("Not a valid hostname", field="hostname")
    return text


def list_custom(actor: User, everyone: bool = False) -> list[CustomDomain]:
    """``actor``'s custom domains, oldest first; with ``everyone``, all the domains ``actor`` may manage."""
    stmt = select(CustomDomain).order_by(CustomDomain.created_at, CustomDomain.id)
    owned = roles.managed_by(actor, CustomDomain.user_id) if everyone else CustomDomain.user_id == actor.id
    return list(db.session.scalars(stmt.where(owned)))


def add_custom(rt: Runtime, owner: User, hostname: object, request_host: str = "") -> CustomDomain:
    """Add an unverified custom domain for ``owner``.

    Raises:
        ValidationError: bad hostname. Forbidden: the feature is off or the per-user limit is reached.
        Conflict: the hostname is a platform domain or someone's custom domain.
    """
    limit = rt.settings.urls.custom_domains_per_user
    if limit <= 0:
        raise Forbidden("Custom domains are turned off on this server", code="custom_domains_disabled")
    name = normalise_hostname(hostname)
    platform = {d.hostname for d in platform_domains(rt, request_host)} | set(rt.settings.allowed_domains)
    if name in platform or (rt.settings.files.content_domain and name == rt.settings.files.content_domain.lower()):
        raise Conflict("That hostname is one of this server's own domains", code="domain_exists", field="hostname")
    row = CustomDomain(id=new_id(), user_id=owner.id, hostname=name, verify_token=secrets.token_urlsafe(24),
                       created_at=utcnow())
    try:
        with write_transaction(db.session):
            lock_key(db.session, f"custom-domains:{owner.id}")  # count-then-insert must not interleave
            lock_key(db.session, f"domain:{name}")  # nor a claim with another user's proof of the name
            count = db.session.scalar(select(func.count()).select_from(CustomDomain)
                                      .where(CustomDomain.user_id == owner.id)) or 0
            if count >= limit:
                raise Forbidden(f"You may have at most {limit} custom domains", code="domain_limit")
            if db.session.scalar(select(exists().where(CustomDomain.hostname == name,
                                                       CustomDomain.verified_at.is_not(None)))):
                raise Conflict("That hostname is already in use", code="domain_exists", field="hostname")
            db.session.add(row)
            publish_after_commit(db.session, rt.events, DomainAdded(domain_id=row.id, hostname=name, owner_id=owner.id,
                                                                    actor_id=owner.id))
    except IntegrityError:  # the same user adding it twice at once
        raise Conflict("You have already added that hostname", code="domain_exists", field="hostname") from None
    return row


def get_custom(actor: User, ident: str) -> CustomDomain:
    """Custom domain ``ident`` if ``actor`` may manage it (their own; an administrator's per services/roles.py).

    Raises:
        NotFound: no such domain, or one the actor may not manage (the same answer: no existence oracle).
    """
    row = db.session.get(CustomDomain, ident) if could_be_code(ident) else None
    if row is None or not roles.can_manage(actor, row.user):
        raise NotFound("Domain not found", code="domain_not_found")
    return row


def delete_custom(rt: Runtime, actor: User, ident: str) -> CustomDomain:
    """Remove a custom domain none of its owner's links uses any more.

    Raises:
        NotFound. Conflict: links still use it (delete them first; nothing is removed behind the user's back).
    """
    get_custom(actor, ident)
    with write_transaction(db.session):
        row = _locked(ident)
        used = db.session.scalar(select(func.count()).select_from(Link).where(Link.domain == row.hostname,
                                                                              Link.user_id == row.user_id))
        if used:
            raise Conflict(f"{used} link(s) still use {row.hostname}; delete them first", code="domain_in_use")
        db.session.delete(row)
        publish_after_commit(db.session, rt.events, DomainDeleted(domain_id=row.id, hostname=row.hostname,
                                                                  owner_id=row.user_id, actor_id=actor.id))
    rt.hostnames.invalidate()
    return row


def _locked(ident: str) -> CustomDomain:
    """Row ``ident`` read after taking its hostname's lock, inside the caller's write transaction: links are not
    created on the name, nor another claim on it proven (which removes this one), until the caller commits.

    Raises:
        NotFound: gone, also while waiting for the lock.
    """
    hostname = db.session.scalar(select(CustomDomain.hostname).where(CustomDomain.id == ident))
    if hostname is not None:
        lock_key(db.session, f"domain:{hostname}")
    row = db.session.scalars(select(CustomDomain).where(CustomDomain.id == ident)
                             .execution_options(populate_existing=True)).first()
    if row is None:
        raise NotFound("Domain not found", code="domain_not_found")
    return row


def set_verified(rt: Runtime, actor: User, ident: str, verified: bool) -> CustomDomain:
    """An administrator marks a custom domain verified (or not). Raises NotFound, Forbidden, Conflict."""
    if not actor.is_administrator:
        raise Forbidden("Only administrators may verify domains by hand", code="not_admin")
    return mark_verified(rt, get_custom(actor, ident).id, verified, actor_id=actor.id)


def mark_verified(rt: Runtime, ident: str, verified: bool, actor_id: str | None = None) -> CustomDomain:
    """Set or clear ``verified_at`` (the caller checked the proof or the right); verifying removes the other
    (unproven) claims on the hostname.

    Raises:
        NotFound. Conflict: another account verified the hostname, or has links on it.
    """
    try:
        with write_transaction(db.session):
            row = _locked(ident)
            if not verified or row.verified:
                row.verified_at = row.verified_at if verified else None
                return row
            others = db.session.scalar(select(func.count()).select_from(Link).where(
                Link.domain == row.hostname, Link.user_id != row.user_id))
            if others:
                raise Conflict(f"Links of another account still use {row.hostname}", code="domain_in_use")
            row.verified_at = utcnow()
            db.session.flush()  # the partial unique index refuses a second verified claim here
            db.session.execute(delete(CustomDomain).where(CustomDomain.hostname == row.hostname,
                                                          CustomDomain.id != row.id)
                               .execution_options(synchronize_session=False))
            publish_after_commit(db.session, rt.events, DomainVerified(domain_id=row.id, hostname=row.hostname,
                                                                       owner_id=row.user_id, actor_id=actor_id))
    except IntegrityError:
        raise Conflict("Another account has already verified that hostname", code="domain_exists") from None
    finally:
        rt.hostnames.invalidate()
    return row


def verified_hostnames(rt: Runtime, engine: Engine) -> frozenset[str]:
    """Every verified custom domain's hostname (for ``core.trusted_hosts``), cached on the runtime
    (``rt.hostnames``): re-read at most every 5 seconds, at once after a change made in this process. Runs
    on its own connection of ``engine``, because Flask checks the host before any session exists."""

    def load() -> frozenset[str]:
        with engine.connect() as conn:
            return frozenset(conn.execute(select(CustomDomain.hostname)
                                          .where(CustomDomain.verified_at.is_not(None))).scalars())

    return rt.hostnames.get(load)


# --- special redirects (Shlink's "not found" redirects) ---------------------------------------------

BASE_URL, INVALID_SHORT_URL, REGULAR_404 = "base_url", "invalid_short_url", "regular_404"
REDIRECT_KINDS = (BASE_URL, INVALID_SHORT_URL, REGULAR_404)  # DomainRedirect's columns, Shlink's orphan kinds
_MAX_REDIRECT = 2048
_DOMAIN_PLACEHOLDER, _PATH_PLACEHOLDER = "{DOMAIN}", "{ORIGINAL_PATH}"

RedirectRows = Mapping[str, tuple[str | None, str | None, str | None]]  # domain -> targets in REDIRECT_KINDS order


def _redirect_domain(rt: Runtime, authority: str) -> str:
    """What a DomainRedirect row stores for ``authority``: '' for the platform (its name, '' itself, or one of
    the configured platform domains), else the hostname as custom domains store it."""
    if not authority:
        return ""
    name = normalise_hostname(authority)
    return "" if name in rt.settings.allowed_domains else name


def domain_redirects(rt: Runtime, authority: str) -> DomainRedirect | None:
    """The special redirects stored for ``authority`` ('' or a platform domain: the platform's), if any."""
    return db.session.scalars(select(DomainRedirect).where(DomainRedirect.domain == _redirect_domain(rt, authority))
                              ).first()


def set_domain_redirects(rt: Runtime, actor: User, authority: str, changes: Mapping[str, str | None]
                         ) -> DomainRedirect:
    """Set a domain's special redirects: ``changes`` maps a kind of ``REDIRECT_KINDS`` to its target, None (or
    "") clearing it; kinds not given keep their value (Shlink's ``PATCH /domains/redirects``). The row is made
    when missing. The platform's ('' or a platform domain) are an administrator's; a custom domain's, whoever
    manages its verified owner. Targets are kept as given (Shlink does not check them either) but must be one
    line of at most 2048 characters; ``{DOMAIN}`` and ``{ORIGINAL_PATH}`` are filled in at each visit.

    Raises:
        ValidationError: an unknown kind, a bad target or hostname. Forbidden: the platform's, by a
        non-administrator. NotFound: a custom domain the actor may not manage or that is not verified.
    """
    domain = _redirect_domain(rt, authority)
    values: dict[str, str | None] = {}
    for kind, target in changes.items():
        if kind not in REDIRECT_KINDS:
            raise ValidationError(f"Unknown redirect {kind}", field=kind)
        if target is not None and (not isinstance(target, str) or len(target) > _MAX_REDIRECT):
            raise ValidationError(f"{kind} must be a URL of at most {_MAX_REDIRECT} characters", field=kind)
        values[kind] = check_text(target.strip(), kind) or None if target is not None else None
    owner_of: User | None = None  # whose settings these are: None, the server's
    if domain == "":
        if not actor.is_administrator:
            raise Forbidden("Only administrators set the server's own redirects", code="not_admin")
    else:
        owner = db.session.scalars(select(CustomDomain).where(CustomDomain.hostname == domain,
                                                              CustomDomain.verified_at.is_not(None))).first()
        if owner is None or not roles.can_manage(actor, owner.user):
            raise NotFound("Domain not found", code="domain_not_found")
        owner_of = owner.user
    try:
        with write_transaction(db.session):
            lock_key(db.session, f"domain-redirects:{domain}")
            row = db.session.scalars(select(DomainRedirect).where(DomainRedirect.domain == domain)).first()
            if row is None:
                row = DomainRedirect(id=new_id(), domain=domain)
                db.session.add(row)
            for kind, target in values.items():
                setattr(row, kind, target)
            row.updated_at = utcnow()
            publish_after_commit(db.session, rt.events, SettingsChanged(
                user_id=owner_of.id if owner_of else None, username=owner_of.username if owner_of else None,
                settings=tuple(f"domain_redirects.{kind}" for kind in values), domain=domain or None,
                actor_id=actor.id))
    finally:
        rt.domain_redirects.invalidate()
    return row


def _all_redirects(engine: Engine) -> RedirectRows:
    with engine.connect() as conn:
        rows = conn.execute(select(DomainRedirect.domain, DomainRedirect.base_url, DomainRedirect.invalid_short_url,
                                   DomainRedirect.regular_404))
        return MappingProxyType({row[0]: (row[1], row[2], row[3]) for row in rows})


def _filled(target: str, authority: str, path: str) -> str:
    """``target`` with its placeholders filled, as Shlink does: verbatim before the query (a doubled ``/``
    where ``{ORIGINAL_PATH}`` follows one is made single), form-encoded inside the query."""
    head, hashed, fragment = target.partition("#")
    head, asked, query = head.partition("?")
    head = head.replace(_DOMAIN_PLACEHOLDER, authority)
    if _PATH_PLACEHOLDER in head:
        scheme, sep, rest = head.partition("://")
        if not sep:
            scheme, rest = "", head
        rest = rest.replace(_PATH_PLACEHOLDER, path)
        while "//" in rest:
            rest = rest.replace("//", "/")
        head = f"{scheme}{sep}{rest}"
    query = query.replace(_DOMAIN_PLACEHOLDER, quote_plus(authority, safe="")) \
        .replace(_PATH_PLACEHOLDER, quote_plus(path, safe=""))
    return head + (f"?{query}" if asked else "") + (f"#{fragment}" if hashed else "")


def special_redirect(rt: Runtime, kind: str, authority: str, path: str) -> str | None:
    """Where a visitor of ``authority`` (the request's Host) who got nothing of ``kind`` (``REDIRECT_KINDS``) is
    sent instead, with the placeholders filled (``path``: the request's path, percent-encoded): the domain's own
    redirect of that kind, else the platform's when the host is not a custom domain, else the server-wide
    ``urls.<kind>_redirect``; None when none is set (the visitor gets the page). The rows are cached on the
    runtime (``rt.domain_redirects``), re-read at most every 5 seconds and at once after a change here."""
    column, engine = REDIRECT_KINDS.index(kind), db.engine
    authority = authority.lower()
    rows: RedirectRows = rt.domain_redirects.get(functools.partial(_all_redirects, engine))
    target = None
    if rows:
        own = rows.get(authority)
        if own is None and authority not in verified_hostnames(rt, engine):
            own = rows.get("")
        target = own[column] if own is not None else None
    target = target or getattr(rt.settings.urls, f"{kind}_redirect") or None
    return _filled(target, authority, path) if target else None
