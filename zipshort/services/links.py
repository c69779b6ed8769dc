"""Short links: create, list, edit, delete (the redirect itself lives in services/redirects.py).

Rules enforced by the database (ARCHITECTURE.md): the URL quota is one conditional UPDATE of
the owner's counter; a code is unique per domain by constraint, and the cross-domain rule
(a domain-less link answers on every host) is checked under a per-code lock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, exists, func, or_, select, text, update
from sqlalchemy.exc import IntegrityError

from zipshort.codes import could_be_code, invisible_code, normalise_vanity, random_code
from zipshort.database import lock_key, write_transaction
from zipshort.dates import bounded
from zipshort.destinations import OwnHosts
from zipshort.errors import Conflict, Forbidden, NotFound, QuotaExceeded, Unavailable, ValidationError, VanityTaken
from zipshort.extensions import db
from zipshort.inputs import check_offset, check_text
from zipshort.models import CustomDomain, Folder, Link, Tag, User, new_id, utcnow
from zipshort.runtime import Runtime
from zipshort.services import linkfields

MAX_PASSWORD_LENGTH = 1024
MAX_VIEWS_LIMIT = 1_000_000_000
RANDOM_ATTEMPTS = 10
SEARCH_FIELDS = ("destination", "vanity", "code")
UNSET: Any = object()


@dataclass(frozen=True)
class NewLink:
    """What a caller asks for; dialects translate their fields into this."""

    destination: str
    vanity: str | None = None
    enabled: bool = True
    max_views: int | None = None
    password: str | None = None
    domain: str = ""
    expires_at: dt.datetime | None = None
    title: str | None = None
    description: str | None = None
    destination_type: str = "link"
    folder_id: str | None = None
    tags: list[str] | None = None  # tag names; missing ones are created
    image: str | None = None
    utm: dict[str, str] | None = None
    external_id: str | None = None
    tenant_id: str | None = None
    partner_id: str | None = None
    rules: list[dict[str, Any]] | None = None
    qr_options: dict[str, Any] | None = None
    cloaking: bool = False
    deep_linking: bool = False
    invisible: bool = False  # Zipline v3's Zws: a random code of zero-width characters


# A link's state, decided in this order (a disabled link that has also expired reads "disabled").
ACTIVE, DISABLED, EXPIRED, USED_UP = "active", "disabled", "expired", "used up"
LINK_STATES = (ACTIVE, DISABLED, EXPIRED, USED_UP)

# The liveness rule in SQL, for the redirect's hot statements (services/redirects.py); state_of() below
# is the same rule in Python, and tests/public/test_link_state.py walks every state through both.
LIVE_SQL = """enabled IS TRUE
  AND (expires_at IS NULL OR expires_at > :now)
  AND (max_views IS NULL OR views < max_views)
  AND EXISTS (SELECT 1 FROM users WHERE users.id = links.user_id AND users.disabled IS FALSE)"""


def state_of(enabled: bool, expires_at: dt.datetime | None, views: int, max_views: int | None,
             owner_disabled: bool = False, now: dt.datetime | None = None) -> str:
    """active / disabled / expired / used up: whether a visit redirects now and, if not, why."""
    if not enabled or owner_disabled:
        return DISABLED
    if expires_at is not None and expires_at <= (now or utcnow()):
        return EXPIRED
    if max_views is not None and views >= max_views:
        return USED_UP
    return ACTIVE


def link_state(link: Link, now: dt.datetime | None = None, owner_disabled: bool = False) -> str:
    """The state of ``link`` (see :func:`state_of`); every dialect and page shows this one."""
    return state_of(link.enabled, link.expires_at, link.views, link.max_views, owner_disabled, now)


def is_smart(destination_type: str, rules: object, utm: object, cloaking: bool, title: object, description: object,
             image: object, deep_linking: bool = False) -> bool:
    """Whether a visit needs more than a plain 302 (see services/smart.py)."""
    return bool(destination_type != "link" or rules or utm or cloaking or title or description or image
                or deep_linking)


@dataclass(frozen=True)
class LinkChanges:
    """A partial edit; UNSET fields are left alone, None clears where that makes sense."""

    destination: Any = UNSET
    vanity: Any = UNSET
    enabled: Any = UNSET
    max_views: Any = UNSET
    password: Any = UNSET
    expires_at: Any = UNSET
    title: Any = UNSET
    destination_type: Any = UNSET  # with destination
    description: Any = UNSET
    image: Any = UNSET
    folder_id: Any = UNSET
    tags: Any = UNSET  # tag names
    utm: Any = UNSET
    rules: Any = UNSET
    qr_options: Any = UNSET
    cloaking: Any = UNSET
    deep_linking: Any = UNSET


# Validated fields an edit copies onto the row as they are.
_PLAIN_CHANGES = ("description", "image", "folder_id", "utm", "rules", "qr_options", "cloaking", "deep_linking")


def _title(value: object) -> str | None:
    """A link's title: up to 255 characters of text, None when empty."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 255:
        raise ValidationError("Title must be text of at most 255 characters", code="invalid_title", field="title")
    return check_text(value, "title").strip() or None


