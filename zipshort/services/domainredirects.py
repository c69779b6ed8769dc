"""Special redirects per domain (Shlink's "not found" redirects): reading and setting the ``domain_redirects``
rows, and which domains a caller sees. Where a visitor is actually sent is the public side's business; this
only stores and shows.

A domain is named as ``links.domain`` names it: ``''`` for the platform's own hosts (Shlink's default domain),
else a custom hostname. Only an administrator sets the platform's; a custom domain's are set by its owner,
once it is verified.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError

from zipshort.database import lock_key, write_transaction
from zipshort.errors import Forbidden, NotFound, ValidationError
from zipshort.extensions import db
from zipshort.inputs import check_text
from zipshort.models import CustomDomain, DomainRedirect, Link, User, new_id, utcnow
from zipshort.services.reach import Reach

KINDS = ("base_url", "regular_404", "invalid_short_url")
MAX_TARGET = 2048


@dataclass(frozen=True)
class Redirects:
    """The three targets of one domain (None: not set)."""

    base_url: str | None = None
    regular_404: str | None = None
    invalid_short_url: str | None = None


def redirects_of(names: list[str]) -> dict[str, Redirects]:
    """The stored redirects of these domains (a domain without a row is missing)."""
    if not names:
        return {}
    rows = db.session.scalars(select(DomainRedirect).where(DomainRedirect.domain.in_(names)))
    return {row.domain: Redirects(row.base_url, row.regular_404, row.invalid_short_url) for row in rows}


def visible_domains(owner: User, reach: Reach) -> tuple[bool, list[str]]:
    """Whether the caller sees the platform's domain, and the custom hostnames it sees (sorted): the owner's
    verified custom domains; an authored-only key only those holding a link it made; a domain key only its own."""
    if reach.domain is not None:
        return reach.domain == "", [reach.domain] if reach.domain else []
    cond: list[Any] = [CustomDomain.user_id == owner.id, CustomDomain.verified_at.is_not(None)]
    if reach.authored_only:
        cond.append(exists().where(Link.domain == CustomDomain.hostname, Link.user_id == owner.id,
                                   Link.api_key_id == reach.key_id))
    names = db.session.scalars(select(CustomDomain.hostname).where(*cond).distinct())
    return True, sorted(set(names))


def _target(value: object, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_TARGET:
        raise ValidationError(f"{field} must be text of at most {MAX_TARGET} characters", field=field)
    return check_text(value, field).strip() or None


def set_redirects(actor: User, domain: str, changes: dict[str, object]) -> Redirects:
    """Set some of ``domain``'s redirects (``changes``: kind → target, None clears; kinds not given are kept);
    the row is created when missing. Returns all three.

    Raises:
        ValidationError: a target that is not text (the field named by its kind). Forbidden: the platform's
        redirects by someone who is not an administrator. NotFound (``domain_not_found``): not a verified
        custom domain of the actor's.
    """
    values = {kind: _target(value, kind) for kind, value in changes.items() if kind in KINDS}
    if domain == "":
        if not actor.is_administrator:
            raise Forbidden("Only an administrator sets the default domain's redirects", code="not_admin")
    elif not db.session.scalar(select(exists().where(CustomDomain.hostname == domain,
                                                     CustomDomain.user_id == actor.id,
                                                     CustomDomain.verified_at.is_not(None)))):
        raise NotFound("Domain not found", code="domain_not_found")
    for _ in range(2):  # a parallel first write of the same domain: the second attempt updates its row
        try:
            with write_transaction(db.session):
                lock_key(db.session, f"domain-redirects:{domain}")
                row = db.session.scalars(select(DomainRedirect).where(DomainRedirect.domain == domain)).first()
                if row is None:
                    row = DomainRedirect(id=new_id(), domain=domain)
                    db.session.add(row)
                for kind, value in values.items():
                    setattr(row, kind, value)
                row.updated_at = utcnow()
                db.session.flush()
                return Redirects(row.base_url, row.regular_404, row.invalid_short_url)
        except IntegrityError:
            continue
    raise NotFound("Domain not found", code="domain_not_found")  # pragma: no cover - two lost races in a row
