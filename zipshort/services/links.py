"""Short links: the doors that create, edit and delete one (the redirect itself lives in services/redirects.py).

``create_link`` and ``update_link`` take what a caller sent, parsed but not judged: they apply the
caller's creation limit (services/creationlimits.py) and validate everything themselves — destination,
code, view limit, password (hashed here), expiry, preview text and image, tags, UTM, rules, QR options
(services/linkfields.py) — and check that an uploaded image a link points at (its preview image, its
QR logo) is the owner's. Then one write transaction claims what the link needs (services/linkclaims.py).
A dialect or page only parses, calls the door and shapes the answer; ``FieldNames`` lets it name the
fields in error messages the way its callers know them.

Reading links lives in services/linkqueries.py and liveness in services/linkstate.py; their public
names are re-exported here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from zipshort.codes import could_be_code, normalise_vanity
from zipshort.database import lock_key, publish_after_commit, rowcount, write_transaction
from zipshort.dates import bounded
from zipshort.destinations import OwnHosts
from zipshort.errors import Conflict, NotFound, ValidationError, VanityTaken
from zipshort.events import LinkCreated, LinkDeleted, LinkUpdated
from zipshort.extensions import db
from zipshort.models import Link, User, new_id, utcnow
from zipshort.runtime import Runtime
from zipshort.services import files, folders, linkfields
from zipshort.services.creationlimits import CreationLimit
from zipshort.services.linkclaims import (
    check_domain,
    claim_slug,
    folder_is_owned,
    folder_owned,
    release_url_quota,
    reserve_url_quota,
    route_words,
    tags_by_name,
)
from zipshort.services.linkqueries import SEARCH_FIELDS, get_owned_link, list_links, page_links, query_links
from zipshort.services.linkstate import (
    ACTIVE,
    DISABLED,
    EXPIRED,
    LINK_STATES,
    LIVE_SQL,
    NOT_YET_VALID,
    USED_UP,
    is_live,
    link_state,
    state_of,
)
from zipshort.services.reach import ALL, Reach

__all__ = [
    "ACTIVE", "DISABLED", "EXPIRED", "LINK_STATES", "LIVE_SQL", "NOT_YET_VALID", "USED_UP", "SEARCH_FIELDS", "UNSET",
    "FieldNames", "LinkChanges", "NewLink", "create_link", "delete_link", "get_owned_link", "is_live", "is_smart",
    "link_state", "list_links", "page_links", "query_links", "state_of", "update_link", "validate_max_views",
]

MAX_PASSWORD_LENGTH = 1024
MAX_VIEWS_LIMIT = 1_000_000_000
MAX_TITLE, MAX_DESCRIPTION = 255, 2000
UNSET: Any = object()


@dataclass(frozen=True)
class FieldNames:
    """How a caller names a link's fields in the error messages it shows (the rules are the same for all)."""

    title: str = "title"
    description: str = "description"
    image: str = "image"  # a preview image by URL
    image_id: str = "imageId"  # a preview image the owner uploaded
    tags: str = "tags"
    utm: str = "utm"
    rules: str = "rules"
    qr_options: str = "qrCode"


@dataclass(frozen=True)
class NewLink:
    """What a caller asks for, parsed but not validated; dialects translate their fields into this."""

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
    or_default_folder: bool = False  # a folder_id that is not the owner's means their default folder (hozip's groups)
    tags: list[str] | None = None  # tag names; missing ones are created
    image: str | None = None  # an http(s) URL
    image_id: str | None = None  # or one of the owner's uploaded images (wins over ``image``)
    utm: dict[str, str] | None = None
    external_id: str | None = None
    tenant_id: str | None = None
    partner_id: str | None = None
    rules: list[dict[str, Any]] | None = None
    qr_options: dict[str, Any] | None = None
    cloaking: bool = False
    deep_linking: bool = False
    invisible: bool = False  # Zipline v3's Zws: a random code of zero-width characters
    schemes: tuple[str, ...] = ("http", "https")  # the web destinations the dialect accepts (hozip: https only)
    valid_since: dt.datetime | None = None  # not live before (Shlink's validSince)
    forward_query: bool = False  # merge the visitor's query string into the destination (Shlink's forwardQuery)
    crawlable: bool = False  # allowed in /robots.txt (Shlink's crawlable)
    past_expiry: bool = False  # an expiry already past is taken (the link is born expired: Shlink's validUntil)