def _description(value: object) -> str | None:
    """A link's description: multi-line text (tabs and line breaks kept) of at most 2,000 characters."""
    return linkfields.text_field(value, "description", 2000, multiline=True)


def _future(expires_at: dt.datetime | None, now: dt.datetime) -> dt.datetime | None:
    """An expiry in the supported date range and in the future (None: never)."""
    if expires_at is None:
        return None
    expires_at = bounded(expires_at, "expiresAt")
    if expires_at <= now:
        raise ValidationError("Expiry must be in the future", code="invalid_expiry", field="expiresAt")
    return expires_at


def validate_max_views(value: int | None) -> int | None:
    """None or 0 mean no limit; otherwise a positive integer up to one billion."""
    if isinstance(value, bool) or (value is not None and not isinstance(value, int)):
        raise ValidationError("Max views must be an integer", code="invalid_max_views", field="maxViews")
    if value is None or value == 0:
        return None
    if value < 0 or value > MAX_VIEWS_LIMIT:
        raise ValidationError(f"Max views must be an integer between 0 and {MAX_VIEWS_LIMIT}",
                              code="invalid_max_views", field="maxViews")
    return value


def _validate_password(password: str | None) -> str | None:
    if password is None or password == "":
        return None
    if not isinstance(password, str) or len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationError("password must be a string of at most 1024 characters", code="invalid_password",
                              field="password")
    return password


def _route_words(rt: Runtime) -> frozenset[str]:
    """The configured routes' first segments, reserved like the built-in words."""
    routes = (rt.settings.urls.route, rt.settings.files.route)
    return frozenset(route.strip("/").split("/")[0].lower() for route in routes)


def _slug_taken(domain: str, key: str, exclude_id: str | None = None) -> bool:
    """Whether ``key`` is used on ``domain`` (a domain-less code conflicts with every domain)."""
    cond = [Link.slug_key == key]
    if domain:
        cond.append(Link.domain.in_(("", domain)))
    if exclude_id:
        cond.append(Link.id != exclude_id)
    return bool(db.session.scalar(select(exists().where(*cond))))


def _claim_slug(rt: Runtime, domain: str, vanity: str | None, exclude_id: str | None = None,
                invisible: bool = False) -> tuple[str, str]:
    """Inside a write transaction: lock and check a code; return (slug, random code).

    Raises:
        VanityTaken: the vanity is used. Unavailable: no free random code after several tries.
    """
    urls = rt.settings.urls
    if vanity is not None:
        key = vanity.lower()
        lock_key(db.session, f"slug:{key}")
        if _slug_taken(domain, key, exclude_id):
            raise VanityTaken()
        return vanity, random_code(urls.length, urls.alphabet)
    for _ in range(RANDOM_ATTEMPTS):
        code = invisible_code(urls.length) if invisible else random_code(urls.length, urls.alphabet)
        lock_key(db.session, f"slug:{code.lower()}")
        if not _slug_taken(domain, code.lower(), exclude_id):
            return code, code
    raise Unavailable("Could not find a free random code; raise urls.length", code="codes_exhausted")


