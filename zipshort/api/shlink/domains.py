"""Shlink's domains: the default domain and the caller's custom domains with their special redirects, and
setting a domain's redirects (stored here; the public side sends visitors by them)."""

from __future__ import annotations

from typing import Any

from flask import Response

from zipshort.api.contract import Open, documented
from zipshort.api.shlink.common import (
    body,
    caller,
    default_host,
    invalid,
    link_domain,
    ok,
    problem,
    reach,
    shlink_route,
)
from zipshort.auth import require_user
from zipshort.errors import NotFound, ValidationError
from zipshort.http import runtime
from zipshort.services import domainredirects, domains

# Shlink's names of the three redirects → the stored kinds.
KINDS = {"baseUrlRedirect": "base_url", "regular404Redirect": "regular_404",
         "invalidShortUrlRedirect": "invalid_short_url"}


class DomainRedirects(Open):
    baseUrlRedirect: str | None
    regular404Redirect: str | None
    invalidShortUrlRedirect: str | None


class ShlinkDomain(Open):
    domain: str
    isDefault: bool
    redirects: DomainRedirects


class DomainList(Open):
    data: list[ShlinkDomain]
    defaultRedirects: DomainRedirects


class DomainListAnswer(Open):
    domains: DomainList


class DomainRedirectsEdit(Open):
    domain: str
    baseUrlRedirect: str | None = None
    regular404Redirect: str | None = None
    invalidShortUrlRedirect: str | None = None


def _redirects(found: domainredirects.Redirects | None) -> dict[str, Any]:
    found = found or domainredirects.Redirects()
    return {name: getattr(found, kind) for name, kind in KINDS.items()}


@shlink_route("/domains", ["GET"])
@documented("List domains", responses={200: DomainListAnswer})
@require_user("domains:read")
def list_domains() -> Response:
    platform, custom = domainredirects.visible_domains(caller(), reach())
    stored = domainredirects.redirects_of([""] + custom)
    data = [{"domain": default_host(), "isDefault": True, "redirects": _redirects(stored.get(""))}] if platform else []
    data += [{"domain": name, "isDefault": False, "redirects": _redirects(stored.get(name))} for name in custom]
    urls = runtime().settings.urls
    defaults = {"baseUrlRedirect": urls.base_url_redirect or None, "regular404Redirect": urls.regular_404_redirect
                or None, "invalidShortUrlRedirect": urls.invalid_short_url_redirect or None}
    return ok({"domains": {"data": data, "defaultRedirects": defaults}})


@shlink_route("/domains/redirects", ["PATCH"])
@documented("Set a domain's special redirects", body=DomainRedirectsEdit, responses={200: DomainRedirects})
@require_user("domains:write")
def edit_domain_redirects() -> Response:
    data = body()
    asked = data.get("domain")
    try:
        authority = domains.normalise_hostname(asked)
    except ValidationError:
        raise invalid("domain") from None
    bad = [name for name in KINDS if data.get(name) is not None and not isinstance(data[name], str)]
    if bad:
        raise invalid(bad)
    domain = link_domain(authority)
    key_reach = reach()
    not_found = problem(404, "domain_not_found", f'Domain with authority "{authority}" could not be found',
                        authority=authority)
    if key_reach.domain is not None and key_reach.domain != domain:
        raise not_found
    changes = {kind: data[name] for name, kind in KINDS.items() if name in data}
    try:
        row = domains.set_domain_redirects(runtime(), caller(), domain, changes)
    except NotFound:
        raise not_found from None
    except ValidationError as exc:
        raise invalid(next((name for name, kind in KINDS.items() if kind == exc.field), "domain")) from None
    return ok(_redirects(domainredirects.Redirects(row.base_url, row.regular_404, row.invalid_short_url)))