@dataclass(frozen=True)
class LinkChanges:
    """A partial edit, parsed but not validated; UNSET fields are left alone, None clears where that makes sense."""

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
    image_id: Any = UNSET  # an uploaded image of the owner's; wins over ``image``
    folder_id: Any = UNSET
    tags: Any = UNSET  # tag names
    utm: Any = UNSET
    rules: Any = UNSET
    qr_options: Any = UNSET
    cloaking: Any = UNSET
    deep_linking: Any = UNSET
    valid_since: Any = UNSET  # a datetime, or None to clear
    forward_query: Any = UNSET
    crawlable: Any = UNSET
    past_expiry: bool = False  # an expiry already past is taken (Shlink's validUntil)


def is_smart(destination_type: str, rules: object, utm: object, cloaking: bool, title: object, description: object,
             image: object, deep_linking: bool = False) -> bool:
    """Whether a visit needs more than a plain 302 (see services/smart.py)."""
    return bool(destination_type != "link" or rules or utm or cloaking or title or description or image
                or deep_linking)


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


def _validate_password(password: object) -> str | None:
    if password is None or password == "":
        return None
    if not isinstance(password, str) or len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationError("password must be a string of at most 1024 characters", code="invalid_password",
                              field="password")
    return password


def _valid_since(value: object) -> dt.datetime | None:
    """A start of life in the supported date range (None: live from creation); the past is allowed."""
    if value is None:
        return None
    if not isinstance(value, dt.datetime):
        raise ValidationError("validSince must be a date", code="invalid_valid_since", field="validSince")
    return bounded(value, "validSince")


def _future(expires_at: dt.datetime | None, now: dt.datetime, past_ok: bool = False) -> dt.datetime | None:
    """An expiry in the supported date range and in the future (None: never); ``past_ok``: a past one too."""
    if expires_at is None:
        return None
    expires_at = bounded(expires_at, "expiresAt")
    if expires_at <= now and not past_ok:
        raise ValidationError("Expiry must be in the future", code="invalid_expiry", field="expiresAt")
    return expires_at


# The fields _extras validates, and the validated ones an edit copies onto the row as they are.
_EXTRAS = ("title", "description", "image", "tags", "utm", "rules", "qr_options")
_PLAIN_CHANGES = ("title", "description", "image", "folder_id", "utm", "rules", "qr_options")


def _extras(rt: Runtime, given: dict[str, Any], names: FieldNames) -> dict[str, Any]:
    """The stored form of the preview text and image, tags, UTM, rules and QR options in ``given``
    (only the keys present; pure: ownership of uploaded images is checked in the transaction)."""
    max_length = rt.settings.urls.destination_max_length
    checks: dict[str, Callable[[Any], Any]] = {
        "title": lambda v: linkfields.text_field(v, names.title, MAX_TITLE),
        "description": lambda v: linkfields.text_field(v, names.description, MAX_DESCRIPTION, multiline=True),
        "image": lambda v: linkfields.image_url(v, max_length, names.image),
        "tags": lambda v: linkfields.validate_tag_names(v, names.tags),
        "utm": lambda v: linkfields.validate_utm(v, names.utm),
        "rules": lambda v: linkfields.validate_rules(v, max_length, names.rules),
        "qr_options": lambda v: linkfields.validate_qr_options(v, names.qr_options),
    }
    return {key: checks[key](given[key]) for key in _EXTRAS if key in given}


def _owned_images(owner: User, values: dict[str, Any], image_id: object, names: FieldNames,
                  current: Link | None = None) -> None:
    """Inside the write transaction: point ``values["image"]`` at the owner's uploaded image ``image_id`` (when
    given), and check that a new QR logo is one of the owner's images (an unchanged one was checked when set).

    Raises:
        NotFound: no such file of the owner's. ValidationError: not an image.
    """
    if image_id not in (UNSET, None, ""):
        values["image"] = "file:" + str(files.owned_image_id(owner, str(image_id), names.image_id))
    logo = (values.get("qr_options") or {}).get("imageId")
    if logo is not None and (current is None or logo != (current.qr_options or {}).get("imageId")):
        files.owned_image_id(owner, logo, f"{names.qr_options}.imageId")