def _check_domain(rt: Runtime, owner: User, hostname: str) -> None:
    """Inside a write transaction: ``hostname`` is a platform domain or ``owner``'s verified custom domain.

    The lock keeps a concurrent removal of the custom domain from leaving this link behind on it.
    """
    if hostname in rt.settings.allowed_domains:
        return
    lock_key(db.session, f"domain:{hostname}")
    if not db.session.scalar(select(exists().where(CustomDomain.hostname == hostname,
                                                   CustomDomain.user_id == owner.id,
                                                   CustomDomain.verified_at.is_not(None)))):
        raise ValidationError("Unknown domain, or not verified yet", code="invalid_domain", field="domain")


def _reserve_url_quota(owner_id: str) -> None:
    """Atomically count one more link against the owner's quota, or raise QuotaExceeded."""
    result = db.session.execute(
        update(User).where(User.id == owner_id,
                           or_(User.quota_max_urls.is_(None), User.url_count < User.quota_max_urls))
        .values(url_count=User.url_count + 1)
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        limit = db.session.scalar(select(User.quota_max_urls).where(User.id == owner_id))
        raise QuotaExceeded(f"Shortening this URL would exceed your quota of {limit} URLs.")


def create_link(rt: Runtime, owner: User, spec: NewLink, now: dt.datetime | None = None, *,
                host: str = "") -> Link:
    """Create a link for ``owner``; ``host`` is the Host the request came in on (one of this server's names).

    Raises:
        ValidationError: destination, vanity, max views, password or expiry invalid.
        QuotaExceeded: the URL quota is used up. VanityTaken: the code is used.
    """
    urls = rt.settings.urls
    now = now or utcnow()
    kind, destination = linkfields.validate_destination(spec.destination_type, spec.destination,
                                                        urls.destination_max_length)
    vanity = normalise_vanity(spec.vanity, urls.vanity_max_length, _route_words(rt)) if spec.vanity else None
    max_views = validate_max_views(spec.max_views)
    password = _validate_password(spec.password)
    title = _title(spec.title)
    expires_at = _future(spec.expires_at, now)
    own_hosts = OwnHosts(rt.settings, host)
    own_hosts.refuse(kind, destination)
    own_hosts.refuse_rules(spec.rules)
    password_hash = rt.passwords.hash(password) if password else None
    with write_transaction(db.session):
        if spec.folder_id is not None:
            folder_owned(owner, spec.folder_id)
        if spec.domain:
            _check_domain(rt, owner, spec.domain)
        _reserve_url_quota(owner.id)
        slug, code = _claim_slug(rt, spec.domain, vanity, invisible=spec.invisible)
        link = Link(id=new_id(), user_id=owner.id, domain=spec.domain, slug=slug, slug_key=slug.lower(), code=code,
                    vanity=vanity, destination=destination, destination_type=kind, views=0, max_views=max_views,
                    enabled=bool(spec.enabled), password_hash=password_hash, expires_at=expires_at,
                    title=title, description=_description(spec.description), created_at=now, updated_at=now,
                    folder_id=spec.folder_id, image=spec.image, utm=spec.utm, external_id=spec.external_id,
                    tenant_id=spec.tenant_id, partner_id=spec.partner_id, rules=spec.rules,
                    qr_options=spec.qr_options, cloaking=spec.cloaking, deep_linking=spec.deep_linking,
                    smart=is_smart(kind, spec.rules, spec.utm, spec.cloaking, title, spec.description, spec.image,
                                   spec.deep_linking))
        db.session.add(link)
        if spec.tags:
            link.tags = tags_by_name(owner, spec.tags)
        try:
            db.session.flush()
        except IntegrityError as exc:
            if "external_id" in str(exc.orig):
                raise Conflict("externalId is already used by another of your links", code="external_id_exists",
                               field="externalId") from None
            raise VanityTaken() from None
    return link


def folder_owned(owner: User, folder_id: str) -> Folder:
    """The owner's folder ``folder_id``, or NotFound."""
    folder = db.session.get(Folder, folder_id) if isinstance(folder_id, str) and could_be_code(folder_id) else None
    if folder is None or folder.user_id != owner.id:
        raise NotFound("Folder not found", code="folder_not_found", field="folderId")
    return folder


TAG_COLORS = ("#3B82F6", "#10B981", "#F59E0B", "#EF4444", "#8B5CF6", "#EC4899", "#14B8A6", "#F97316")


def tags_by_name(owner: User, names: list[str]) -> list[Tag]:
    """Inside a write transaction: the owner's tags with these names, creating the missing ones."""
    wanted = {name.strip().lower(): name.strip() for name in names}
    found = {t.name_key: t for t in db.session.scalars(select(Tag).where(Tag.user_id == owner.id,
                                                                         Tag.name_key.in_(list(wanted))))}
    for key, name in wanted.items():
        if key not in found:
            found[key] = Tag(id=new_id(), user_id=owner.id, name=name, name_key=key,
                             color=TAG_COLORS[sum(key.encode()) % len(TAG_COLORS)])
            db.session.add(found[key])
    return [found[key] for key in wanted]


def list_links(owner: User, search_field: str | None = None, search_query: str | None = None) -> list[Link]:
    """The owner's links, newest first, optionally filtered by a case-insensitive substring.

    Raises:
        ValidationError: unknown search field.
    """
    return list(db.session.scalars(_links_query(owner, search_field, search_query)))


def page_links(owner: User, page: int = 1, per_page: int = 25, search_field: str | None = None,
               search_query: str | None = None) -> tuple[list[Link], int]:
    """One page of the owner's links (newest first) and how many match in all."""
    if page < 1 or not 1 <= per_page <= 500:
        raise ValidationError("Invalid page or perpage", code="invalid_page")
    stmt = _links_query(owner, search_field, search_query)
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    offset = check_offset((page - 1) * per_page, "page")
    return list(db.session.scalars(stmt.limit(per_page).offset(offset))), total


def query_links(owner: User, limit: int, offset: int, destination: str | None = None,
                match: str = "exact") -> tuple[list[Link], int]:
    """A page of the owner's links, newest first, optionally only those whose destination equals (or starts
    with) ``destination``; and how many match in all. Served by the (user_id, destination) index."""
    check_offset(offset, "offset")
    cond = [Link.user_id == owner.id]
    if destination is not None:
        if match == "exact":
            cond.append(Link.destination == destination)
        else:  # a byte-order range the index can serve, and the exact prefix test for any collation
            if _binary_collation():
                cond += [Link.destination >= destination, Link.destination < destination + "\U0010ffff"]
            cond.append(func.substr(Link.destination, 1, len(destination)) == destination)
    if destination is None:  # the owner's counter, kept exact by every create and delete
        total = db.session.scalar(select(User.url_count).where(User.id == owner.id)) or 0
    else:
        total = db.session.scalar(select(func.count()).select_from(Link).where(*cond)) or 0
    rows = db.session.scalars(select(Link).where(*cond).order_by(Link.created_at.desc(), Link.id.desc())
                              .limit(limit).offset(offset))
    return list(rows), total


_COLLATION: dict[str, bool] = {}


def _binary_collation() -> bool:
    """Whether text compares in code point order (SQLite; PostgreSQL with a C collation)."""
    bind = db.session.get_bind()
    key = str(bind.url)
    if key not in _COLLATION:
        if bind.dialect.name != "postgresql":
            _COLLATION[key] = True
        else:
            collate = db.session.scalar(text("SELECT datcollate FROM pg_database WHERE datname = current_database()"))
            _COLLATION[key] = str(collate).upper() in ("C", "POSIX", "C.UTF-8", "C.UTF8")
    return _COLLATION[key]


def _links_query(owner: User, search_field: str | None, search_query: str | None):
    stmt = select(Link).where(Link.user_id == owner.id).order_by(Link.created_at.desc(), Link.id.desc())
    if search_field is not None or search_query:
        if search_field not in SEARCH_FIELDS:
            raise ValidationError("Invalid searchField value", code="invalid_search_field", field="searchField")
        column = {"destination": Link.destination, "vanity": Link.vanity, "code": Link.slug}[search_field]
        if "\x00" in (search_query or ""):
            raise ValidationError("searchQuery must not contain NUL", field="searchQuery")
        query = (search_query or "").lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(func.lower(column).like(f"%{query}%", escape="\\"))
    return stmt


def get_owned_link(owner: User, link_id: str) -> Link:
    """The link ``link_id`` if ``owner`` owns it.

    Raises:
        NotFound: no such link. Forbidden: it belongs to someone else.
    """
    link = db.session.get(Link, link_id, populate_existing=True) if could_be_code(link_id) else None
    if link is None:
        raise NotFound("URL not found", code="url_not_found")
    if link.user_id != owner.id:
        raise Forbidden("You don't own this URL", code="not_owner")
    return link


def update_link(rt: Runtime, owner: User, link_id: str, changes: LinkChanges,
                now: dt.datetime | None = None, *, host: str = "") -> Link:
    """Apply ``changes`` to one of the owner's links; ``host`` is the Host the request came in on.

    Raises:
        NotFound, Forbidden, ValidationError, VanityTaken.
    """
    urls = rt.settings.urls
    now = now or utcnow()
    kind = UNSET
    if changes.destination is not UNSET:
        kind, destination = linkfields.validate_destination(
            "link" if changes.destination_type is UNSET else changes.destination_type, changes.destination,
            urls.destination_max_length)
    vanity = changes.vanity
    if vanity not in (UNSET, None, ""):
        normalise_vanity(vanity, urls.vanity_max_length, _route_words(rt))
    max_views = validate_max_views(changes.max_views) if changes.max_views is not UNSET else UNSET
    if changes.password is not UNSET:
        password = _validate_password(changes.password)
        password_hash = rt.passwords.hash(password) if password else None
    expires_at = _future(changes.expires_at, now) if changes.expires_at is not UNSET else UNSET
    own_hosts = OwnHosts(rt.settings, host)
    if kind is not UNSET:
        own_hosts.refuse(kind, destination)
    if changes.rules is not UNSET:
        own_hosts.refuse_rules(changes.rules)
    with write_transaction(db.session):
        link = get_owned_link(owner, link_id)
        if vanity is not UNSET and (vanity or None) != link.vanity:
            slug, code = _claim_slug(rt, link.domain, vanity or None, exclude_id=link.id)
            link.vanity = vanity or None
            link.slug, link.slug_key = slug, slug.lower()
            if not vanity:
                link.code = code
        if changes.destination is not UNSET:
            link.destination, link.destination_type = destination, kind
        if changes.folder_id not in (UNSET, None):
            folder_owned(owner, changes.folder_id)
        for attr in _PLAIN_CHANGES:
            value = getattr(changes, attr)
            if value is not UNSET:
                setattr(link, attr, _description(value) if attr == "description" else value)
        if changes.tags is not UNSET:
            link.tags = tags_by_name(owner, changes.tags or [])
        if changes.enabled is not UNSET:
            link.enabled = bool(changes.enabled)
        if max_views is not UNSET:
            link.max_views = max_views
        if changes.password is not UNSET:
            link.password_hash = password_hash
        if expires_at is not UNSET:
            link.expires_at = expires_at
        if changes.title is not UNSET:
            link.title = _title(changes.title)
        link.smart = is_smart(link.destination_type, link.rules, link.utm, link.cloaking, link.title,
                              link.description, link.image, link.deep_linking)
        link.updated_at = now
        try:
            db.session.flush()
        except IntegrityError:
            raise VanityTaken() from None
    rt.link_cache.clear()
    return link


def delete_link(rt: Runtime, owner: User, link_id: str) -> Link:
    """Delete one of the owner's links and give its quota back.

    Raises:
        NotFound: no such link, or not the owner's (no existence oracle).
    """
    with write_transaction(db.session):
        link = db.session.get(Link, link_id) if could_be_code(link_id) else None
        if link is None or link.user_id != owner.id:
            raise NotFound("URL not found", code="url_not_found")
        # Only the request whose DELETE removed the row gives the quota back (a parallel one finds it gone).
        if not db.session.execute(delete(Link).where(Link.id == link.id)).rowcount:
            raise NotFound("URL not found", code="url_not_found")
        db.session.execute(update(User).where(User.id == owner.id, User.url_count > 0)
                           .values(url_count=User.url_count - 1).execution_options(synchronize_session=False))
    rt.link_cache.clear()
    return link
