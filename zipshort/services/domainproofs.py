"""Proofs that a user controls a custom domain's name.

The user creates the DNS TXT record ``_zipshort-challenge.<host>`` holding the domain's token and asks for a
check, which looks the record up through the system's resolver or the configured nameservers
(``domain_verification``). Only whoever controls the name's DNS can do that; a request's Host header, by
contrast, is whatever the client sends, which is why arriving "through the name" proves nothing. With
``domain_verification.http_check`` the check also accepts the token served at
``http://<host>/.well-known/zipshort-challenge.txt``, fetched through the SSRF guard (``outbound``).
"""

from __future__ import annotations

from zipshort.errors import ZipshortError
from zipshort.events import DomainVerificationFailed
from zipshort.extensions import db
from zipshort.models import CustomDomain, User
from zipshort.outbound import DestinationRefused, FetchFailed, fetch, txt_values
from zipshort.runtime import Runtime
from zipshort.services import domains

CHALLENGE_PREFIX = "_zipshort-challenge."
HTTP_PROOF_PATH = "/.well-known/zipshort-challenge.txt"


class VerificationFailed(ZipshortError):
    """The proof of a custom domain is not there (yet)."""

    status = 422
    code = "verification_failed"


def challenge_record(row: CustomDomain) -> str:
    """The DNS name whose TXT record proves ``row``: ``_zipshort-challenge.<host>`` (a port is not part of it)."""
    return CHALLENGE_PREFIX + row.hostname.partition(":")[0]


def check_proof(rt: Runtime, actor: User, ident: str) -> CustomDomain:
    """Verify custom domain ``ident`` when the TXT record :func:`challenge_record` holds its token (or, with
    ``http_check``, the HTTP proof does).

    Raises:
        NotFound. RateLimited: too many checks by ``actor``. Unavailable: the DNS look-up failed.
        VerificationFailed: no such record (the message names the record and value expected).
        Conflict: another account proved the name first, or still has links on it.
    """
    row = domains.get_custom(actor, ident)
    if row.verified:
        return row
    section = rt.settings.domain_verification
    rt.limiter.hit(section.rate_limit, "domain-verify", actor.id,
                   message="Too many verification checks; DNS changes can take a few minutes, try again later")
    record, token, row_id, hostname = challenge_record(row), row.verify_token, row.id, row.hostname
    session = db.session()
    if session.in_transaction():
        session.commit()  # no read transaction stays open while the resolver answers
    found = txt_values(record, section.nameservers, section.timeout)
    if token in found:
        return domains.mark_verified(rt, row_id, True, actor_id=actor.id)
    seen = f" (it holds: {', '.join(repr(v) for v in found[:5])})" if found else " (there is none yet)"
    message = (f"Expected a DNS TXT record {record} with the value {token}{seen}. Create it at your DNS provider "
               "and check again; changes can take a few minutes to show.")
    if section.http_check:
        served, why = _http_proof(rt, hostname, token)
        if served:
            return domains.mark_verified(rt, row_id, True, actor_id=actor.id)
        message += f" Or serve the value at http://{hostname}{HTTP_PROOF_PATH} ({why})."
    rt.events.publish(DomainVerificationFailed(domain_id=row_id, hostname=hostname, owner_id=row.user_id,
                                               reason="no_proof", actor_id=actor.id))  # nothing changed to commit
    raise VerificationFailed(message)


def _http_proof(rt: Runtime, hostname: str, token: str) -> tuple[bool, str]:
    """Whether ``http://<hostname>/.well-known/zipshort-challenge.txt`` holds ``token``, and why not.

    zipshort never serves that path (config refuses routes under /.well-known), so an answer comes from
    whoever runs the name's web server. The request goes through the SSRF guard.
    """
    guard = rt.settings.outbound
    try:
        got = fetch(f"http://{hostname}{HTTP_PROOF_PATH}", allowed_networks=guard.allowed_networks,
                    timeout=guard.timeout, max_bytes=4096)
    except (DestinationRefused, FetchFailed) as exc:
        return False, exc.message
    if got.status != 200:
        return False, f"it answered {got.status}"
    return token in got.body.decode("utf-8", "replace").split(), "it does not hold the value"
