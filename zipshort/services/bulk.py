"""Many links in one request (hoko): validated as a whole, created all-or-nothing with bulk inserts.

Every item is checked before anything is written; the first bad item fails the request with its
index and nothing is created. Then one write transaction checks collections and external ids with
a few set queries, reserves the whole count against the URL quota (one conditional UPDATE), draws
codes that are free and inserts every row in batches (SQLAlchemy's insertmanyvalues), not one round
trip per link.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, or_, update
from sqlalchemy.exc import IntegrityError

from zipshort.codes import random_code
from zipshort.database import existing_values, publish_after_commit, rowcount, write_transaction
from zipshort.destinations import LOOP_MESSAGE, OwnHosts, validate_web_url
from zipshort.errors import QuotaExceeded, Unavailable, ValidationError
from zipshort.events import LinkCreated
from zipshort.extensions import db
from zipshort.models import Folder, Link, User, new_id, utcnow
from zipshort.runtime import Runtime
from zipshort.services import linkfields
from zipshort.services.links import is_smart
from zipshort.services.reach import ALL, Reach

HARD_LIMIT = 10_000
UUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")


class ItemError(ValidationError):
    """One item of a bulk request is invalid; ``index`` says which."""

    def __init__(self, index: int, message: str, field: str | None = None) -> None:
        super().__init__(f"links[{index}]: {message}", code="invalid_link", field=field)
        self.index = index


@dataclass(frozen=True)
class BulkLink:
    """One validated item."""

    url: str
    collection_id: str
    title: str | None
    description: str | None
    image: str | None
    utm: dict[str, str] | None
    external_id: str | None
    tenant_id: str | None
    partner_id: str | None


def _item(index: int, raw: Any, max_length: int) -> BulkLink:
    if not isinstance(raw, dict):
        raise ItemError(index, "must be an object")
    try:
        url = validate_web_url(raw.get("url"), max_length)
        collection = raw.get("collectionId")
        if not isinstance(collection, str) or len(collection) != 36:
            raise ValidationError("collectionId is required (a collection id)", field="collectionId")
        partner = raw.get("partnerId")
        if partner is not None and (not isinstance(partner, str) or not UUID.fullmatch(partner)):
            raise ValidationError("partnerId must be a UUID", field="partnerId")
        return BulkLink(
            url=url, collection_id=collection.lower(),
            title=linkfields.text_field(raw.get("title"), "title"),
            description=linkfields.text_field(raw.get("description"), "description", 2000, multiline=True),
            image=linkfields.image_url(raw.get("image"), max_length),
            utm=linkfields.validate_utm(raw.get("utm")),
            external_id=linkfields.text_field(raw.get("externalId"), "externalId"),
            tenant_id=linkfields.text_field(raw.get("tenantId"), "tenantId"),
            partner_id=partner.lower() if isinstance(partner, str) else None)
    except ValidationError as exc:
        raise ItemError(index, exc.message.replace("Destination", "url"), exc.field) from None


def validate(rt: Runtime, items: Any, host: str = "") -> list[BulkLink]:
    """Check the whole request; raise for the first bad item (with its index). ``host``: the request's Host."""
    limit = min(HARD_LIMIT, rt.settings.urls.bulk_max_per_request or HARD_LIMIT)
    if not isinstance(items, list) or not items:
        raise ValidationError("The body must be a non-empty array of links", code="invalid_body")
    if len(items) > limit:
        raise ValidationError(f"At most {limit} links per request", code="too_many_links")
    out = [_item(i, raw, rt.settings.urls.destination_max_length) for i, raw in enumerate(items)]
    own_hosts = OwnHosts(rt.settings, host)
    for i, item in enumerate(out):
        if own_hosts.points_home(item.url):
            raise ItemError(i, f"url {LOOP_MESSAGE}", "url")
    seen: dict[str, int] = {}
    for i, item in enumerate(out):
        if item.external_id is not None:
            if item.external_id in seen:
                raise ItemError(i, f"externalId repeats links[{seen[item.external_id]}]", "externalId")
            seen[item.external_id] = i
    return out


def _free_codes(rt: Runtime, n: int) -> list[str]:
    """n random codes, distinct, none used yet (checked in batches; collisions redrawn)."""
    urls = rt.settings.urls
    codes: dict[str, str] = {}
    for _ in range(20):
        while len(codes) < n:
            code = random_code(urls.length, urls.alphabet)
            codes.setdefault(code.lower(), code)
        taken = existing_values(db.session, Link.slug_key, list(codes))
        if not taken:
            return list(codes.values())
        for key in taken:
            del codes[key]
    raise Unavailable("Could not find enough free codes; raise urls.length", code="codes_exhausted")


