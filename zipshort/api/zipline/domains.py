"""Custom domains (zipshort's addition in the Zipline dialect's style): list, add, check the DNS proof, verify
by hand (administrators), remove."""

from __future__ import annotations

from flask import g, jsonify, request
from pydantic import Field

from zipshort.api.contract import Open, documented
from zipshort.api.zipline import bp, json_body
from zipshort.api.zipline.schemas import iso
from zipshort.auth import require_user
from zipshort.errors import ValidationError
from zipshort.http import runtime
from zipshort.models import CustomDomain
from zipshort.services import domainproofs, domains


class TxtRecord(Open):
    type: str
    name: str
    value: str


class CustomDomainObject(Open):
    """``domain_json``."""

    id: str
    hostname: str
    userId: str
    verified: bool
    verifiedAt: str | None
    createdAt: str | None
    txtRecord: TxtRecord


class DomainInput(Open):
    hostname: str


class DomainVerified(Open):
    verified: bool


class AllDomains(Open):
    all: str | None = Field(None, description="true: every user's (administrators)")


def domain_json(row: CustomDomain) -> dict:
    """A custom domain; ``txtRecord`` is the DNS record that proves it (then POST .../verify)."""
    return {
        "id": row.id,
        "hostname": row.hostname,
        "userId": row.user_id,
        "verified": row.verified,
        "verifiedAt": iso(row.verified_at) if row.verified_at else None,
        "createdAt": iso(row.created_at),
        "txtRecord": {"type": "TXT", "name": domainproofs.challenge_record(row), "value": row.verify_token},
    }


@bp.get("/user/domains")
@documented("List custom domains", query=AllDomains, responses={200: list[CustomDomainObject]})
@require_user("domains:read")
def list_domains():
    everyone = request.args.get("all") in ("1", "true") and g.user.is_administrator
    return jsonify([domain_json(d) for d in domains.list_custom(g.user, everyone=everyone)])


@bp.post("/user/domains")
@documented("Claim a custom domain", body=DomainInput, responses={201: CustomDomainObject})
@require_user("domains:write")
def add_domain():
    body = json_body()
    row = domains.add_custom(runtime(), g.user, body.get("hostname"), request.host)
    return jsonify(domain_json(row)), 201


@bp.get("/user/domains/<ident>")
@documented("Get a custom domain", responses={200: CustomDomainObject})
@require_user("domains:read")
def get_domain(ident: str):
    return jsonify(domain_json(domains.get_custom(g.user, ident)))


@bp.post("/user/domains/<ident>/verify")
@documented("Check the DNS proof", responses={200: CustomDomainObject})
@require_user("domains:write")
def check_domain(ident: str):
    return jsonify(domain_json(domainproofs.check_proof(runtime(), g.user, ident)))


@bp.patch("/user/domains/<ident>")
@documented("Mark verified by hand (administrators)", body=DomainVerified, responses={200: CustomDomainObject})
@require_user("domains:write", admin=True)
def verify_domain(ident: str):
    verified = json_body().get("verified")
    if not isinstance(verified, bool):
        raise ValidationError("verified must be a boolean", field="verified")
    return jsonify(domain_json(domains.set_verified(runtime(), g.user, ident, verified)))


@bp.delete("/user/domains/<ident>")
@documented("Remove a custom domain", responses={200: CustomDomainObject})
@require_user("domains:write")
def delete_domain(ident: str):
    return jsonify(domain_json(domains.delete_custom(runtime(), g.user, ident)))
