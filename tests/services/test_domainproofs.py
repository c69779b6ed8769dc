"""Proof of a custom domain: the TXT record holding the token verifies it (a real DNS server on loopback);
anything else explains what to create and verifies nothing."""

from __future__ import annotations

import pytest

from tests.conftest import dns_overrides, fresh
from zipshort.errors import NotFound, RateLimited, Unavailable
from zipshort.models import CustomDomain
from zipshort.services import domainproofs, domains


@pytest.fixture
def overrides(dns_zone):
    return dns_overrides(dns_zone, rate_limit="3/minute")


@pytest.fixture
def claim(rt, user):
    return domains.add_custom(rt, user, "go.mine.test:8443")


def test_the_record_is_named_after_the_host_without_its_port(claim):
    assert domainproofs.challenge_record(claim) == "_zipshort-challenge.go.mine.test"


def test_the_token_in_the_txt_record_verifies_the_domain(rt, user, claim, dns_zone):
    dns_zone.txt["_zipshort-challenge.go.mine.test"] = ["unrelated", claim.verify_token]
    assert domainproofs.check_proof(rt, user, claim.id).verified
    assert fresh(CustomDomain, claim.id).verified_at is not None


def test_a_missing_or_wrong_record_says_what_to_create(rt, user, claim, dns_zone):
    with pytest.raises(domainproofs.VerificationFailed) as missing:
        domainproofs.check_proof(rt, user, claim.id)
    assert claim.verify_token in missing.value.message and "there is none yet" in missing.value.message
    dns_zone.txt["_zipshort-challenge.go.mine.test"] = ["wrong-token"]
    with pytest.raises(domainproofs.VerificationFailed, match="'wrong-token'"):
        domainproofs.check_proof(rt, user, claim.id)
    assert not fresh(CustomDomain, claim.id).verified


def test_a_failing_resolver_is_unavailable_not_a_verdict(rt, user, claim, dns_zone):
    dns_zone.servfail = True
    with pytest.raises(Unavailable):
        domainproofs.check_proof(rt, user, claim.id)
    assert not fresh(CustomDomain, claim.id).verified


def test_checks_are_rate_limited_per_user(rt, user, claim):
    for _ in range(3):
        with pytest.raises(domainproofs.VerificationFailed):
            domainproofs.check_proof(rt, user, claim.id)
    with pytest.raises(RateLimited):
        domainproofs.check_proof(rt, user, claim.id)


def test_someone_elses_claim_is_not_found(rt, claim, make_user, dns_zone):
    dns_zone.txt["_zipshort-challenge.go.mine.test"] = [claim.verify_token]
    with pytest.raises(NotFound):
        domainproofs.check_proof(rt, make_user("bob"), claim.id)
    assert not fresh(CustomDomain, claim.id).verified