def create_link(rt: Runtime, owner: User, spec: NewLink, now: dt.datetime | None = None, *, host: str = "",
                names: FieldNames = FieldNames(), limit: CreationLimit | None = None,
                reuse: Callable[[], Link | None] | None = None, reach: Reach = ALL, origin: str | None = None) -> Link:
    """Create a link for ``owner``; ``host`` is the Host the request came in on (one of this server's names),
    ``origin`` the ``<scheme>://<host>`` its short URL is given on (for the event's subscribers),
    ``limit`` the creation limit the caller's requests fall under, ``names`` how the caller names the fields.
    ``reach``: the calling key's (services/reach.py): the link records the key (``api_key_id``, what an
    authored-only key reaches later) and a domain-bound key's link goes to its domain, whatever was asked.
    ``reuse`` (Shlink's ``findIfExists``): called inside the transaction, under a lock on the owner and the
    destination, before anything is claimed; a link it returns is returned unchanged instead of a new one, so
    parallel identical requests make one link.

    Raises:
        RateLimited: over ``limit``. ValidationError: any field invalid. NotFound: the folder, or an image
        the link points at, is not the owner's. QuotaExceeded: the URL quota is used up. VanityTaken: the
        code is used. Conflict: the external id is used.
    """
    if limit is not None:
        limit.hit(rt, owner)
    urls = rt.settings.urls
    now = now or utcnow()
    kind, destination = linkfields.validate_destination(spec.destination_type, spec.destination,
                                                        urls.destination_max_length, schemes=spec.schemes)
    vanity = normalise_vanity(spec.vanity, urls.vanity_max_length, route_words(rt)) if spec.vanity else None
    max_views = validate_max_views(spec.max_views)
    password = _validate_password(spec.password)
    expires_at = _future(spec.expires_at, now, spec.past_expiry)
    valid_since = _valid_since(spec.valid_since)
    values = _extras(rt, {key: getattr(spec, key) for key in _EXTRAS}, names)
    external_id, tenant_id, partner_id = (linkfields.text_field(getattr(spec, key), field) for key, field in (
        ("external_id", "externalId"), ("tenant_id", "tenantId"), ("partner_id", "partnerId")))
    own_hosts = OwnHosts(rt.settings, host)
    own_hosts.refuse(kind, destination)
    own_hosts.refuse_rules(values["rules"])
    password_hash = rt.passwords.hash(password) if password else None
    folder_id = spec.folder_id
    domain = reach.creation_domain(spec.domain)
    if spec.or_default_folder and (folder_id is None or not folder_is_owned(owner, folder_id)):
        folder_id = folders.default_folder(owner).id
    with write_transaction(db.session):
        if reuse is not None:
            lock_key(db.session, f"reuse:{owner.id}:{destination}")
            existing = reuse()
            if existing is not None:
                return existing
        if folder_id is not None:
            folder_owned(owner, folder_id)
        _owned_images(owner, values, spec.image_id, names)
        if domain:
            check_domain(rt, owner, domain)
        reserve_url_quota(owner.id)
        slug, code = claim_slug(rt, domain, vanity, invisible=spec.invisible)
        link = Link(id=new_id(), user_id=owner.id, domain=domain, slug=slug, slug_key=slug.lower(), code=code,
                    vanity=vanity, destination=destination, destination_type=kind, views=0, max_views=max_views,
                    enabled=bool(spec.enabled), password_hash=password_hash, expires_at=expires_at,
                    title=values["title"], description=values["description"], created_at=now, updated_at=now,
                    folder_id=folder_id, image=values["image"], utm=values["utm"], external_id=external_id,
                    tenant_id=tenant_id, partner_id=partner_id, rules=values["rules"],
                    qr_options=values["qr_options"], cloaking=bool(spec.cloaking),
                    deep_linking=bool(spec.deep_linking), valid_since=valid_since,
                    forward_query=bool(spec.forward_query), crawlable=bool(spec.crawlable),
                    api_key_id=reach.key_id)
        link.smart = is_smart(kind, link.rules, link.utm, link.cloaking, link.title, link.description, link.image,
                              link.deep_linking)
        db.session.add(link)
        if values["tags"]:
            link.tags = tags_by_name(owner, values["tags"])
        try:
            db.session.flush()
        except IntegrityError as exc:
            if "external_id" in str(exc.orig):
                raise Conflict("externalId is already used by another of your links", code="external_id_exists",
                               field="externalId") from None
            raise VanityTaken() from None
        publish_after_commit(db.session, rt.events, created_event(link, owner.id, origin))
    return link


def created_event(link: Link, actor_id: str | None, origin: str | None = None) -> LinkCreated:
    """What subscribers learn of a new link (never its password hash)."""
    return LinkCreated(link_id=link.id, code=link.slug, owner_id=link.user_id, domain=link.domain or None,
                       has_password=link.password_hash is not None, max_views=link.max_views,
                       expires_at=link.expires_at, destination=link.destination, actor_id=actor_id, origin=origin)


