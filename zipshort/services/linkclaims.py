"""What creating or editing a link claims, inside the door's write transaction: a code on a domain, a
custom domain, one unit of the owner's URL quota, the owner's folder and tags.

Rules enforced by the database (ARCHITECTURE.md): the URL quota is one conditional UPDATE of the
owner's counter; a code is unique per domain by constraint, and the cross-domain rule (a domain-less
link answers on every host) is checked under a per-code lock.
"""

from __future__ import annotations

from sqlalchemy import exists, or_, select, update

from zipshort.codes import could_be_code, invisible_code, random_code
from zipshort.database import lock_key, rowcount
from zipshort.errors import NotFound, QuotaExceeded, Unavailable, ValidationError, VanityTaken
from zipshort.extensions import db
from zipshort.models import CustomDomain, Folder, Link, Tag, User, new_id
from zipshort.runtime import Runtime

RANDOM_ATTEMPTS = 10
TAG_COLORS = ("#3B82F6", "#10B981", "#F59E0B", "#EF4444", "#8B5CF6", "#EC4899", "#14B8A6", "#F97316")


def route_words(rt: Runtime) -> frozenset[str]:
    """The configured routes' first segments, reserved like the built-in words."""
    routes = (rt.settings.urls.route, rt.settings.files.route)
    return frozenset(route.strip("/").split("/")[0].lower() for route in routes)


def slug_taken(domain: str, key: str, exclude_id: str | None = None) -> bool:
    """Whether ``key`` is used on ``domain`` (a domain-less code conflicts with every domain)."""
    cond = [Link.slug_key == key]
    if domain:
        cond.append(Link.domain.in_(("", domain)))
    if exclude_id:
        cond.append(Link.id != exclude_id)
    return bool(db.session.scalar(select(exists().where(*cond))))


def claim_slug(rt: Runtime, domain: str, vanity: str | None, exclude_id: str | None = None,
               invisible: bool = False) -> tuple[str, str]:
    """Inside a write transaction: lock and check a code; return (slug, random code).

    Raises:
        VanityTaken: the vanity is used. Unavailable: no free random code after several tries.
    """
    urls = rt.settings.urls
    if vanity is not None:
        key = vanity.lower()
        lock_key(db.session, f"slug:{key}")
        if slug_taken(domain, key, exclude_id):
            raise VanityTaken()
        return vanity, random_code(urls.length, urls.alphabet)
    for _ in range(RANDOM_ATTEMPTS):
        code = invisible_code(urls.length) if invisible else random_code(urls.length, urls.alphabet)
        lock_key(db.session, f"slug:{code.lower()}")
        if not slug_taken(domain, code.lower(), exclude_id):
            return code, code
    raise Unavailable("Could not find a free random code; raise urls.length", code="codes_exhausted")


def check_domain(rt: Runtime, owner: User, hostname: str) -> None:
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


def reserve_url_quota(owner_id: str) -> None:
    """Atomically count one more link against the owner's quota, or raise QuotaExceeded."""
    result = db.session.execute(
        update(User).where(User.id == owner_id,
                           or_(User.quota_max_urls.is_(None), User.url_count < User.quota_max_urls))
        .values(url_count=User.url_count + 1)
        .execution_options(synchronize_session=False))
    if rowcount(result) != 1:
        limit = db.session.scalar(select(User.quota_max_urls).where(User.id == owner_id))
        raise QuotaExceeded(f"Shortening this URL would exceed your quota of {limit} URLs.")


def release_url_quota(owner_id: str) -> None:
    """Give one link's quota back (never below zero)."""
    db.session.execute(update(User).where(User.id == owner_id, User.url_count > 0)
                       .values(url_count=User.url_count - 1).execution_options(synchronize_session=False))


def folder_is_owned(owner: User, folder_id: object) -> bool:
    """Whether ``folder_id`` is one of the owner's folders."""
    folder = db.session.get(Folder, folder_id) if isinstance(folder_id, str) and could_be_code(folder_id) else None
    return folder is not None and folder.user_id == owner.id


def folder_owned(owner: User, folder_id: str) -> None:
    """Raise NotFound unless ``folder_id`` is one of the owner's folders."""
    if not folder_is_owned(owner, folder_id):
        raise NotFound("Folder not found", code="folder_not_found", field="folderId")


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