@dataclass(frozen=True)
class Created:
    """One created link as the caller sees it (plain data: building 10,000 ORM objects cost half the time)."""

    id: str
    slug: str
    destination: str
    title: str | None
    description: str | None
    folder_id: str
    created_at: dt.datetime
    domain: str = ""  # '' (every platform host) unless a domain-bound key put it on its domain


def create_links(rt: Runtime, owner: User, items: Any, now: dt.datetime | None = None, *,
                 host: str = "", reach: Reach = ALL) -> list[Created]:
    """The door: check the request as a whole (:func:`validate`; ``host`` is the request's Host), then create
    every link or none (:func:`create`). ``reach``: the calling key's (services/reach.py): every link records
    the key, and a domain-bound key's links go to its domain.

    Raises:
        ValidationError: the body is not a list of links, or too long. ItemError: an invalid item (bad fields, a
        collection or external id that is not the owner's or is used). QuotaExceeded.
    """
    return create(rt, owner, validate(rt, items, host), now, reach=reach)


def create(rt: Runtime, owner: User, items: list[BulkLink], now: dt.datetime | None = None, *,
           reach: Reach = ALL) -> list[Created]:
    """Create every checked link or none. Raises ItemError (bad collection or external id), QuotaExceeded."""
    now = now or utcnow()
    for attempt in range(3):
        try:
            return _create(rt, owner, items, now, reach)
        except IntegrityError:  # a concurrent writer took a code between our check and insert
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _create(rt: Runtime, owner: User, items: list[BulkLink], now: dt.datetime, reach: Reach) -> list[Created]:
    with write_transaction(db.session):
        collections = sorted({i.collection_id for i in items})
        owned = existing_values(db.session, Folder.id, collections, Folder.user_id == owner.id)
        for index, item in enumerate(items):
            if item.collection_id not in owned:
                raise ItemError(index, "collectionId does not exist in your workspace", "collectionId")
        external = [i.external_id for i in items if i.external_id is not None]
        used = existing_values(db.session, Link.external_id, external, Link.user_id == owner.id) if external else set()
        for index, item in enumerate(items):
            if item.external_id in used:
                raise ItemError(index, "externalId is already used in your workspace", "externalId")
        _reserve(rt, owner.id, len(items))
        codes = _free_codes(rt, len(items))
        domain = reach.creation_domain("")
        rows: list[dict[str, Any]] = [{
            "id": new_id(), "user_id": owner.id, "domain": domain, "slug": code, "slug_key": code.lower(), "code": code,
            "vanity": None, "destination": item.url, "destination_type": "link", "views": 0, "max_views": None,
            "enabled": True, "password_hash": None, "expires_at": None, "title": item.title,
            "description": item.description, "image": item.image, "utm": item.utm, "external_id": item.external_id,
            "tenant_id": item.tenant_id, "partner_id": item.partner_id, "folder_id": item.collection_id,
            "cloaking": False, "deep_linking": False, "qr_options": None, "rules": None,
            "smart": is_smart("link", None, item.utm, False, item.title, item.description, item.image),
            "created_at": now, "updated_at": now, "api_key_id": reach.key_id,
        } for item, code in zip(items, codes, strict=True)]
        db.session.execute(insert(Link.__table__), rows)  # Core insert: no ORM bookkeeping per row
        publish_after_commit(db.session, rt.events, *(LinkCreated(
            link_id=row["id"], code=row["slug"], owner_id=owner.id, domain=domain or None,
            destination=row["destination"], actor_id=owner.id, bulk=True)
            for row in rows))
    return [Created(row["id"], row["slug"], row["destination"], row["title"], row["description"], row["folder_id"],
                    now, row["domain"]) for row in rows]


def _reserve(rt: Runtime, owner_id: str, n: int) -> None:
    """Count n more links against the user's URL quota and the plan's total, atomically."""
    plan = rt.settings.urls.bulk_max_links
    cond = [User.id == owner_id, or_(User.quota_max_urls.is_(None), User.url_count + n <= User.quota_max_urls)]
    if plan:
        cond.append(User.url_count + n <= plan)
    result = db.session.execute(update(User).where(*cond).values(url_count=User.url_count + n)
                                .execution_options(synchronize_session=False))
    if rowcount(result) != 1:
        raise QuotaExceeded(f"Creating {n} links would exceed your link limit", code="quota_exceeded")