def update_link(rt: Runtime, owner: User, link_id: str, changes: LinkChanges, now: dt.datetime | None = None, *,
                host: str = "", names: FieldNames = FieldNames(), reach: Reach = ALL) -> Link:
    """Apply ``changes`` to one of the owner's links within ``reach``; ``host`` is the Host the request came in
    on, ``names`` how the caller names the fields. (A link's domain never changes, so no key moves one off its
    domain.)

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
        normalise_vanity(vanity, urls.vanity_max_length, route_words(rt))
    max_views = validate_max_views(changes.max_views) if changes.max_views is not UNSET else UNSET
    if changes.password is not UNSET:
        password = _validate_password(changes.password)
        password_hash = rt.passwords.hash(password) if password else None
    expires_at = _future(changes.expires_at, now, changes.past_expiry) if changes.expires_at is not UNSET else UNSET
    valid_since = _valid_since(changes.valid_since) if changes.valid_since is not UNSET else UNSET
    values = _extras(rt, {key: getattr(changes, key) for key in _EXTRAS if getattr(changes, key) is not UNSET}, names)
    own_hosts = OwnHosts(rt.settings, host)
    if kind is not UNSET:
        own_hosts.refuse(kind, destination)
    if "rules" in values:
        own_hosts.refuse_rules(values["rules"])
    with write_transaction(db.session):
        link = get_owned_link(owner, link_id, reach=reach)
        if vanity is not UNSET and (vanity or None) != link.vanity:
            slug, code = claim_slug(rt, link.domain, vanity or None, exclude_id=link.id)
            link.vanity = vanity or None
            link.slug, link.slug_key = slug, slug.lower()
            if not vanity:
                link.code = code
        if changes.destination is not UNSET:
            link.destination, link.destination_type = destination, kind
        if changes.folder_id not in (UNSET, None):
            folder_owned(owner, changes.folder_id)
        if changes.folder_id is not UNSET:
            values["folder_id"] = changes.folder_id
        _owned_images(owner, values, changes.image_id, names, current=link)
        if "rules" in values:
            values["rules"] = linkfields.carry_conditions(changes.rules, values["rules"], link.rules)
        for attr in _PLAIN_CHANGES:
            if attr in values:
                setattr(link, attr, values[attr])
        if "tags" in values:
            link.tags = tags_by_name(owner, values["tags"])
        for attr in ("enabled", "cloaking", "deep_linking", "forward_query", "crawlable"):
            if getattr(changes, attr) is not UNSET:
                setattr(link, attr, bool(getattr(changes, attr)))
        if max_views is not UNSET:
            link.max_views = max_views
        if changes.password is not UNSET:
            link.password_hash = password_hash
        if expires_at is not UNSET:
            link.expires_at = expires_at
        if valid_since is not UNSET:
            link.valid_since = valid_since
        link.smart = is_smart(link.destination_type, link.rules, link.utm, link.cloaking, link.title,
                              link.description, link.image, link.deep_linking)
        link.updated_at = now
        try:
            db.session.flush()
        except IntegrityError:
            raise VanityTaken() from None
        changed = tuple(f.name for f in dataclasses.fields(changes)
                        if getattr(changes, f.name) is not UNSET and f.name != "past_expiry")
        publish_after_commit(db.session, rt.events, LinkUpdated(link_id=link.id, code=link.slug,
                                                                owner_id=link.user_id, changed=changed,
                                                                actor_id=owner.id))
    rt.link_cache.clear()
    return link


def delete_link(rt: Runtime, owner: User, link_id: str, *, reach: Reach = ALL) -> Link:
    """Delete one of the owner's links within ``reach`` and give its quota back.

    Raises:
        NotFound: no such link, or not the owner's, or out of the key's reach (no existence oracle).
    """
    with write_transaction(db.session):
        link = db.session.get(Link, link_id) if could_be_code(link_id) else None
        if link is None or link.user_id != owner.id or not reach.admits(link):
            raise NotFound("URL not found", code="url_not_found")
        # Only the request whose DELETE removed the row gives the quota back (a parallel one finds it gone).
        if not rowcount(db.session.execute(delete(Link).where(Link.id == link.id))):
            raise NotFound("URL not found", code="url_not_found")
        release_url_quota(owner.id)
        publish_after_commit(db.session, rt.events, LinkDeleted(link_id=link.id, code=link.slug,
                                                                owner_id=link.user_id, actor_id=owner.id))
    rt.link_cache.clear()
    return link
