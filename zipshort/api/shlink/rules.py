"""Shlink's redirect rules of a short URL: ``GET``, ``POST`` and ``PATCH`` ``/short-urls/{shortCode}/redirect-rules``.

The stored rules are read flat (services/redirectrules.py: h0p's lists multiplied out into conditions) and a
write replaces them all with the rules sent, priorities 1..n in array order. See docs/shlink-rules.md.
"""

from __future__ import annotations

from typing import Any

from flask import Response, request

from zipshort.api.contract import Open, WebUrl, documented
from zipshort.api.shlink.common import body, caller, find_short_url, invalid, ok, shlink_route
from zipshort.auth import require_user
from zipshort.errors import ValidationError
from zipshort.http import runtime
from zipshort.models import Link
from zipshort.services import redirectrules
from zipshort.services.links import FieldNames

PATH = "/short-urls/<code>/redirect-rules"
NAMES = FieldNames(rules="redirectRules")
ELEMENTS = {"destination": "longUrl"}  # the leaf at fault (services' name) → Shlink's name in invalidElements


class RuleCondition(Open):
    type: str
    matchKey: str | None
    matchValue: str | None


class RedirectRule(Open):
    longUrl: str
    priority: int
    conditions: list[RuleCondition]


class RedirectRules(Open):
    """``rules_json``."""

    defaultLongUrl: str
    redirectRules: list[RedirectRule]


class RuleInput(Open):
    longUrl: WebUrl
    conditions: list[dict[str, Any]]


class RedirectRulesInput(Open):
    redirectRules: list[RuleInput]


def rules_json(link: Link) -> dict[str, Any]:
    """``{defaultLongUrl, redirectRules}``, rules by priority, each condition's keys in Shlink's order."""
    return {"defaultLongUrl": redirectrules.default_url(link),
            "redirectRules": [{"longUrl": rule.url, "priority": rule.priority,
                               "conditions": [{"type": c["type"], "matchKey": c.get("matchKey"),
                                               "matchValue": c.get("matchValue")} for c in rule.conditions]}
                              for rule in redirectrules.flatten(link.rules)]}


def _rule(item: Any) -> Any:
    """One rule of the body as the door takes it (anything but an object is left for the door to refuse)."""
    if not isinstance(item, dict):
        return item
    return {"destination": redirectrules.destination_of(item.get("longUrl")), "conditions": item.get("conditions")}


@shlink_route(PATH, ["GET"])
@documented("A short URL's redirect rules", responses={200: RedirectRules})
@require_user("links:read")
def get_redirect_rules(code: str) -> Response:
    return ok(rules_json(find_short_url(code)))


@shlink_route(PATH, ["POST", "PATCH"])
@documented("Replace a short URL's redirect rules", body=RedirectRulesInput, responses={200: RedirectRules})
@require_user("links:write")
def set_redirect_rules(code: str) -> Response:
    link = find_short_url(code)  # an unknown code is a 404 before the body is judged (§6.1)
    given = body().get("redirectRules")
    if not isinstance(given, list):
        raise invalid("redirectRules")
    try:
        link = redirectrules.set_rules(runtime(), caller(), link.id, [_rule(item) for item in given],
                                       host=request.host, names=NAMES)
    except ValidationError as exc:
        element = exc.extra.get("element")
        raise invalid(ELEMENTS.get(element, element) if element else "redirectRules", exc.message) from None
    return ok(rules_json(link))
